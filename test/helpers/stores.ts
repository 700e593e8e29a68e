// Store factories for tests: MemoryStore, RedisStore on standalone Redis, RedisStore on the 3-master cluster.
import type { Cluster, Redis } from 'ioredis';
import { MemoryStore, RedisStore, type Store } from '../../lib';
import { newCluster, newRedis, uniquePrefix, waitReady } from './redis';

export type StoreKind = 'memory' | 'redis' | 'cluster';
export const STORE_KINDS: readonly StoreKind[] = ['memory', 'redis', 'cluster'];

export interface TestStore {
  kind: StoreKind;
  store: Store;
  /** The ioredis client (Redis kinds only). */
  redis?: Redis | Cluster;
  prefix?: string;
  /** A canonical dump of everything the store holds, to prove a request changed nothing. */
  snapshot(): Promise<string>;
  close(): Promise<void>;
}

/** Makes a fresh store for a test file; `name` keeps its keys apart from other files'. */
export type StoreFactory = (name: string) => Promise<TestStore>;

/** A {@link StoreFactory} for stores of `kind`. */
export const storeFactory =
  (kind: StoreKind, options: { commandTimeout?: number } = {}): StoreFactory =>
  (name) =>
    makeStore(kind, name, options);

async function dumpRedis(nodes: Redis[], prefix: string): Promise<string> {
  const out: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await node.type(key);
        const value =
          type === 'string'
            ? await node.get(key)
            : type === 'hash'
              ? JSON.stringify(Object.entries(await node.hgetall(key)).sort())
              : type === 'set'
                ? JSON.stringify((await node.smembers(key)).sort())
                : type === 'zset'
                  ? JSON.stringify(await node.zrange(key, 0, '-1', 'WITHSCORES'))
                  : type;
        out.push(`${key}=${value}`);
      }
    } while (cursor !== '0');
  }
  return out.sort().join('\n');
}

export async function makeStore(
  kind: StoreKind,
  name: string,
  options: {
    commandTimeout?: number;
    /** MemoryStore's clock (epoch seconds); RedisStore is given `now` with each call instead. */
    now?: () => number;
  } = {},
): Promise<TestStore> {
  const { now, ...redisOptions } = options;
  if (kind === 'memory') {
    const store = new MemoryStore(now ? { now } : {});
    return {
      kind,
      store,
      snapshot: async () => {
        const s = store as unknown as Record<string, unknown>;
        // Sets sorted, Maps (device sessions and their apps) as sorted entries.
        const dump = (m: unknown) =>
          JSON.stringify([...(m as Map<string, unknown>).entries()], (_k, v) =>
            v instanceof Set
              ? [...v].sort()
              : v instanceof Map
                ? [...v.entries()].sort(([a], [b]) => String(a).localeCompare(String(b)))
                : v,
          );
        return [
          'tenants',
          'clients',
          'users',
          'scopes',
          'grants',
          'sessions',
          'ledgers',
          'tombstones',
          'keys',
        ]
          .map((k) => (k === 'keys' ? JSON.stringify(s[k]) : dump(s[k])))
          .join('\n');
      },
      close: () => store.close(),
    };
  }
  const prefix = uniquePrefix(name);
  const redis = kind === 'redis' ? newRedis() : newCluster();
  await waitReady(redis);
  const store = new RedisStore({ redis, prefix, ...redisOptions });
  return {
    kind,
    store,
    redis,
    prefix,
    snapshot: () =>
      dumpRedis(kind === 'redis' ? [redis as Redis] : (redis as Cluster).nodes('master'), prefix),
    close: async () => {
      await store.close();
      await redis.quit();
    },
  };
}
