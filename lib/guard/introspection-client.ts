// Remote mode: RFC 7662 introspection calls, cached per token (never past its expiry) and coalesced in flight.
import { LRUCache } from 'lru-cache';
import type { FeedChange } from '../core/feed-change';
import { tagOfGrant } from '../core/grant-id';
import { MisconfiguredError } from '../errors';
import type { GuardConfig } from '../options/guard-options';
import type { ScopeRecord } from '../store/store';
import { fetchJson, UpstreamStatusError, upstreamUnavailable } from './fetch-json';
import type { FeedListener, FeedStatus } from './revocation-feed';
import type { RegistryFacts } from './verifier';

/** The members of an introspection answer the guard uses. */
export interface IntrospectionAnswer {
  active: boolean;
  client_id?: string;
  tenant_id?: string;
  sub?: string;
  jti?: string;
  /** The token's audience as the authorization server sees it (RFC 8707: its grant's resource). */
  aud?: string;
  scope?: string;
  exp?: number;
  local_user?: string;
  device_id?: string;
  /** RFC 9449 §6.2: the key a DPoP-bound token is bound to. */
  cnf?: { jkt: string };
  registry?: RegistryFacts;
}

const INACTIVE: IntrospectionAnswer = Object.freeze({ active: false });

const strings = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((s) => typeof s === 'string');

/** tokenward's extension member (RFC 7662 §2.2 allows service-specific top-level names). */
function readRegistry(ext: unknown): RegistryFacts | undefined {
  if (typeof ext !== 'object' || ext === null) return undefined;
  const e = ext as Record<string, unknown>;
  const scopes: ScopeRecord[] = [];
  if (Array.isArray(e.scopes)) {
    for (const s of e.scopes as Record<string, unknown>[]) {
      if (typeof s?.name !== 'string' || typeof s.role_check !== 'boolean') continue;
      scopes.push({
        name: s.name,
        ...(typeof s.service === 'string' ? { service: s.service } : {}),
        roleCheck: s.role_check,
        roles: strings(s.roles) ? s.roles : [],
      });
    }
  }
  return {
    scopes,
    ...(typeof e.local_user_mode === 'boolean' ? { localUserMode: e.local_user_mode } : {}),
    ...(strings(e.roles) ? { roles: e.roles } : {}),
  };
}

function readAnswer(body: Record<string, unknown>): IntrospectionAnswer {
  if (typeof body.active !== 'boolean')
    throw upstreamUnavailable('introspection answer has no "active"');
  if (!body.active) return INACTIVE;
  const str = (k: string) => (typeof body[k] === 'string' ? { [k]: body[k] as string } : {});
  const registry = readRegistry(body.tokenward);
  return {
    active: true,
    ...str('client_id'),
    ...str('tenant_id'),
    ...str('sub'),
    ...str('jti'),
    ...str('aud'),
    ...str('scope'),
    ...str('local_user'),
    ...str('device_id'),
    ...(typeof body.exp === 'number' ? { exp: body.exp } : {}),
    ...(typeof (body.cnf as { jkt?: unknown } | undefined)?.jkt === 'string'
      ? { cnf: { jkt: (body.cnf as { jkt: string }).jkt } }
      : {}),
    ...(registry ? { registry } : {}),
  };
}

/** What a cached answer is about, so that a change heard on the revocation feed finds it. */
export interface AnsweredToken {
  exp: number;
  gid: string;
  jti: string;
  tenant_id: string;
  client_id: string;
  device_id?: string;
  scope?: string;
}

/**
 * A cached answer, when it was asked for and when it expires (`config.clock`, ms): its age decides
 * when to ask again ahead of expiry. Expiry is checked here, against the guard's clock, rather than
 * by the LRU's own timer, so that an injected clock governs it. `covered`: asked for while the
 * revocation feed was subscribed and nothing was heard meanwhile, so any later revocation that
 * affects it drops it (it may then be kept `maxCacheTtl`).
 */
