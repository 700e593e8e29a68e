// Store conformance suite on RedisStore over a standalone Redis.
import { storeFactory } from '../helpers/stores';
import { describeStore } from './describe-store';

describeStore('redis', storeFactory('redis'));
