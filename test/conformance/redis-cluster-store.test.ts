// Store conformance suite on RedisStore over a 3-master Redis Cluster.
import { storeFactory } from '../helpers/stores';
import { describeChangeLog } from './describe-change-log';
import { describeStore } from './describe-store';

describeStore('cluster', storeFactory('cluster'));
describeChangeLog('cluster', storeFactory('cluster'));
