// express-rate-limit Store on the RedisStore's client: fixed-window counters, one script per call, each
// call bounded by the store's runner (a slow or absent Redis fails as StoreUnavailableError → 503).
import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import { defineScript, scriptArgs } from './lua-script';
import type { RedisRunner } from './redis-runner';

/**
 * Change counter `counterKey` by `delta` (1, -1, or 0 to read it). A counter lives for one window
 * (`windowMs`) from its first hit. Replies `{hits, ms until the window ends}`; `{0, 0}` when no
 * window is running.
 */
export const rateLimitScript = defineScript({
  keys: ['counterKey'],
  args: ['#delta', '#windowMs'],
  body: `
local ttl = redis.call('PTTL', counterKey)
if ttl <= 0 then
  -- No window running (or a counter without a TTL, which must not count forever): start one.
  if delta <= 0 then return {0, 0} end
  redis.call('SET', counterKey, delta, 'PX', windowMs)
  return {delta, windowMs}
end
if delta == 0 then return {tonumber(redis.call('GET', counterKey)) or 0, ttl} end
return {redis.call('INCRBY', counterKey, delta), ttl}`,
});

/** The name the script is registered under (ioredis `defineCommand`). */
export const RATE_LIMIT_COMMAND = 'twRateLimit';

/**
 * A rate-limit store sharing a RedisStore's client: counters at `${prefix}${key}`, shared by every
 * process on the same Redis. ioredis runs the script by EVALSHA and falls back to EVAL itself, so
 * it works on every cluster node, after failovers, and when Redis was down at start-up.
 *
 * @example rateLimit({ windowMs: 60_000, limit: 10, store: redisStore.rateLimitStore('client:') })
 */
export class RedisRateLimitStore implements Store {
  /** Counters are shared between processes. */
  readonly localKeys = false;
  private windowMs = 60_000;

  constructor(
    private readonly runner: RedisRunner,
    /** Prepended to every key (express-rate-limit reads it to tell limiters apart). */
    readonly prefix: string,
  ) {}

  /** Called by express-rate-limit with the limiter's options. */
  init(options: Options): void {
    this.windowMs = options.windowMs;
  }

  private async change(key: string, delta: number): Promise<ClientRateLimitInfo> {
    const args = scriptArgs(rateLimitScript, {
      counterKey: `${this.prefix}${key}`,
      delta,
      windowMs: this.windowMs,
    });
    const [hits, ttl] = (await this.runner.script(RATE_LIMIT_COMMAND, args)) as [number, number];
    return { totalHits: Number(hits), resetTime: new Date(Date.now() + Number(ttl)) };
  }

  /** Count a hit of `key`: one round trip. */
  increment(key: string): Promise<ClientRateLimitInfo> {
    return this.change(key, 1);
  }

  /** Take back a hit of `key` (express-rate-limit's skipFailedRequests and the like). */
  async decrement(key: string): Promise<void> {
    await this.change(key, -1);
  }

  /** The hits of `key` in the current window, or undefined when none is running. */
  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const info = await this.change(key, 0);
    return info.totalHits > 0 ? info : undefined;
  }

  /** Forget `key`'s hits. */
  async resetKey(key: string): Promise<void> {
    const counterKey = `${this.prefix}${key}`;
    await this.runner.run(() => this.runner.redis.del(counterKey));
  }
}
