// Remote mode: RFC 7662 introspection calls, cached per token (never past its expiry) and coalesced in flight.
import { LRUCache } from 'lru-cache';
import { MisconfiguredError } from '../errors';
import type { GuardConfig } from '../options/guard-options';
import type { ScopeRecord } from '../store/store';
import { fetchJson, UpstreamStatusError, upstreamUnavailable } from './fetch-json';
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

/**
 * A cached answer, when it was asked for and when it expires (`config.clock`, ms): its age decides
 * when to ask again ahead of expiry. Expiry is checked here, against the guard's clock, rather than
 * by the LRU's own timer, so that an injected clock governs it.
 */
interface Cached {
  answer: IntrospectionAnswer;
  at: number;
  until: number;
}

/**
 * Past this share of cacheTtl a request still gets the cached answer, and the answer is asked for
 * again in the background: a token in steady use never waits for the authorization server, and no
 * answer served is older than cacheTtl (the revocation bound).
 */
const REFRESH_AHEAD = 0.75;

export class IntrospectionClient {
  private readonly cache?: LRUCache<string, Cached>;
  private readonly inFlight = new Map<string, Promise<IntrospectionAnswer>>();
  private readonly authorization: string;

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
    if (cacheTtl > 0) this.cache = new LRUCache({ max: cacheSize });
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
  private fetch(token: string, tokenExp: number): Promise<IntrospectionAnswer> {
    let pending = this.inFlight.get(token);
    if (pending) return pending;
    const { clock } = this.config;
    const at = clock();
    pending = this.ask(token)
      .then((answer) => {
        // In milliseconds: whole seconds would let an answer outlive the token by a fraction of one.
        const until = Math.min(
          at + this.config.introspection.cacheTtl * 1000,
          tokenExp * 1000,
          (answer.exp ?? tokenExp) * 1000,
        );
        if (this.cache && until > clock()) this.cache.set(token, { answer, at, until });
        return answer;
      })
      .finally(() => this.inFlight.delete(token));
    this.inFlight.set(token, pending);
    return pending;
  }

  /** The answer for `token`, from the cache when fresh; `tokenExp` bounds how long it is kept. */
  async introspect(token: string, tokenExp: number): Promise<IntrospectionAnswer> {
    const hit = this.cache?.get(token);
    if (!hit) return this.fetch(token, tokenExp);
    const now = this.config.clock();
    if (hit.until <= now) {
      this.cache?.delete(token);
      return this.fetch(token, tokenExp);
    }
    const age = now - hit.at;
    if (age >= this.config.introspection.cacheTtl * 1000 * REFRESH_AHEAD)
      this.fetch(token, tokenExp).catch(() => undefined); // failing here: the entry just expires
    return hit.answer;
  }
}
