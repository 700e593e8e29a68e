// Store conformance suite on RedisStore over a 3-master Redis Cluster.
import { describeStore } from './describe-store';

describeStore('cluster');
