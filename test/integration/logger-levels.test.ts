// Log levels: refresh-token reuse and store outages go to logger.warn (throttled), internal errors to logger.error.
import { Redis } from 'ioredis';
import { MemoryStore, RedisStore } from '../../lib';
import { buildApp, post, refresh, SVC, seed, signIn, TOKEN } from '../helpers/app';
import { freePort } from '../helpers/redis-launcher';

function capture() {
  const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  return {
    lines,
    logger: {
      error: (fields: Record<string, unknown>, message: string) =>
        lines.push({ level: 'error', fields, message }),
      warn: (fields: Record<string, unknown>, message: string) => {
        // The test servers hash at a low scrypt cost, which is warned about once per process:
        // not a line these tests are about.
        if (!message.startsWith('passwordHashing.scryptCost'))
          lines.push({ level: 'warn', fields, message });
      },
    },
  };
}

describe('logger levels', () => {
  it('refresh-token reuse: one warn line with ids only', async () => {
    const store = new MemoryStore();
    const { lines, logger } = capture();
    const t = buildApp(store, { logger });
    await seed(t.auth);
    const s = await signIn(t.app);
    const r = await refresh(t.app, s.refresh_token);
    expect((await refresh(t.app, s.refresh_token)).status).toBe(400);
    expect(lines).toEqual([
      {
        level: 'warn',
        fields: {
          clientId: 'app',
          grantId: s.refresh_token.slice(0, s.refresh_token.lastIndexOf('.')),
        },
        message: 'refresh token reuse: family revoked',
      },
    ]);
    expect(JSON.stringify(lines)).not.toContain(s.refresh_token);
    expect(JSON.stringify(lines)).not.toContain(r.body.refresh_token);
    await store.close();
  });

  it('store outage: warn at most once per 5 s however many 503s, never error', async () => {
    const port = await freePort(); // nothing listens there
    const redis = new Redis(port, '127.0.0.1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 200,
    });
    redis.on('error', () => {});
    redis.connect().catch(() => {});
    const { lines, logger } = capture();
    const t = buildApp(new RedisStore({ redis, commandTimeout: 200 }), { logger });
    for (let i = 0; i < 5; i++) {
      const res = await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC);
      expect(res.status).toBe(503);
    }
    expect(lines).toEqual([
      {
        level: 'warn',
        // The cause names the Redis that could not be reached.
        fields: { endpoint: 'token', cause: expect.stringMatching(/^redis at 127\.0\.0\.1:\d+/) },
        message: 'store unavailable: answering 503',
      },
    ]);
    redis.disconnect();
  });
});
