// Random ids drawn from a pool the CSPRNG fills 4 KiB at a time: one OpenSSL call per ~256 ids.
import { randomFillSync } from 'node:crypto';

/**
 * Why a pool: each `randomBytes()` call costs ~5 µs here (OpenSSL's per-call locking and fork
 * check), twice per token issued; node's own `randomUUID()` caches entropy the same way. Every
 * byte is handed out once, and zeroed as it is.
 */
const SIZE = 4096;
const pool = Buffer.allocUnsafeSlow(SIZE);
let offset = SIZE;

/**
 * `bytes` (1–256) fresh random bytes as base64url: a token id (`jti`) or any other random id.
 *
 * @example const jti = pooledRandomId(16); // 22 characters, 128 bits
 */
export function pooledRandomId(bytes = 16): string {
  if (offset + bytes > SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('base64url', offset, offset + bytes);
  pool.fill(0, offset, offset + bytes);
  offset += bytes;
  return id;
}
