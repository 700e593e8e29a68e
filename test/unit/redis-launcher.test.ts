// Proves the jest globalSetup starts a working standalone Redis and a 3-master cluster.
import type { Cluster, Redis } from 'ioredis';
import { newCluster, newRedis, uniquePrefix, waitReady } from '../helpers/redis';

describe('redis test servers', () => {
  let redis: Redis;
  let cluster: Cluster;

  beforeAll(async () => {
    redis = newRedis();
    cluster = newCluster();
    await Promise.all([waitReady(redis), waitReady(cluster)]);
  });

  afterAll(async () => {
    await Promise.all([redis.quit(), cluster.quit()]);
  });

  it('standalone answers PING and SET/GET', async () => {
    const key = `${uniquePrefix('standalone')}k`;
    expect(await redis.ping()).toBe('PONG');
    await redis.set(key, 'v', 'EX', 60);
    expect(await redis.get(key)).toBe('v');
  });

  it('cluster is ok with 3 masters and round-trips a key', async () => {
    expect(await cluster.cluster('INFO')).toContain('cluster_state:ok');
    expect(cluster.nodes('master')).toHaveLength(3);
    const key = `${uniquePrefix('cluster')}k`;
    await cluster.set(key, 'v', 'EX', 60);
    expect(await cluster.get(key)).toBe('v');
  });

  it('cluster runs EVAL over two keys sharing a hash tag', async () => {
    const prefix = uniquePrefix('eval');
    const [a, b] = [`${prefix}{x}a`, `${prefix}{x}b`];
    const script =
      "redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[1]); return redis.call('MGET', KEYS[1], KEYS[2])";
    expect(await cluster.eval(script, 2, a, b, 'y')).toEqual(['y', 'y']);
    await cluster.del(a, b);
  });
});