interface Cached {
  answer: IntrospectionAnswer;
  at: number;
  until: number;
  covered: boolean;
  token: AnsweredToken;
}

/** Whether `change` (heard on the feed) may affect the answer about `t`. */
function affects(change: FeedChange, t: AnsweredToken, answer: IntrospectionAnswer): boolean {
  const tenant = answer.tenant_id ?? t.tenant_id;
  if (change.tenantId !== undefined && change.tenantId !== tenant) return false;
  switch (change.type) {
    case 'grant.revoked':
      return change.grantId === t.gid;
    case 'access_token.revoked':
      return change.grantId === t.gid && change.jti === t.jti;
    case 'device_session.ended':
      return (
        tagOfGrant(t.gid) === change.user &&
        (change.device === undefined || change.device === (answer.device_id ?? t.device_id))
      );
    case 'user.ended':
    case 'user.changed':
      return tagOfGrant(t.gid) === change.user;
    case 'client.ended':
    case 'client.changed':
      return change.clientId === (answer.client_id ?? t.client_id);
    case 'tenant.changed':
      return true;
    case 'scope.changed':
      return ` ${answer.scope ?? t.scope ?? ''} `.includes(` ${change.scope} `);
  }
}

/**
 * Past this share of cacheTtl a request still gets the cached answer, and the answer is asked for
 * again in the background: a token in steady use never waits for the authorization server, and no
 * answer served is older than cacheTtl (the revocation bound).
 */
const REFRESH_AHEAD = 0.75;

export class IntrospectionClient implements FeedListener {
  private readonly cache?: LRUCache<string, Cached>;
  /** Cached tokens by grant id: a revoked grant or access token finds its answers at once. */
  private readonly byGrant = new Map<string, Set<string>>();
  private readonly inFlight = new Map<string, Promise<IntrospectionAnswer>>();
  /** The `Authorization` header of every call (and of the revocation feed). */
  readonly authorization: string;
  private subscribed = false;
  /** Counts what the feed said (changes, resets, drops): an answer asked for across one is not covered. */
  private heard = 0;

  constructor(
    private readonly config: GuardConfig & {
      introspection: NonNullable<GuardConfig['introspection']>;
    },
    private readonly endpoint: () => Promise<string>,
  ) {
    const { clientId, clientSecret, cacheTtl, cacheSize } = config.introspection;
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
    const id = encodeURIComponent(clientId).replace(/%20/g, '+');
    const secret = encodeURIComponent(clientSecret).replace(/%20/g, '+');
    this.authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
    const { maxCacheTtl, feed } = config.introspection;
    if (cacheTtl > 0 || (feed && maxCacheTtl > 0))
      this.cache = new LRUCache<string, Cached>({
        max: cacheSize,
        dispose: (value, token) => {
          const set = this.byGrant.get(value.token.gid);
          set?.delete(token);
          if (set?.size === 0) this.byGrant.delete(value.token.gid);
        },
      });
  }

  // The revocation feed's listener ------------------------------------------------------------

  change(change: FeedChange): void {
    this.heard++;
    if (!this.cache) return;
    if (change.type === 'grant.revoked' || change.type === 'access_token.revoked') {
      for (const token of [...(this.byGrant.get(change.grantId ?? '') ?? [])]) {
        const hit = this.cache.peek(token);
        if (hit && affects(change, hit.token, hit.answer)) this.cache.delete(token);
      }
      return;
    }
    const drop: string[] = [];
    this.cache.forEach((hit, token) => {
      if (affects(change, hit.token, hit.answer)) drop.push(token);
    });
    for (const token of drop) this.cache.delete(token);
  }

  reset(): void {
    this.heard++;
    this.cache?.clear();
  }

  status(status: FeedStatus): void {
    this.heard++;
    this.subscribed = status === 'subscribed';
  }

