// Store conformance suite on MemoryStore.
import { storeFactory } from '../helpers/stores';
import { describeStore } from './describe-store';

describeStore('memory', storeFactory('memory'));
