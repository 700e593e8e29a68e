// RedisStore `durability`: token writes wait for a replica (WAIT) in the same round trip, or fail as unavailable.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { ConfigError, RedisStore } from '../../lib';
import { redisKeys } from '../../lib/store/keys';
import { parseRefreshToken } from '../../lib/tokens/refresh-token';
import { buildApp, refresh, revoke, seed, signIn, type TestApp } from '../helpers/app';
import { newCluster, uniquePrefix, waitReady } from '../helpers/redis';
import { type Standalone, startStandalone } from '../helpers/redis-launcher';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('RedisStore durability (WAIT for a replica)', () => {
  let dir: string;
  let master: Standalone;
  let replica: Standalone;
  let redis: Redis;
  let replicaClient: Redis;
  let t: TestApp;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tw-durable-'));
    master = await startStandalone(path.join(dir, 'master'));
    replica = await startStandalone(path.join(dir, 'replica'), {
      args: ['--replicaof', '127.0.0.1', String(master.port)],
    });
    redis = new Redis(master.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    replicaClient = new Redis(replica.port, '127.0.0.1');
    await waitReady(redis);
    await waitReady(replicaClient);
    for (let i = 0; i < 100; i++) {
      const info = await redis.info('replication');
      if (/connected_slaves:1/.test(info) && /state=online/.test(info)) break;
      await sleep(100);
    }
    t = buildApp(
      new RedisStore({ redis, commandTimeout: 1000, durability: { replicas: 1, timeout: 300 } }),
    );
    await seed(t.auth);
  });
  afterAll(async () => {
    redis.disconnect();
    replicaClient.disconnect();
    await replica.stop();
    await master.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a sign-in, a rotation and a revocation are on the replica when the client gets its answer', async () => {
    const s = await signIn(t.app);
    const grantKeys = async () =>
      (await replicaClient.keys('tw:{*:g:*')).filter((k) => !k.endsWith(':rts'));
    const before = new Set(await grantKeys());
    // The replica is held back for a moment: the rotation's answer must wait for it (well within
    // the 300 ms durability timeout), where without WAIT it would come back at once.
    process.kill(replica.pid, 'SIGSTOP');
    let resumed = false;
    const resume = setTimeout(() => {
      resumed = true;
      process.kill(replica.pid, 'SIGCONT');
    }, 100);
    let r: Awaited<ReturnType<typeof refresh>>;
    try {
      r = await refresh(t.app, s.refresh_token);
    } finally {
      clearTimeout(resume);
      process.kill(replica.pid, 'SIGCONT');
    }
    expect(r.status).toBe(200);
    expect(resumed).toBe(true);
    // No sleep: WAIT returned only once the replica had the writes — the new refresh token's hash
    // is current there (the sign-in's one was replaced).
    const gid = parseRefreshToken(r.body.refresh_token)?.grantId as string;
    const grantKey = redisKeys('tw:').grant(gid);
    const onReplica = await replicaClient.hgetall(grantKey);
    expect(onReplica.cur).toBe(parseRefreshToken(r.body.refresh_token)?.hash.split('.')[0]);
    expect(before.has(grantKey)).toBe(true);
    expect((await revoke(t.app, r.body.refresh_token)).status).toBe(200);
    expect(await replicaClient.hget(grantKey, 'rev')).toBe('1');
  });

  it('without a replica acknowledging: 503 temporarily_unavailable, and the rotation can be retried', async () => {
    const s = await signIn(t.app);
    process.kill(replica.pid, 'SIGSTOP');
    let res: Awaited<ReturnType<typeof refresh>>;
    let signInStatus: number;
    const started = Date.now();
    try {
      res = await refresh(t.app, s.refresh_token);
      signInStatus = (
        await signIn(t.app).then(
          () => ({ status: 200 }),
          (e: Error) => ({ status: Number(/sign-in failed: (\d+)/.exec(e.message)?.[1]) }),
        )
      ).status;
    } finally {
      process.kill(replica.pid, 'SIGCONT');
    }
    expect(Date.now() - started).toBeLessThan(3000);
    expect(res.status).toBe(503);
    expect(res.body.error).toBe('temporarily_unavailable');
    expect(res.headers['retry-after']).toBe('1');
    expect(signInStatus).toBe(503);
    await sleep(300);
    // The rotation did happen on the master; it was abandoned, so the same token still works once.
    const retry = await refresh(t.app, s.refresh_token);
    expect(retry.status).toBe(200);
  });

  it('rejects a bad durability option at start-up', () => {
    expect(() => new RedisStore({ redis, durability: { replicas: 0, timeout: 100 } })).toThrow(
      ConfigError,
    );
    expect(
      () =>
        new RedisStore({ redis, commandTimeout: 500, durability: { replicas: 1, timeout: 500 } }),
    ).toThrow(ConfigError);
  });

  it('on Redis Cluster the WAIT goes with the script to its master (no replicas there: 0 of 1 → 503)', async () => {
    const cluster = newCluster();
    await waitReady(cluster);
    try {
      const c = buildApp(
        new RedisStore({
          redis: cluster,
          prefix: uniquePrefix('durable'),
          durability: { replicas: 1, timeout: 50 },
        }),
      );
      await seed(c.auth);
      await expect(signIn(c.app)).rejects.toThrow(/sign-in failed: 503/);
      // ...and for the right reason: WAIT answered (0 replicas), not a routing error.
      const store = c.auth.store;
      const grant = {
        id: 'x'.repeat(22),
        clientId: 'app',
        tenantId: 'acme',
        grantType: 'password' as const,
        subject: 'alice',
        scope: 'print',
        createdAt: 1,
        maxExpiresAt: 2e9,
      };
      await expect(store.createGrant(grant, { jti: 'j', accessExpiresAt: 2e9 })).rejects.toThrow(
        'write acknowledged by 0 of 1 replicas',
      );
    } finally {
      await cluster.quit();
    }
  });
});
