// A refresh rotation cut off by a hung Redis never leaves the client without a usable refresh token.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisStore } from '../../lib';
import { buildApp, introspect, refresh, seed, signIn, type TestApp } from '../helpers/app';
import { waitReady } from '../helpers/redis';
import { type Standalone, startStandalone } from '../helpers/redis-launcher';

describe('refresh rotation cut off by a hung Redis', () => {
  let dir: string;
  let server: Standalone;
  let redis: Redis;
  let t: TestApp;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tw-cutoff-'));
    server = await startStandalone(dir);
    redis = new Redis(server.port, '127.0.0.1'); // default options: commands queue, nothing is lost
    await waitReady(redis);
    t = buildApp(new RedisStore({ redis, commandTimeout: 300 }));
    await seed(t.auth);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the rotation runs after the 503, yet the retry with the same token succeeds (not reuse) and the family lives', async () => {
    const s = await signIn(t.app);
    process.kill(server.pid, 'SIGSTOP');
    let cut: Awaited<ReturnType<typeof refresh>>;
    try {
      cut = await refresh(t.app, s.refresh_token);
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
    expect(cut.status).toBe(503);
    expect(cut.body.error).toBe('temporarily_unavailable');
    // The rotation did take effect while nobody was waiting for it: the presented token is no
    // longer current. (Redis runs the queued rotation, then its abandonment, then this question:
    // one connection, in order.)
    expect(await introspect(t.app, s.refresh_token)).toEqual({ active: false });
    const retry = await refresh(t.app, s.refresh_token);
    expect(retry.status).toBe(200);
    const next = await refresh(t.app, retry.body.refresh_token);
    expect(next.status).toBe(200);
    // ...and only once: the first token is now spent for good.
    const replay = await refresh(t.app, s.refresh_token);
    expect(replay.status).toBe(400);
  });

  it('a rotation that answered normally is unaffected: replaying the old token is reuse', async () => {
    const s = await signIn(t.app);
    const ok = await refresh(t.app, s.refresh_token);
    expect(ok.status).toBe(200);
    expect((await refresh(t.app, s.refresh_token)).status).toBe(400);
    expect((await refresh(t.app, ok.body.refresh_token)).status).toBe(400); // family revoked
  });
});
