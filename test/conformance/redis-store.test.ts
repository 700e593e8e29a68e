// Store conformance suite on RedisStore over a standalone Redis.
import { storeFactory } from '../helpers/stores';
import { describeChangeLog } from './describe-change-log';
import { describeStore } from './describe-store';

describeStore('redis', storeFactory('redis'));
describeChangeLog('redis', storeFactory('redis'));
