// Store conformance suite on RedisStore over a standalone Redis.
import { describeStore } from './describe-store';

describeStore('redis');
