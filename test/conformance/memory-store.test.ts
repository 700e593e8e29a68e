// Store conformance suite on MemoryStore.
import { describeStore } from './describe-store';

describeStore('memory');
