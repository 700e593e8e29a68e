// Node's device key for DPoP: the private JWK kept in the TokenStorage beside the device id (a FileStorage file is 0600), imported as a non-extractable CryptoKey.
import { generateKeyPairSync } from 'node:crypto';
import { ECDSA_P256, isPublicEcJwk, type LoadedDpopKey, publicMembers, subtle } from './dpop';
import { MemoryStorage, type TokenStorage, warnDpopKeyNotKept } from './storage';

/** A stored P-256 private JWK: the public members and `d` (a 32-byte scalar in base64url). */
interface PrivateEcJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  d: string;
}

function parsePrivateJwk(text: string | undefined): PrivateEcJwk | undefined {
  if (text === undefined) return undefined;
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    if (!isPublicEcJwk(o) || typeof o.d !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(o.d))
      return undefined;
    return { ...publicMembers(o), d: o.d };
  } catch {
    return undefined;
  }
}

function generatePrivateJwk(): PrivateEcJwk {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const parsed = parsePrivateJwk(JSON.stringify(jwk));
  if (!parsed) throw new Error('node:crypto exported an unexpected P-256 JWK');
  return parsed;
}

/**
 * The device key stored under `key` in `storage`, generated and stored on first use (the caller
 * holds the device lock, so processes sharing a FileStorage agree on one). The private JWK is
 * read once and imported as a non-extractable CryptoKey: after that the process signs with a key
 * nothing can read back. In a MemoryStorage it lasts as long as the process (said once).
 * `created` when it was generated now.
 */
export async function storedDpopKey(storage: TokenStorage, key: string): Promise<LoadedDpopKey> {
  let jwk = parsePrivateJwk(await storage.get(key));
  const created = !jwk;
  if (!jwk) {
    jwk = generatePrivateJwk();
    await storage.set(key, JSON.stringify(jwk));
    if (storage instanceof MemoryStorage) warnDpopKeyNotKept();
  }
  const privateKey = await subtle().importKey('jwk', jwk, ECDSA_P256, false, ['sign']);
  return { key: { privateKey, jwk: publicMembers(jwk) }, created };
}
