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
import type { Hashing } from './hashing';
import type { Params } from './params';
import { clientIp, type RateLimits } from './rate-limit';

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
 *
 * Failed authentications are counted (with `limits`) per IP and, for a wrong secret of a
 * confidential client, per client id — the id as decoded here, so `%6Biosk` counts as `kiosk`.
 * Why the per-client count cannot lock out the client whose id it names, although anyone can fail
 * under that id:
 * - a secret matching this instance's remembered digest is admitted without reading any count (it
 *   is the right secret, and checking it costs no scrypt), so a client that has authenticated once
 *   on an instance keeps working there through any attack;
 * - when no digest is remembered (first request on an instance, secret just changed) the counts
 *   are read before scrypt: a client over its limit is still checked when the request comes from
 *   an IP with no failed client authentication in the window (the legitimate client's own IP does
 *   not fail), while IPs that did fail get 429 without a check. Once this instance knows the
 *   client to be over its limit, digest matches too are admitted from such clean IPs only, which
 *   caps guessing against the remembered digest at one guess per fresh IP per window.
 * What remains: a legitimate client sharing its IP with the attacker (one NAT) may be refused,
 * like by any per-IP limit, until the window ends. Public clients are never refused by a count
 * (their ids are public and they have no secret to guess): their failures count per IP only.
 */
export class ClientAuthenticator {
  private readonly verified = new Map<string, { secretHash: string; digest: Buffer }>();
  /** Secret checks in flight, by client id, stored hash and digest of the secret presented. */
  private readonly pending = new Map<string, Promise<boolean>>();
  private readonly records = new Map<
    string,
    { client: ClientRecord; generation: string; until: number }
  >();

  /** `cacheMs`: how long a client record read from the store is reused (0: read every time). */
  constructor(
    private readonly store: Store,
    private readonly cacheMs = 0,
    private readonly clock: MillisecondClock = epochMilliseconds,
    private readonly hashing?: Hashing,
    private readonly limits?: RateLimits,
  ) {}

  /**
   * Count a failed client authentication of `req` against its IP (every invalid_client; a wrong
   * secret is counted against the client id as well, by the check itself).
   */
  async countFailure(req: Request): Promise<void> {
    await this.limits?.add('client_auth_ip', clientIp(req));
  }

  /** Forget a cached client record (called by admin writes on this instance). */
  forget(id: string): void {
    this.records.delete(id);
  }

  /**
   * The client record, from the short-lived cache when fresh (misses are not cached), and its
   * grant ledger's generation, read first (see GrantLedgerStore): a new grant is listed only if
   * the ledger is still at it, so a record changed since (on any instance) is noticed at the next
   * grant, whatever the cache holds.
   */
  async lookupWithGeneration(
    id: string,
  ): Promise<{ client: ClientRecord; generation: string } | undefined> {
    const now = this.clock();
    const hit = this.cacheMs > 0 ? this.records.get(id) : undefined;
    if (hit && hit.until > now) return hit;
    const { client, generation } = await this.store.getClientWithGeneration(id);
    if (this.cacheMs <= 0) return client && { client, generation };
    if (this.records.size >= CACHE_LIMIT)
      this.records.delete(this.records.keys().next().value as string);
    if (client) this.records.set(id, { client, generation, until: now + this.cacheMs });
    else this.records.delete(id);
    return client && { client, generation };
  }

  /**
   * Authenticate the calling client. Public clients (no secret) pass only when `allowPublic`.
   * Failures are invalid_client (401) with one message whatever went wrong.
   */
  async authenticate(
    req: Request,
    params: Params,
    allowPublic: boolean,
  ): Promise<{ client: ClientRecord; generation: string }> {
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
    const found = await this.lookupWithGeneration(id);
    // Client ids are public identifiers (RFC 6749 §2.2), so an unknown one is refused at once: a
    // dummy scrypt here would let anyone spend ours with random ids, each past the per-client limit.
    if (!found) throw invalidClient(!!basic);
    const { client } = found;
    if (!client.secretHash) {
      if (secret !== undefined || !allowPublic) throw invalidClient(!!basic);
      return found;
    }
    if (secret === undefined || secret.length > 1024) throw invalidClient(!!basic);
    if (await this.check(client.id, client.secretHash, secret, req)) return found;
    // A cached record may hold a secret changed since on another instance: the stored one decides.
    if (this.cacheMs > 0) {
      this.forget(id);
      const stored = await this.lookupWithGeneration(id);
      const hash = stored?.client.secretHash;
      if (hash && hash !== client.secretHash && (await this.check(id, hash, secret, req)))
        return stored;
    }
    throw invalidClient(!!basic);
  }

  /** Check `secret`: the order of digest, counts and scrypt is explained on the class. */
  private async check(id: string, secretHash: string, secret: string, req: Request) {
    const digest = createHash('sha256').update(secret).digest();
    const hit = this.verified.get(id);
    const limits = this.limits;
    // The address is worked out only when it may be needed: an IP this instance knows to be over
    // its limit gets no check at all (with none known, a digest match needs no address).
    let address: string | undefined;
    const ip = () => {
      address ??= clientIp(req);
      return address;
    };
    if (limits?.anyKnownOver('client_auth_ip')) limits.assertNotKnownOver('client_auth_ip', ip());
    if (hit && hit.secretHash === secretHash) {
      // Under attack (known over its limit here): digest checks from clean IPs only.
      if (limits?.knownOver('client_auth_client', id)) {
        const fromIp = await limits.read('client_auth_ip', ip());
        if (fromIp.hits > 0)
          throw limits.refuse('client_auth_client', (fromIp.resetMs - Date.now()) / 1000);
      }
      if (timingSafeEqual(hit.digest, digest)) return true;
      await limits?.add('client_auth_client', id);
      return false;
    }
    const verify = async () => {
      if (limits) {
        // Read, and a failure counted, inside the hashing turn: at most maxConcurrent checks
        // run on counts that miss the failures of the others.
        const [forClient, fromIp] = await Promise.all([
          limits.read('client_auth_client', id),
          limits.read('client_auth_ip', ip()),
        ]);
        const now = Date.now();
        if (fromIp.hits >= fromIp.limit)
          throw limits.refuse('client_auth_ip', (fromIp.resetMs - now) / 1000);
        if (forClient.hits >= forClient.limit && fromIp.hits > 0)
          throw limits.refuse('client_auth_client', (forClient.resetMs - now) / 1000);
      }
      const ok = await verifySecret(secret, secretHash);
      if (!ok) await limits?.add('client_auth_client', id);
      return ok;
    };
    // Concurrent checks of the same secret share one scrypt: a client starting with many requests
    // in flight must not fill the hashing queue with the same work (and get 503s for it).
    const key = `${id}\n${secretHash}\n${digest.toString('base64')}`;
    let pending = this.pending.get(key);
    if (!pending) {
      pending = (this.hashing ? this.hashing.run(verify) : verify()).finally(() =>
        this.pending.delete(key),
      );
      this.pending.set(key, pending);
    }
    if (!(await pending)) return false;
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
  endpoint: 'token' | 'revocation' | 'introspection' | 'revocation_feed',
): Promise<{ client: ClientRecord; generation: string }> {
  try {
    return await ctx.clients.authenticate(req, params, allowPublic);
  } catch (err) {
    if (err instanceof OAuthError && err.error === 'invalid_client') {
      await ctx.clients.countFailure(req);
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