  /**
   * How long (ms) `hit` may be served now. A device-bound token's answer is asked for again every
   * `cacheTtl` even while subscribed: its device session stays alive only through the activity the
   * authorization server sees, and an idle-out is no event (it is time passing).
   */
  private ttlOf(hit: Cached): number {
    const { cacheTtl, maxCacheTtl } = this.config.introspection;
    const long = hit.covered && this.subscribed && hit.answer.device_id === undefined;
    return (long ? maxCacheTtl : cacheTtl) * 1000;
  }

  /**
   * A refusal of the guard's own credentials is a configuration error, not an outage: retrying will
   * not help, so it is answered 500 with a log line saying the fix (RFC 7662 §2.3: 401 for bad
   * client credentials; tokenward answers 403 unauthorized_client to a client not allowed to introspect).
   */
  private refused(err: unknown): MisconfiguredError | undefined {
    const cause = (err as { cause?: unknown })?.cause;
    if (!(cause instanceof UpstreamStatusError)) return undefined;
    const { clientId } = this.config.introspection;
    if (cause.status === 401 || cause.error === 'invalid_client')
      return new MisconfiguredError(
        `the authorization server at ${cause.url} refused the guard's introspection credentials (${cause.status} ${cause.error ?? ''}): check introspection.clientId ("${clientId}") and introspection.clientSecret, and that the client exists on that server`,
      );
    if (cause.status === 403 || cause.error === 'unauthorized_client')
      return new MisconfiguredError(
        `client "${clientId}" may not introspect at ${cause.url} (${cause.status} ${cause.error ?? ''}): allow it with admin.upsertClient({ id: '${clientId}', introspect: true, … }) or \`tokenward client set ${clientId} --introspect\``,
      );
    return undefined;
  }

  /** Ask about `token` now, without the cache: refused credentials throw a MisconfiguredError. */
  async ask(token: string): Promise<IntrospectionAnswer> {
    try {
      return await this.send(token);
    } catch (err) {
      throw this.refused(err) ?? err;
    }
  }

  private async send(token: string): Promise<IntrospectionAnswer> {
    const body = await fetchJson(
      await this.endpoint(),
      {
        method: 'POST',
        headers: {
          authorization: this.authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      },
      this.config.introspection.timeout,
    );
    return readAnswer(body);
  }

  /** One request per token at a time; the answer is cached when it arrives. */
  private fetch(token: string, about: AnsweredToken): Promise<IntrospectionAnswer> {
    let pending = this.inFlight.get(token);
    if (pending) return pending;
    const { clock } = this.config;
    const at = clock();
    const heard = this.heard;
    const subscribed = this.subscribed;
    pending = this.ask(token)
      .then((answer) => {
        // In milliseconds: whole seconds would let an answer outlive the token by a fraction of one.
        const until = Math.min(about.exp * 1000, (answer.exp ?? about.exp) * 1000);
        // A change heard while asking may be about this token and predate the answer: not covered.
        const covered = subscribed && this.subscribed && heard === this.heard;
        const entry: Cached = { answer, at, until, covered, token: about };
        if (this.cache && Math.min(until, at + this.ttlOf(entry)) > clock()) {
          this.cache.set(token, entry);
          const set = this.byGrant.get(about.gid) ?? new Set();
          set.add(token);
          this.byGrant.set(about.gid, set);
        }
        return answer;
      })
      .finally(() => this.inFlight.delete(token));
    this.inFlight.set(token, pending);
    return pending;
  }

  /** The answer for `token`, from the cache when fresh; the token's `exp` bounds how long it is kept. */
  async introspect(token: string, about: AnsweredToken): Promise<IntrospectionAnswer> {
    const hit = this.cache?.get(token);
    if (!hit) return this.fetch(token, about);
    const now = this.config.clock();
    const ttl = this.ttlOf(hit);
    if (hit.until <= now || hit.at + ttl <= now) {
      this.cache?.delete(token);
      return this.fetch(token, about);
    }
    if (now - hit.at >= ttl * REFRESH_AHEAD) this.fetch(token, about).catch(() => undefined); // failing here: the entry just expires
    return hit.answer;
  }
}
