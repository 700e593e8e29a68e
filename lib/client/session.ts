// What the TokenManager persists: storage keys, the session record and the generated device id.
import type { HeldToken } from './token-list';

/** A signed-in session as stored (JSON, version 1). */
export interface Session {
  tokens: HeldToken[];
  refreshToken?: string;
  scope?: string;
}

/** Storage keys, namespaced per issuer (device id) and per issuer + client (session). */
export function storageKeys(issuer: string, clientId: string) {
  const ns = `tokenward:${encodeURIComponent(issuer)}`;
  const session = `${ns}:session:${encodeURIComponent(clientId)}`;
  return {
    session,
    // One device id per issuer: every app (client) of the device presents the same one, so they share one device session.
    device: `${ns}:device_id`,
    // The device's DPoP key, per issuer like the device id: the server binds a device session to the key that started it.
    dpopKey: `${ns}:dpop_key`,
    renewLock: `${session}:renew`,
    // Kept in the tab's sessionStorage, not in the TokenStorage: the PKCE verifier of a pending redirect sign-in.
    redirect: `${ns}:redirect:${encodeURIComponent(clientId)}`,
  };
}

export function encodeSession(s: Session): string {
  return JSON.stringify({ v: 1, ...s });
}

function isHeldToken(t: unknown): t is HeldToken {
  if (!t || typeof t !== 'object') return false;
  const o = t as Record<string, unknown>;
  return (
    typeof o.accessToken === 'string' &&
    ['priority', 'issuedAt', 'expiresAt', 'lifetime'].every((k) => typeof o[k] === 'number') &&
    (o.scope === undefined || typeof o.scope === 'string') &&
    (o.tokenType === undefined || o.tokenType === 'DPoP')
  );
}

/** The stored session, or `undefined` when absent or not one of ours. */
export function decodeSession(text: string | undefined): Session | undefined {
  if (text === undefined) return undefined;
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    if (o?.v !== 1 || !Array.isArray(o.tokens) || !o.tokens.every(isHeldToken)) return undefined;
    return {
      tokens: o.tokens,
      ...(typeof o.refreshToken === 'string' ? { refreshToken: o.refreshToken } : {}),
      ...(typeof o.scope === 'string' ? { scope: o.scope } : {}),
    };
  } catch {
    return undefined;
  }
}

/** Highest priority in a session (0 when none). */
export function topPriority(s: Session | undefined): number {
  return s ? Math.max(0, ...s.tokens.map((t) => t.priority)) : 0;
}

/** A fresh device id: a random UUID (128 bits) — only characters a device id may hold. */
export function generateDeviceId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // randomUUID exists only in secure contexts; getRandomValues everywhere.
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
