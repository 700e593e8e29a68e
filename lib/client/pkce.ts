// PKCE (RFC 7636) and the random `state`: Web Crypto only, so the same code runs in Node and browsers.
import { ConfigError } from '../errors';

/** base64url without padding (RFC 7636 Appendix A). */
export function base64url(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** `bytes` random bytes from `crypto.getRandomValues`, base64url-encoded. */
export function randomToken(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** A code verifier and its `S256` challenge. */
export interface Pkce {
  /** 43 characters of `[A-Za-z0-9_-]` (32 random bytes): RFC 7636 §4.1's minimum length, 256 bits. */
  verifier: string;
  /** `BASE64URL(SHA256(verifier))` (RFC 7636 §4.2). */
  challenge: string;
  method: 'S256';
}

/** The challenge of `verifier` with the `S256` method (RFC 7636 §4.2). */
export async function s256(verifier: string): Promise<string> {
  // Browsers give crypto.subtle to secure contexts only (https, http://localhost, http://127.0.0.1).
  if (!globalThis.crypto?.subtle)
    throw new ConfigError(
      'TokenManager: PKCE needs crypto.subtle, which browsers give only to secure contexts (https, or http://localhost)',
    );
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** A fresh verifier (RFC 7636 §4.1) and its `S256` challenge. */
export async function createPkce(): Promise<Pkce> {
  const verifier = randomToken(32);
  return { verifier, challenge: await s256(verifier), method: 'S256' };
}
