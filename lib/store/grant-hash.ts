// The grant hash in Redis: which field holds which GrantRecord property, and reply layouts that the
// Lua scripts and their TypeScript decoders both derive from, so no value is read by position by hand.
import { isGrantOrigin } from '../core/grant-type';
import { luaList, luaQuote as quote } from './lua-script';
import type { GrantRecord } from './store';

/**
 * Hash field of each GrantRecord property (every property listed: the compiler checks it). The
 * order of this object is the order HMGETs ask for the fields and scripts return them; reorder it
 * freely, everything that reads a grant derives from it.
 */
export const GRANT_HASH = {
  id: 'id',
  clientId: 'cid',
  tenantId: 'tid',
  grantType: 'gty',
  subject: 'sub',
  scope: 'scope',
  localUser: 'lu',
  deviceId: 'dev',
  resource: 'res',
  jkt: 'jkt',
  createdAt: 'cat',
  maxExpiresAt: 'max',
  sessionId: 'ses',
} as const satisfies { readonly [P in keyof Required<GrantRecord>]: string };

/** A grant hash field holding part of the GrantRecord. */
export type GrantField = (typeof GRANT_HASH)[keyof typeof GRANT_HASH];

/** The GrantRecord fields, in the order of {@link GRANT_HASH}. */
export const GRANT_FIELDS: readonly GrantField[] = Object.values(GRANT_HASH);

/** A value of a Redis reply: a bulk string, an integer, or nil. */
export type ReplyValue = string | number | null | undefined;

/** Rebuild a GrantRecord from its hash fields, read by name; undefined when the grant is gone. */
export function decodeGrant(
  v: Readonly<Partial<Record<GrantField, ReplyValue>>>,
): GrantRecord | undefined {
  const { id, cid, tid, gty, sub, scope, lu, dev, res, jkt, cat, max, ses } = v;
  if (!id || !cid || !tid || !sub || scope == null) return undefined;
  return {
    id: String(id),
    clientId: String(cid),
    tenantId: String(tid),
    grantType: isGrantOrigin(gty) ? gty : 'client_credentials',
    subject: String(sub),
    scope: String(scope),
    ...(lu ? { localUser: String(lu) } : {}),
    ...(dev ? { deviceId: String(dev) } : {}),
    ...(res ? { resource: String(res) } : {}),
    ...(jkt ? { jkt: String(jkt) } : {}),
    ...(ses ? { sessionId: String(ses) } : {}),
    createdAt: Number(cat),
    maxExpiresAt: Number(max),
  };
}

/**
 * The grant as HSET name/value pairs: every set property but `sessionId`, which the store itself
 * writes when the grant joins a device session.
 */
export function grantPairs(grant: GrantRecord): (string | number)[] {
  const out: (string | number)[] = [];
  for (const [prop, field] of Object.entries(GRANT_HASH) as [keyof GrantRecord, GrantField][]) {
    const value = grant[prop];
    if (prop === 'sessionId' || value === undefined) continue;
    // An empty optional property is no property (the decoder reads it back as absent).
    if (
      value === '' &&
      (prop === 'localUser' || prop === 'deviceId' || prop === 'resource' || prop === 'jkt')
    )
      continue;
    out.push(field, value);
  }
  return out;
}

/**
 * A flat script reply: the `head` values in order, then (on success) every grant field in
 * `fields` order. The script builds it with {@link ReplyLayout.lua} and the store reads it with
 * {@link ReplyLayout.decode}: both follow the same lists.
 */
export interface ReplyLayout<H extends string> {
  readonly head: readonly H[];
  readonly fields: readonly GrantField[];
  /**
   * Lua table constructor of the reply: head values from Lua expressions (missing ones `false`,
   * which Redis answers as nil), then the grant fields of table `grant` when given.
   */
  lua(values: Partial<Record<H, string>>, grant?: string): string;
  /** HMGET field names: those given for the head, then the grant fields. */
  hmgetFields(names: Record<H, string>): string[];
  /** Head values by name and the grant (undefined when the reply has none). */
  decode(reply: readonly ReplyValue[]): { head: Record<H, ReplyValue>; grant?: GrantRecord };
}

/** A {@link ReplyLayout}; `fields` defaults to {@link GRANT_FIELDS} (tests pass other orders). */
export function replyLayout<const H extends string>(
  head: readonly H[],
  fields: readonly GrantField[] = GRANT_FIELDS,
): ReplyLayout<H> {
  const n = head.length;
  return {
    head,
    fields,
    lua(values, grant) {
      const items = head.map((h) => values[h] ?? 'false');
      if (grant !== undefined) for (const f of fields) items.push(`${grant}[${quote(f)}]`);
      return `{${luaList(items, '')}}`;
    },
    hmgetFields(names) {
      return [...head.map((h) => names[h]), ...fields];
    },
    decode(reply) {
      const values = {} as Record<H, ReplyValue>;
      head.forEach((h, i) => {
        values[h] = reply[i];
      });
      if (reply.length <= n) return { head: values };
      const byName: Partial<Record<GrantField, ReplyValue>> = {};
      fields.forEach((f, i) => {
        byName[f] = reply[n + i];
      });
      const grant = decodeGrant(byName);
      return grant ? { head: values, grant } : { head: values };
    },
  };
}
