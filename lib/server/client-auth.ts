// Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3, §3.2.1).

import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { epochMilliseconds, type MillisecondClock } from '../core/clock';
import { CLIENT_ID } from '../core/ids';
import { invalidRequest, OAuthError } from '../errors';
import type { AuthServerEvents, Events } from '../events';
import { redactTokens } from '../http/redact';
import type { ClientRecord, Store } from '../store/store';
import { verifySecret } from '../tokens/secrets';
import type { Params } from './params';

const CACHE_LIMIT = 10_000;

function invalidClient(basic: boolean): OAuthError {
  return new OAuthError(
    'invalid_client',
    'client authentication failed',
    401,
    basic ? { 'WWW-Authenticate': 'Basic realm="tokenward", charset="UTF-8"' } : {},
  );
}

function formDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw invalidRequest('malformed client credentials in the Authorization header');
  }
}

/** The client id and secret of an `Authorization: Basic` header (form-urlencoded, RFC 6749 §2.3.1). */
export function parseBasic(header: string | undefined): { id: string; secret: string } | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const m = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  if (!m?.[1] || header.length > 4096) throw invalidClient(true);
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) throw invalidRequest('malformed client credentials in the Authorization header');
  return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
}

/**
 * Authenticates clients. A successful scrypt check is remembered as SHA-256(secret) next to the
 * stored hash it matched, so repeat calls skip scrypt until the secret changes; only hashes are kept.
 */
export class ClientAuthenticator {
  private readonly verified = new Map<string, { secretHash: string; digest: Buffer }>();
  private readonly records = new Map<string, { client: ClientRecord; until: number }>();

  /** `cacheMs`: how long a client record read from the store is reused (0: read every time). */
  constructor(
    private readonly store: Store,
    private readonly cacheMs = 0,
    private readonly clock: MillisecondClock = epochMilliseconds,
  ) {}

  /** Forget a cached client record (called by admin writes on this instance). */
  forget(id: string): void {
    this.records.delete(id);
  }

  /** The client record, from the short-lived cache when fresh; misses are not cached. */
  async lookup(id: string): Promise<ClientRecord | undefined> {
    if (this.cacheMs <= 0) return this.store.getClient(id);
    const now = this.clock();
    const hit = this.records.get(id);
    if (hit && hit.until > now) return hit.client;
    const client = await this.store.getClient(id);
    if (this.records.size >= CACHE_LIMIT)
      this.records.delete(this.records.keys().next().value as string);
    if (client) this.records.set(id, { client, until: now + this.cacheMs });
    else this.records.delete(id);
    return client;
  }

  /**
   * Authenticate the calling client. Public clients (no secret) pass only when `allowPublic`.
   * Failures are invalid_client (401) with one message whatever went wrong.
   */
  async authenticate(
    req: Request,
    params: Params,
    allowPublic: boolean,
  ): Promise<{ client: ClientRecord }> {
    const basic = parseBasic(req.headers.authorization);
    const bodyId = params.client_id;
    const bodySecret = params.client_secret;
    if (basic && bodySecret !== undefined)
      throw invalidRequest('use only one client authentication method');
    if (basic && bodyId !== undefined && bodyId !== basic.id)
      throw invalidRequest('client_id does not match the Authorization header');
    const id = basic?.id ?? bodyId;
    const secret = basic?.secret ?? bodySecret;
    if (id === undefined || id.length > 128) throw invalidClient(!!basic);
    const client = await this.lookup(id);
    // Client ids are public identifiers (RFC 6749 §2.2), so an unknown one is refused at once: a
    // dummy scrypt here would let anyone spend ours with random ids, each past the per-client limit.
    if (!client) throw invalidClient(!!basic);
    if (!client.secretHash) {
      if (secret !== undefined || !allowPublic) throw invalidClient(!!basic);
      return { client };
    }
    if (
      secret === undefined ||
      secret.length > 1024 ||
      !(await this.check(client.id, client.secretHash, secret))
    ) {
      throw invalidClient(!!basic);
    }
    return { client };
  }

  private async check(id: string, secretHash: string, secret: string): Promise<boolean> {
    const digest = createHash('sha256').update(secret).digest();
    const hit = this.verified.get(id);
    if (hit && hit.secretHash === secretHash) return timingSafeEqual(hit.digest, digest);
    if (!(await verifySecret(secret, secretHash))) return false;
    if (this.verified.size >= CACHE_LIMIT)
      this.verified.delete(this.verified.keys().next().value as string);
    this.verified.set(id, { secretHash, digest });
    return true;
  }
}

/**
 * `ctx.clients.authenticate`, emitting `client_auth.failed` on invalid_client. The claimed client
 * id goes in the event only when it looks like an id (never something token-shaped).
 */
export async function authenticateClient(
  ctx: { clients: ClientAuthenticator; events: Events<AuthServerEvents> },
  req: Request,
  params: Params,
  allowPublic: boolean,
  endpoint: 'token' | 'revocation' | 'introspection',
): Promise<{ client: ClientRecord }> {
  try {
    return await ctx.clients.authenticate(req, params, allowPublic);
  } catch (err) {
    if (err instanceof OAuthError && err.error === 'invalid_client') {
      let claimed = params.client_id;
      try {
        claimed ??= parseBasic(req.headers.authorization)?.id;
      } catch {}
      const safe =
        claimed !== undefined && CLIENT_ID.test(claimed) && redactTokens(claimed) === claimed;
      ctx.events.emit('client_auth.failed', { ...(safe ? { clientId: claimed } : {}), endpoint });
    }
    throw err;
  }
}
