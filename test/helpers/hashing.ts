// The scrypt cost the test servers hash at: N=2^14 instead of the default 2^17 keeps the suite fast
// (a seed hashes six secrets); test/integration/password-hashing.test.ts checks the default itself.
import type { PasswordHashingOptions } from '../../lib';

/** `passwordHashing` for test servers. */
export const TEST_HASHING: PasswordHashingOptions = Object.freeze({ scryptCost: 14 });
