// RedisStore.rateLimitStore on real Redis (standalone and the 3-master cluster): express-rate-limit's Store
// contract, fixed windows with a TTL, one script call per hit, and recovery from a flushed script cache.
import type { Options, Store as RateLimitStore } from 'express-rate-limit';
import type { Cluster, Redis } from 'ioredis';
import { RedisStore, StoreUnavailableError } from '../../lib';
import { newRedis, uniquePrefix, waitReady } from '../helpers/redis';
import { makeStore, type TestStore } from '../helpers/stores';

const WINDOW_MS = 60_000;

/** A limiter's store as express-rate-limit sets it up. */
function limiterStore(store: RedisStore, name: string, windowMs = WINDOW_MS): RateLimitStore {
  const rl = store.rateLimitStore(name);
  void rl.init?.({ windowMs } as Options);
  return rl;
}

describe.each(['redis', 'cluster'] as const)('rate-limit store on %s', (kind) => {
  let ts: TestStore;
  let store: RedisStore;
  let redis: Redis | Cluster;

  beforeAll(async () => {
    ts = await makeStore(kind, `rl-${kind}`);
    store = ts.store as RedisStore;
    redis = ts.redis as Redis | Cluster;
  });
  afterAll(() => ts.close());

  it('shares counters between processes and names keys <prefix>rl:<name><key>', () => {
    const rl = store.rateLimitStore('client:');
    expect(rl.localKeys).toBe(false);
    expect(rl.prefix).toBe(`${ts.prefix}rl:client:`);
  });

  it('increment counts hits in a window that ends WINDOW_MS after the first; the key carries that TTL', async () => {
    const rl = limiterStore(store, 'inc:');
    const before = Date.now();
    const first = await rl.increment('alice');
    expect(first.totalHits).toBe(1);
    const end = first.resetTime?.getTime() ?? 0;
    expect(end).toBeGreaterThanOrEqual(before + WINDOW_MS - 50);
    expect(end).toBeLessThanOrEqual(Date.now() + WINDOW_MS + 50);
    const second = await rl.increment('alice');
    expect(second.totalHits).toBe(2);
    // The window does not slide with hits.
    expect(Math.abs((second.resetTime?.getTime() ?? 0) - end)).toBeLessThan(100);
    const pttl = await redis.pttl(`${ts.prefix}rl:inc:alice`);
    expect(pttl).toBeGreaterThan(WINDOW_MS - 1000);
    expect(pttl).toBeLessThanOrEqual(WINDOW_MS);
    // Another key, another limiter: counted apart.
    expect((await rl.increment('bob')).totalHits).toBe(1);
    expect((await limiterStore(store, 'other:').increment('alice')).totalHits).toBe(1);
  });

  it('a new window starts once the previous one expired', async () => {
    const rl = limiterStore(store, 'short:', 200);
    expect((await rl.increment('k')).totalHits).toBe(1);
    expect((await rl.increment('k')).totalHits).toBe(2);
    await new Promise((r) => setTimeout(r, 300));
    expect((await rl.increment('k')).totalHits).toBe(1);
  });

  it('get, decrement and resetKey', async () => {
    const rl = limiterStore(store, 'ops:');
    expect(await rl.get?.('carol')).toBeUndefined();
    await rl.increment('carol');
    await rl.increment('carol');
    expect((await rl.get?.('carol'))?.totalHits).toBe(2);
    await rl.decrement('carol');
    expect((await rl.get?.('carol'))?.totalHits).toBe(1);
    await rl.resetKey('carol');
    expect(await rl.get?.('carol')).toBeUndefined();
    expect(await redis.exists(`${ts.prefix}rl:ops:carol`)).toBe(0);
    // Decrementing a counter with no window running leaves no key behind (none without a TTL).
    await rl.decrement('dave');
    expect(await redis.exists(`${ts.prefix}rl:ops:dave`)).toBe(0);
  });

  it('keeps counting after the script cache is flushed (ioredis falls back from EVALSHA to EVAL)', async () => {
    const rl = limiterStore(store, 'flush:');
    expect((await rl.increment('erin')).totalHits).toBe(1);
    const masters = kind === 'cluster' ? (redis as Cluster).nodes('master') : [redis as Redis];
    await Promise.all(masters.map((n) => n.script('FLUSH')));
    expect((await rl.increment('erin')).totalHits).toBe(2);
  });

  it('concurrent hits from two stores on one Redis are all counted', async () => {
    const a = limiterStore(store, 'shared:');
    const other = new RedisStore({ redis, prefix: ts.prefix });
    const b = limiterStore(other, 'shared:');
    const hits = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).increment('frank')),
    );
    expect(hits.map((h) => h.totalHits).sort((x, y) => x - y)).toStrictEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  });
});

describe('rate-limit store with Redis unavailable', () => {
  it('fails as StoreUnavailableError when the client is closed', async () => {
    const redis = newRedis();
    await waitReady(redis);
    const store = new RedisStore({ redis, prefix: uniquePrefix('rl-down') });
    const rl = limiterStore(store, 'down:');
    expect((await rl.increment('k')).totalHits).toBe(1);
    redis.disconnect();
    await expect(rl.increment('k')).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('works when Redis was down at start-up: the script is loaded on first use once it is back', async () => {
    // A lazy client: nothing is loaded before the first call, as when Redis was down at start-up.
    const redis = newRedis({ lazyConnect: true });
    try {
      const store = new RedisStore({ redis, prefix: uniquePrefix('rl-lazy') });
      const rl = limiterStore(store, 'lazy:');
      await redis.connect();
      await redis.script('FLUSH');
      expect((await rl.increment('k')).totalHits).toBe(1);
    } finally {
      redis.disconnect();
    }
  });
});
