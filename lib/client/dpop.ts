// DPoP proofs (RFC 9449 §4): ES256 JWTs signed with the device key, Web Crypto only, so Node and browsers share them.
import { ConfigError } from '../errors';
import { base64url, randomToken } from './pkce';

/** The public members of a P-256 key, as a proof's `jwk` header carries them (RFC 7518 §6.2.1). */
export interface PublicEcJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

/**
 * The device's proof-of-possession key: a non-extractable private key for signing, and the public
 * members that go in every proof.
 */
export interface DpopKey {
  /** ECDSA P-256 private key with usage `sign`; never extractable. */
  privateKey: CryptoKey;
  jwk: PublicEcJwk;
}

/** A device key as its key store hands it out: `created` when it was made just now, none being kept. */
export interface LoadedDpopKey {
  key: DpopKey;
  /** True when no key was kept for the issuer and this one was generated (and stored) now. */
  created: boolean;
}

/** What one proof binds: the request (method and URL), and the access token and nonce when sent. */
export interface ProofClaims {
  /** The request's HTTP method, as sent (`htm`). */
  method: string;
  /** The request's URL; its query and fragment are dropped (`htu`, RFC 9449 §4.2). */
  url: string;
  /** Epoch seconds (`iat`). */
  iat: number;
  /** The server's last `DPoP-Nonce` for this origin (RFC 9449 §8). */
  nonce?: string;
  /** At a resource server: the access token, whose hash goes in `ath` (RFC 9449 §4.2). */
  accessToken?: string;
}

export const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** `crypto.subtle`, or a ConfigError saying why there is none (browsers give it to secure contexts only). */
export function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s)
    throw new ConfigError(
      'TokenManager: dpop needs crypto.subtle, which browsers give only to secure contexts (https, or http://localhost)',
    );
  return s;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const encodeJson = (v: unknown) => base64url(utf8(JSON.stringify(v)));

/** Whether `jwk` has the public members of a P-256 key (each a 32-byte base64url coordinate). */
export function isPublicEcJwk(jwk: unknown): jwk is PublicEcJwk {
  if (!jwk || typeof jwk !== 'object') return false;
  const k = jwk as Record<string, unknown>;
  const coordinate = (v: unknown) => typeof v === 'string' && /^[A-Za-z0-9_-]{43}$/.test(v);
  return k.kty === 'EC' && k.crv === 'P-256' && coordinate(k.x) && coordinate(k.y);
}

/** Only the public members: a JWK export may carry `d`, `key_ops`, `ext`, which a proof must not. */
export function publicMembers(jwk: PublicEcJwk): PublicEcJwk {
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
}

/** RFC 9449 §4.2 `htu`: the URL without query and fragment. */
export function htu(url: string | URL): string {
  const u = new URL(url);
  u.search = '';
  u.hash = '';
  return u.href;
}

/** RFC 9449 §4.2 `ath`: base64url SHA-256 of the access token's ASCII octets. */
export async function accessTokenHash(token: string): Promise<string> {
  return base64url(new Uint8Array(await subtle().digest('SHA-256', utf8(token))));
}

/**
 * The RFC 7638 JWK thumbprint: base64url SHA-256 of the required members in lexical order
 * (`crv`, `kty`, `x`, `y`), the value a server binds tokens to (`cnf.jkt`, RFC 9449 §6).
 *
 * @example
 * const jkt = await jwkThumbprint(key.jwk); // 43 characters of base64url
 */
export async function jwkThumbprint(jwk: PublicEcJwk): Promise<string> {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return base64url(new Uint8Array(await subtle().digest('SHA-256', utf8(canonical))));
}

/**
 * A DPoP proof (RFC 9449 §4.2): header `{ typ: 'dpop+jwt', alg: 'ES256', jwk }`, claims `jti` (128
 * random bits), `htm`, `htu`, `iat`, and `nonce` and `ath` when given; signed with ES256, whose
 * JWS signature is the raw `r || s` Web Crypto produces (RFC 7518 §3.4).
 *
 * @example
 * const proof = await createProof(key, { method: 'POST', url: tokenEndpoint, iat: Math.floor(Date.now() / 1000) });
 */
export async function createProof(key: DpopKey, claims: ProofClaims): Promise<string> {
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: publicMembers(key.jwk) };
  const payload: Record<string, string | number> = {
    jti: randomToken(16),
    htm: claims.method,
    htu: htu(claims.url),
    iat: claims.iat,
  };
  if (claims.nonce !== undefined) payload.nonce = claims.nonce;
  if (claims.accessToken !== undefined) payload.ath = await accessTokenHash(claims.accessToken);
  const input = `${encodeJson(header)}.${encodeJson(payload)}`;
  const signature = await subtle().sign(SIGN, key.privateKey, utf8(input));
  return `${input}.${base64url(new Uint8Array(signature))}`;
}
