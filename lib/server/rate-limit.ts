// Rate limits that count failures only (and, for refresh, successful rotations of a family), on
// express-rate-limit's Store counters: in Redis with a RedisStore, so every instance shares them.
//
// Why check-then-count instead of express-rate-limit's middleware: a middleware runs before the
// request is authenticated, so it can only count requests by what they claim (a public client id,
// a family id copied from an access token), and anyone can spend a budget named by a claim. Here a
// budget is spent only by a failed check (password, client secret, refresh token) or, for a
// refresh-token family, by a rotation that presented the family's real current token. See
// docs/security.md for what each limit protects and why none can lock a legitimate user out.
import type { Request } from 'express';
import {
  type Store as CounterStore,
  ipKeyGenerator,
  MemoryStore,
  type Options,
} from 'express-rate-limit';
import { OAuthError } from '../errors';
import type { AuthServerEvents, Events, LimiterName } from '../events';
import type { Store } from '../store/store';

export type { LimiterName };

/** The parsed `rateLimit` option. */
export interface RateLimitConfig {
  windowSeconds: number;
  failedPasswordsPerIp: number;
  failedPasswordsPerUsername: number;
  refreshesPerFamily: number;
  failedRefreshesPerIp: number;
  failedClientAuthPerClient: number;
  failedClientAuthPerIp: number;
}

const LIMIT_OF: Record<LimiterName, keyof RateLimitConfig> = {
  password_ip: 'failedPasswordsPerIp',
  password_username: 'failedPasswordsPerUsername',
  refresh_family: 'refreshesPerFamily',
  refresh_ip: 'failedRefreshesPerIp',
  client_auth_client: 'failedClientAuthPerClient',
  client_auth_ip: 'failedClientAuthPerIp',
};

/** Keys this instance knows to be over their limit, at most this many (oldest dropped first). */
const KNOWN_OVER_LIMIT = 10_000;

/** The key a request's address counts under (IPv6: its /56, as express-rate-limit does). */
export function clientIp(req: Request): string {
  return ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown');
}

/** The answer past a limit: 429 with Retry-After (RFC 6585 §4), an RFC 6749 §5.2-style body. */
function tooMany(retryAfterSeconds: number): OAuthError {
  return new OAuthError('temporarily_unavailable', 'rate limit exceeded; retry later', 429, {
    'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))),
  });
}

/** One limit: a counter per key in a window, and what this instance learnt of keys over it. */
class Limit {
  /** key → epoch ms at which its window ends, for keys seen at or over the limit. */
  private readonly over = new Map<string, number>();

  constructor(
    readonly name: LimiterName,
    readonly limit: number,
    private readonly windowMs: number,
    private readonly counters: CounterStore,
  ) {}

  /** The hits of `key` in its window and when that window ends: one store read. */
  async read(key: string): Promise<{ hits: number; resetMs: number }> {
    const info = await this.counters.get?.(key);
    const resetMs = info?.resetTime?.getTime() ?? Date.now() + this.windowMs;
    return { hits: info?.totalHits ?? 0, resetMs };
  }

  /** Count one hit of `key`: one store write. Remembers the key when it reaches the limit. */
  async add(key: string): Promise<number> {
    const info = await this.counters.increment(key);
    if (info.totalHits >= this.limit) {
      const resetMs = info.resetTime?.getTime() ?? Date.now() + this.windowMs;
      if (this.over.size >= KNOWN_OVER_LIMIT)
        this.over.delete(this.over.keys().next().value as string);
      this.over.set(key, resetMs);
    }
    return info.totalHits;
  }

  /**
   * Take one of `key`'s attempts before the check it pays for (one atomic increment): the hits
   * so far, and when the window ends. Not remembered as over the limit: a reservation may be
   * handed back (remove) when the check succeeds.
   */
  async reserve(key: string): Promise<{ hits: number; resetMs: number }> {
    const info = await this.counters.increment(key);
    return {
      hits: info.totalHits,
      resetMs: info.resetTime?.getTime() ?? Date.now() + this.windowMs,
    };
  }

