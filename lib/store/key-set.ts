// Pure signing-key-set transitions shared by the stores (the Redis Lua script mirrors rotateKeySet).
import type { SigningKeyRecord } from './store';

/**
 * Retire the active key(s), drop keys whose publication has ended, and put `next` first. Retired
 * keys keep only their public part: a key that no longer signs has no private material to leak.
 * The key `distrust` (a kid, if given) is dropped at once: tokens it signed are no longer trusted.
 */
export function rotateKeySet(
  keys: readonly SigningKeyRecord[],
  next: SigningKeyRecord,
  now: number,
  retainSeconds: number,
  distrust?: string,
): SigningKeyRecord[] {
  const kept = keys
    .map(({ privateJwk: _clear, sealedPrivateJwk: _sealed, ...k }) =>
      k.retiredAt === undefined ? { ...k, retiredAt: now, expiresAt: now + retainSeconds } : k,
    )
    .filter((k) => (k.expiresAt === undefined || k.expiresAt > now) && k.kid !== distrust);
  return [next, ...kept];
}

/** Scope `requested` (space-delimited) is contained in `granted`. */
export function isSubScope(requested: string, granted: string): boolean {
  const have = new Set(granted.split(/\s+/));
  return requested.split(/\s+/).every((s) => s === '' || have.has(s));
}
