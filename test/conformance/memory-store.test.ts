// Store conformance suite on MemoryStore.
import { storeFactory } from '../helpers/stores';
import { describeChangeLog } from './describe-change-log';
import { describeStore } from './describe-store';

describeStore('memory', storeFactory('memory'));
describeChangeLog('memory', storeFactory('memory'));
