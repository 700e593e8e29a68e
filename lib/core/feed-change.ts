// What the revocation feed carries: a change that ends or alters live tokens, as stored and on the wire (SSE).

/**
 * The kinds of change remote guards must hear about:
 * - `grant.revoked`: a refresh-token family (grant) ended, with every token issued from it;
 * - `access_token.revoked`: one access token (`jti`) of a grant;
 * - `device_session.ended`: a user's device session (`device`), or all of them (no `device`);
 * - `user.ended`: every grant of a user ended (deleted, new password, revoked);
 * - `user.changed`: a user's roles changed;
 * - `client.ended`: every grant of a client ended; `client.changed`: its registration changed;
 * - `tenant.changed`: a tenant's local-user mode changed;
 * - `scope.changed`: a scope's definition changed or it was deleted (scopes belong to no tenant).
 */
export const CHANGE_TYPES = [
  'grant.revoked',
  'access_token.revoked',
  'device_session.ended',
  'user.ended',
  'user.changed',
  'client.ended',
  'client.changed',
  'tenant.changed',
  'scope.changed',
] as const;

export type ChangeType = (typeof CHANGE_TYPES)[number];

/**
 * One change. Users are named by their user tag (a hash of tenant and username, the prefix of their
 * grants' ids), never by username: a guard matches it against a token's `gid` claim.
 */
export interface FeedChange {
  type: ChangeType;
  /** The tenant whose tokens it affects; absent for changes that concern every tenant (scopes). */
  tenantId?: string;
  grantId?: string;
  jti?: string;
  /** The user tag (see grant-id.ts `userTag`). */
  user?: string;
  device?: string;
  clientId?: string;
  scope?: string;
}

/** A change with its position in the feed (`<epoch>.<sequence>`; see Store.readChanges). */
export interface FeedEntry {
  id: string;
  change: FeedChange;
}

const WIRE: Record<Exclude<keyof FeedChange, 'type'>, string> = {
  tenantId: 'tenant_id',
  grantId: 'grant_id',
  jti: 'jti',
  user: 'user',
  device: 'device_id',
  clientId: 'client_id',
  scope: 'scope',
};
const FROM_WIRE = new Map(Object.entries(WIRE).map(([k, w]) => [w, k as keyof FeedChange]));
const TYPES = new Set<string>(CHANGE_TYPES);

/** The JSON `data` of an SSE event (snake_case members, as RFC 7662 answers). */
export function changeToWire(change: FeedChange): string {
  const out: Record<string, string> = {};
  for (const [k, w] of Object.entries(WIRE)) {
    const v = change[k as keyof FeedChange];
    if (v !== undefined) out[w] = v;
  }
  return JSON.stringify(out);
}

/** Read an SSE event back into a change; undefined for an unknown type or a malformed body. */
export function changeFromWire(type: string, data: string): FeedChange | undefined {
  if (!TYPES.has(type)) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const change: FeedChange = { type: type as ChangeType };
  for (const [w, v] of Object.entries(body)) {
    const k = FROM_WIRE.get(w);
    if (k && k !== 'type' && typeof v === 'string') change[k] = v;
  }
  return change;
}

/** Stored form: the same short JSON (a change is written once per instance and read by every one). */
export function encodeChange(change: FeedChange): string {
  return JSON.stringify(change);
}

export function decodeChange(json: string): FeedChange | undefined {
  try {
    const c = JSON.parse(json) as FeedChange;
    return TYPES.has(c?.type) ? c : undefined;
  } catch {
    return undefined;
  }
}