  /** Hand back a reserved attempt of `key`: one store write. */
  async remove(key: string): Promise<void> {
    await this.counters.decrement(key);
  }

  /** Whether this instance knows of any key at the limit (expired ones included): a map size. */
  anyKnownOver(): boolean {
    return this.over.size > 0;
  }

  /**
   * Seconds until `key`'s window ends when this instance has seen it at its limit (no store round
   * trip), else 0. Another instance's hits are learnt at this instance's next add() of the key.
   */
  knownOver(key: string): number {
    const until = this.over.get(key);
    if (until === undefined) return 0;
    const left = until - Date.now();
    if (left > 0) return left / 1000;
    this.over.delete(key);
    return 0;
  }
}

/**
 * The limits of one authorization server. Counters live in the store's rate-limit store when it
 * has one (RedisStore: shared by every instance), else in this process.
 */
export class RateLimits {
  private readonly limits: Record<LimiterName, Limit>;

  constructor(
    config: Readonly<RateLimitConfig>,
    store: Store,
    private readonly events: Events<AuthServerEvents>,
  ) {
    const windowMs = config.windowSeconds * 1000;
    const make = (name: LimiterName) => {
      const counters: CounterStore = store.rateLimitStore?.(`${name}:`) ?? new MemoryStore();
      void counters.init?.({ windowMs } as Options);
      return new Limit(name, config[LIMIT_OF[name]], windowMs, counters);
    };
    this.limits = {
      password_ip: make('password_ip'),
      password_username: make('password_username'),
      refresh_family: make('refresh_family'),
      refresh_ip: make('refresh_ip'),
      client_auth_client: make('client_auth_client'),
      client_auth_ip: make('client_auth_ip'),
    };
  }

  /** The 429 for `name`, with the `rate_limited` event. */
  refuse(name: LimiterName, retryAfterSeconds: number): OAuthError {
    this.events.emit('rate_limited', { limiter: name });
    return tooMany(retryAfterSeconds);
  }

  /** Throw the 429 when this instance knows `key` to be over `name`'s limit (no round trip). */
  assertNotKnownOver(name: LimiterName, key: string): void {
    const left = this.limits[name].knownOver(key);
    if (left > 0) throw this.refuse(name, left);
  }

  /**
   * False when this instance knows no key over `name`'s limit (no round trip, nor the key): lets
   * the success path skip working out a key nothing can be refused for.
   */
  anyKnownOver(name: LimiterName): boolean {
    return this.limits[name].anyKnownOver();
  }

  /** True when this instance knows `key` to be over `name`'s limit (no round trip). */
  knownOver(name: LimiterName, key: string): boolean {
    return this.limits[name].knownOver(key) > 0;
  }

  /** The hits of `key` under `name`, with its limit and window end: one store read. */
  async read(name: LimiterName, key: string) {
    const limit = this.limits[name];
    return { ...(await limit.read(key)), limit: limit.limit };
  }

  /** Count a hit of `key` under `name` (a failure, or a rotation): one store write. */
  add(name: LimiterName, key: string): Promise<number> {
    return this.limits[name].add(key);
  }

  /**
   * Reserve an attempt of `key` under `name` before checking it; throws the 429 when that is past
   * the limit (the attempt is not checked, and not handed back).
   */
  async reserve(name: LimiterName, key: string): Promise<void> {
    const limit = this.limits[name];
    const { hits, resetMs } = await limit.reserve(key);
    if (hits > limit.limit) throw this.refuse(name, (resetMs - Date.now()) / 1000);
  }

  /** Hand back an attempt reserved with reserve(). */
  remove(name: LimiterName, key: string): Promise<void> {
    return this.limits[name].remove(key);
  }
}

/** The password-failure key of a username: per tenant (alice of one tenant is not alice of another). */
export function usernameKey(tenantId: string, username: string): string {
  return `${encodeURIComponent(tenantId)}:${encodeURIComponent(username.normalize('NFC').toLowerCase())}`;
}
