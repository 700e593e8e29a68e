// Pure signing-key-set transitions shared by the stores (the Redis Lua script mirrors rotateKeySet).
import type { SigningKeyRecord } from './store';

/** Retire the active key(s), drop keys whose publication has ended, and put `next` first. */
export function rotateKeySet(
  keys: readonly SigningKeyRecord[],
  next: SigningKeyRecord,
  now: number,
  retainSeconds: number,
): SigningKeyRecord[] {
  const kept = keys
    .map((k) =>
      k.retiredAt === undefined ? { ...k, retiredAt: now, expiresAt: now + retainSeconds } : k,
    )
    .filter((k) => k.expiresAt === undefined || k.expiresAt > now);
  return [next, ...kept];
}

/** Scope `requested` (space-delimited) is contained in `granted`. */
export function isSubScope(requested: string, granted: string): boolean {
  const have = new Set(granted.split(/\s+/));
  return requested.split(/\s+/).every((s) => s === '' || have.has(s));
}
