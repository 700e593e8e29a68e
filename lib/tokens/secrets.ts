// Secret handling: scrypt hashes for client secrets and passwords, SHA-256 for refresh tokens, random ids.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

// N=2^14, r=8, p=1: OWASP's minimum for scrypt; ~40 ms on this class of machine, off the event loop.
const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

function scryptAsync(
  secret: string,
  salt: Buffer,
  n: number,
  r: number,
  p: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEYLEN, { N: n, r, p, maxmem: 256 * n * r }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** Hash a secret or password as `scrypt$N$r$p$salt$hash` (base64url parts). */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Compare a secret with a stored scrypt hash in constant time. Malformed hashes never match. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [tag, n, r, p, salt, hash] = stored.split('$');
  if (tag !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scryptAsync(
    secret,
    Buffer.from(salt, 'base64url'),
    Number(n),
    Number(r),
    Number(p),
  );
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash that no secret matches, verified against when a client or user is unknown (even timing). */
export const DUMMY_HASH = `scrypt$${N}$${R}$${P}$${Buffer.alloc(16).toString('base64url')}$${Buffer.alloc(KEYLEN, 1).toString('base64url')}`;

/** SHA-256 of a token, base64url: what the store keeps instead of a refresh token. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** `bytes` random bytes as base64url (16 bytes = 128 bits). */
export function randomId(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}
