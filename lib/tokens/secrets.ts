// Secret handling: scrypt hashes for client secrets and passwords, SHA-256 for refresh tokens, random ids.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** log2 of scrypt's N by default: N=2^17, r=8, p=1 is OWASP's recommendation (0.3-0.8 s, 128 MiB). */
export const DEFAULT_SCRYPT_COST = 17;
/** The accepted range of log2 N, for new hashes and for stored ones (a stored N past it never matches). */
export const MIN_SCRYPT_COST = 14;
export const MAX_SCRYPT_COST = 20;
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
    // scrypt needs 128·N·r bytes; node refuses past maxmem (default 32 MiB, below N=2^17's 128 MiB).
    scrypt(
      secret,
      salt,
      KEYLEN,
      { N: n, r, p, maxmem: 129 * n * r * p + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

/**
 * Hash a secret or password as `scrypt$N$r$p$salt$hash` (base64url parts), at N=2^`cost`.
 *
 * @example const stored = await hashSecret('correct horse battery staple'); // N=2^17
 */
export async function hashSecret(secret: string, cost = DEFAULT_SCRYPT_COST): Promise<string> {
  const n = 2 ** cost;
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, n, R, P);
  return `scrypt$${n}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** The scrypt parameters of a stored hash, or undefined when it is not one this library accepts. */
function parseHash(stored: string) {
  const [tag, n, r, p, salt, hash, extra] = stored.split('$');
  const N = Number(n);
  const cost = Math.log2(N);
  if (tag !== 'scrypt' || !salt || !hash || extra !== undefined) return undefined;
  // Bounded so that a corrupt or planted record cannot make one check take gigabytes.
  if (!Number.isInteger(cost) || cost < 10 || cost > MAX_SCRYPT_COST) return undefined;
  if (Number(r) !== R || Number(p) !== P) return undefined;
  return { n: N, cost, salt, hash };
}

/** Compare a secret with a stored scrypt hash in constant time. Malformed hashes never match. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const expected = Buffer.from(parsed.hash, 'base64url');
  const key = await scryptAsync(secret, Buffer.from(parsed.salt, 'base64url'), parsed.n, R, P);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** True when a stored hash was made with a lower cost than `cost` (re-hash it at the next sign-in). */
export function needsRehash(stored: string, cost = DEFAULT_SCRYPT_COST): boolean {
  const parsed = parseHash(stored);
  return parsed !== undefined && parsed.cost < cost;
}

/**
 * A hash that no secret matches, verified against when a user is unknown (even timing), at the
 * given cost.
 */
export function dummyHash(cost = DEFAULT_SCRYPT_COST): string {
  return `scrypt$${2 ** cost}$${R}$${P}$${Buffer.alloc(16).toString('base64url')}$${Buffer.alloc(KEYLEN, 1).toString('base64url')}`;
}

/** dummyHash() at the default cost. */
export const DUMMY_HASH = dummyHash();

/** SHA-256 of a token, base64url: what the store keeps instead of a refresh token. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** `bytes` random bytes as base64url (16 bytes = 128 bits). */
export function randomId(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}
