// The keyEncryptionSecret every test server on a shared store (RedisStore) seals its signing keys with.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { AuthServerOptions, Store } from '../../lib';
import { KeySealer } from '../../lib/tokens/key-sealing';

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

/**
 * The private signing key `kid` as a test server stored it (opened with the test secret when
 * sealed), for tests that forge tokens with the server's very own key.
 */
export async function storedSigningKey(store: Store, kid?: string): Promise<KeyObject> {
  const records = await store.getSigningKeys();
  const record = kid === undefined ? records[0] : records.find((k) => k.kid === kid);
  const jwk =
    record?.privateJwk ??
    (record?.sealedPrivateJwk !== undefined
      ? new KeySealer(TEST_KEY_SECRET).open(record.sealedPrivateJwk, record.kid)
      : undefined);
  if (!jwk) throw new Error('the signing key is not in the store');
  return createPrivateKey({ key: jwk as never, format: 'jwk' });
}
