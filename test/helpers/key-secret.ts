// The keyEncryptionSecret every test server on a shared store (RedisStore) seals its signing keys with.
import type { AuthServerOptions, Store } from '../../lib';

/** A fixed test secret (at least 32 characters); never used outside tests. */
export const TEST_KEY_SECRET = 'tokenward-test-key-encryption-secret-0123456789';

/**
 * What a test server needs to keep its signing keys at rest: `keyEncryptionSecret` on a shared
 * store unless the options already say how (a secret, `keys`, or `insecureClearKeys`).
 *
 * @example createAuthServer({ issuer, store, ...keysAtRest(store, options), ...options })
 */
export function keysAtRest(
  store: Store | undefined,
  options: Partial<AuthServerOptions> = {},
): { keyEncryptionSecret?: string } {
  const chosen =
    options.keyEncryptionSecret !== undefined ||
    options.keys !== undefined ||
    options.insecureClearKeys !== undefined;
  return store?.shared && !chosen ? { keyEncryptionSecret: TEST_KEY_SECRET } : {};
}
