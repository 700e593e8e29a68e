// The revocation feed under a Redis restart (data lost) and a subscriber that stops reading.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import request from 'supertest';
import { type AuthServerEvents, type GuardEvents, MemoryStore, RedisStore } from '../../lib';
import { post, RS, SVC, seed, TOKEN } from '../helpers/app';
import { eventually } from '../helpers/eventually';
import { openFeed } from '../helpers/feed';
import { guardedApp, type LiveAuthServer, remoteGuard, startAuthServer } from '../helpers/guard';
import { uniquePrefix, waitReady } from '../helpers/redis';
import { Node } from '../helpers/redis-topologies';

jest.setTimeout(60_000);

describe('revocation feed across a Redis restart that loses its data', () => {
  let dir: string;
  let node: Node;
  let redis: Redis;
  let live: LiveAuthServer;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tw-feed-redis-'));
    node = await Node.start(dir, ['--save', '', '--appendonly', 'no']);
    redis = new Redis({ host: '127.0.0.1', port: node.port, maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    await waitReady(redis);
    const store = new RedisStore({ redis, prefix: uniquePrefix('feed-fo'), commandTimeout: 300 });
    live = await startAuthServer(store, {
      revocationFeed: { heartbeat: 1 },
      logger: { error: () => undefined, warn: () => undefined },
    });
    await seed(live.auth);
  });
  afterAll(async () => {
    await live?.auth.close();
    await live?.close();
    redis?.disconnect();
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('streams close while Redis is down; the guard falls back, fails closed, and resets on return', async () => {
    const closed: AuthServerEvents['feed.closed'][] = [];
    live.auth.events.on('feed.closed', (e) => closed.push(e));
    const guard = remoteGuard(live.issuer, { cacheTtl: 1, feed: true });
    const heard: GuardEvents['feed.change'][] = [];
    guard.events.on('feed.change', (e) => heard.push(e));
    const app = guardedApp(guard);
    try {
      await eventually(() => guard.feedStatus() === 'subscribed');
      const token = (await post(live.app, TOKEN, { grant_type: 'client_credentials' }, SVC)).body
        .access_token as string;
      const get = () => request(app).get('/me').set('Authorization', `Bearer ${token}`);
      expect((await get()).status).toBe(200);

      await node.kill();
      await eventually(() => guard.feedStatus() === 'connecting', 10_000);
      expect(closed.some((e) => e.reason === 'store')).toBe(true);
      // Unsubscribed: the cached answer lasts cacheTtl (1 s), then the guard must ask, and the
      // authorization server cannot answer: 503, never a stale 200.
      await new Promise((r) => setTimeout(r, 1200));
      const down = await get();
      expect(down.status).toBe(503);

      // Redis comes back empty: the guard's position is from a log that is gone, so it is told to
      // drop everything it cached, then it is subscribed again.
      await node.restart();
      await waitReady(redis);
      await seed(live.auth); // what the operator restores: the guard's client among it
      await eventually(() => guard.feedStatus() === 'subscribed', 20_000);
      await eventually(() => heard.some((e) => e.type === 'reset'));
    } finally {
      await guard.close();
    }
  });
});

describe('a subscriber that stops reading', () => {
  test('is dropped once its buffer fills; the feed goes on for everyone else', async () => {
    const store = new MemoryStore();
    const live = await startAuthServer(store, {
      revocationFeed: { heartbeat: 1, maxBuffer: 1 << 20 },
    });
    try {
      await seed(live.auth);
      const closed: AuthServerEvents['feed.closed'][] = [];
      live.auth.events.on('feed.closed', (e) => closed.push(e));
      // A raw socket that reads the response head, then nothing more.
      const socket = connect(live.port, '127.0.0.1');
      let head = '';
      socket.on('error', () => undefined);
      const auth = Buffer.from(`${RS.id}:${RS.secret}`).toString('base64');
      socket.write(
        `GET /oauth2/revocation-feed HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic ${auth}\r\nAccept: text/event-stream\r\n\r\n`,
      );
      await new Promise<void>((resolve) =>
        socket.on('data', (d) => {
          head += d.toString();
          if (head.includes('event: ready')) {
            socket.pause();
            resolve();
          }
        }),
      );
      expect(head).toMatch(/^HTTP\/1\.1 200/);
      // Far more than the kernel's socket buffers hold (2 KB changes, ~60 MB), in batches the feed
      // keeps up with.
      const TOTAL = 30_000;
      const pad = 'x'.repeat(2000);
      for (let i = 0; i < TOTAL; i += 250) {
        for (let j = i; j < i + 250; j++)
          await store.appendChange({
            type: 'grant.revoked',
            grantId: `${pad}${j}`,
            tenantId: 'acme',
          });
        await new Promise((r) => setTimeout(r, 5)); // the feed reads the log as it grows
      }
      await eventually(() => closed.some((e) => e.reason === 'slow'), 20_000);
      expect(closed.filter((e) => e.reason === 'slow')).toHaveLength(1);
      // The server let go of its connection (a paused client cannot notice until it reads).
      const open = () => new Promise<number>((r) => live.server.getConnections((_e, n) => r(n)));
      let connections = -1;
      await eventually(() => {
        void open().then((n) => {
          connections = n;
        });
        return connections === 0;
      }, 10_000);
      // The feed goes on: a new subscriber resumes and hears the next change at once.
      const next = await openFeed(`${live.issuer}/oauth2/revocation-feed`, RS);
      await next.ready();
      await store.appendChange({ type: 'grant.revoked', grantId: 'after', tenantId: 'acme' });
      const [after] = await next.waitForChanges(1);
      expect(JSON.parse(after?.data ?? '{}').grant_id).toBe('after');
      next.close();
      socket.destroy();
    } finally {
      await live.auth.close();
      await live.close();
      await store.close();
    }
  });
});
