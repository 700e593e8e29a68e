// Helpers for test files: clients for the Redis servers started by the jest globalSetup.
import { randomBytes } from 'node:crypto';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

function env(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: the jest globalSetup (test/helpers/global-setup.ts) did not run`,
    );
  }
  return value;
}

const standalonePort = (): number => Number(env('TW_REDIS_PORT'));
const clusterPorts = (): number[] => env('TW_CLUSTER_PORTS').split(',').map(Number);

export function redisUrl(): string {
  return `redis://127.0.0.1:${standalonePort()}`;
}

export function newRedis(opts: RedisOptions = {}): Redis {
  return new Redis({
    host: '127.0.0.1',
    port: standalonePort(),
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    ...opts,
  });
}

export function newCluster(opts: ClusterOptions = {}): Cluster {
  const nodes = clusterPorts().map((port) => ({ host: '127.0.0.1', port }));
  return new Cluster(nodes, {
    ...opts,
    redisOptions: { maxRetriesPerRequest: 1, ...opts.redisOptions },
  });
}

/** A per-test key prefix like `t-name-1a2b3c4d:`, free of hash-tag braces. */
export function uniquePrefix(name: string): string {
  return `t-${name.replace(/[{}]/g, '')}-${randomBytes(4).toString('hex')}:`;
}

export function waitReady(client: Redis | Cluster, timeoutMs = 10_000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      client.removeListener('ready', onReady);
      reject(new Error(`redis client not ready after ${timeoutMs} ms (status: ${client.status})`));
    }, timeoutMs);
    client.once('ready', onReady);
  });
}
