// DPoP proofs made by hand with jose (RFC 9449 §4.2): an independent implementation to test ours against.
import { createHash, randomBytes } from 'node:crypto';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type JWK,
  type KeyLike,
  SignJWT,
} from 'jose';

export interface DpopKey {
  privateKey: KeyLike;
  publicJwk: JWK;
  /** RFC 7638 thumbprint, as jose computes it. */
  jkt: string;
  alg: string;
}

/** A fresh key pair for proofs (ES256 unless told). */
export async function dpopKey(alg = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk), alg };
}

export interface ProofClaims {
  htm: string;
  htu: string;
  /** The access token to hash into `ath` (resource requests). */
  accessToken?: string;
  nonce?: string;
  /** Epoch seconds (default: now). */
  iat?: number;
  jti?: string;
  /** Extra or overriding claims. */
  extra?: Record<string, unknown>;
  /** Extra or overriding header members (e.g. a `jwk` with a private part, another `typ`). */
  header?: Record<string, unknown>;
}

/** base64url SHA-256 of the token: the `ath` claim. */
export const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

/** A proof signed with `key`. */
export async function proof(key: DpopKey, c: ProofClaims): Promise<string> {
  return new SignJWT({
    htm: c.htm,
    htu: c.htu,
    jti: c.jti ?? randomBytes(16).toString('base64url'),
    ...(c.accessToken !== undefined ? { ath: ath(c.accessToken) } : {}),
    ...(c.nonce !== undefined ? { nonce: c.nonce } : {}),
    ...c.extra,
  })
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.publicJwk, ...c.header })
    .setIssuedAt(c.iat ?? Math.floor(Date.now() / 1000))
    .sign(key.privateKey);
}
