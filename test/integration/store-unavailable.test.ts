// Fail closed: with Redis stopped or hung every endpoint answers 503 temporarily_unavailable
// with Retry-After in bounded time, never 500 and never a token; service recovers when Redis returns.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisStore } from '../../lib';
import {
  ALICE,
  APP,
  buildApp,
  INTROSPECT,
  post,
  REVOKE,
  RS,
  SVC,
  seed,
  signIn,
  type TestApp,
  TOKEN,
} from '../helpers/app';
import { waitReady } from '../helpers/redis';
import { type Standalone, startStandalone } from '../helpers/redis-launcher';

const PERSIST = ['--appendonly', 'yes', '--appendfsync', 'always'];

describe('RedisStore with Redis unavailable', () => {
  let dir: string;
  let server: Standalone;
  let redis: Redis;
  let t: TestApp;
  let session: { access_token: string; refresh_token: string };
  let untouched: { access_token: string; refresh_token: string };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tw-outage-'));
    server = await startStandalone(dir, { args: PERSIST });
    // A plain client as users create it: offline queue on, 20 retries per request.
    redis = new Redis(server.port, '127.0.0.1');
    await waitReady(redis);
    t = buildApp(new RedisStore({ redis, commandTimeout: 300 }), {
      rateLimit: {
        failedPasswordsPerIp: 10_000,
        failedPasswordsPerUsername: 10_000,
        failedClientAuthPerIp: 10_000,
      },
    });
    await seed(t.auth);
    session = await signIn(t.app);
    untouched = await signIn(t.app);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const requests = () => [
    post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC),
    post(t.app, TOKEN, { grant_type: 'password', client_id: APP.id, ...ALICE }),
    post(t.app, TOKEN, {
      grant_type: 'refresh_token',
      client_id: APP.id,
      refresh_token: session.refresh_token,
    }),
    post(t.app, REVOKE, { token: session.refresh_token, client_id: APP.id }),
    post(t.app, INTROSPECT, { token: session.access_token }, RS),
  ];

  async function expectAllUnavailable() {
    const started = Date.now();
    const responses = await Promise.all(requests());
    for (const res of responses) {
      expect(res.status).toBe(503);
      expect(res.body).toEqual({
        error: 'temporarily_unavailable',
        error_description: expect.any(String),
      });
      expect(res.headers['retry-after']).toBe('1');
      expect(res.body.access_token).toBeUndefined();
    }
    // Bounded: a few command timeouts, not ioredis' retry loop (seconds per command).
    expect(Date.now() - started).toBeLessThan(5000);
  }

  it('hung Redis (SIGSTOP): every endpoint 503 with Retry-After; recovers on SIGCONT', async () => {
    process.kill(server.pid, 'SIGSTOP');
    try {
      await expectAllUnavailable();
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
    const res = await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC);
    expect(res.status).toBe(200);
  });

  it('stopped Redis: 503 while down, then recovery without restarting the app', async () => {
    await server.stop();
    await expectAllUnavailable();
    server = await startStandalone(dir, { port: server.port, args: PERSIST });
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC)).status;
      if (status === 200) break;
      expect(status).toBe(503);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
    // State written before the outage survived (append-only file): a session made before it still
    // refreshes. (Not `session`: a command that timed out while Redis hung may still run after SIGCONT.)
    const r = await post(t.app, TOKEN, {
      grant_type: 'refresh_token',
      client_id: APP.id,
      refresh_token: untouched.refresh_token,
    });
    expect(r.status).toBe(200);
  });
});
