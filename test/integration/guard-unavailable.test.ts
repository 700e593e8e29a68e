// Fail closed for guards: with Redis or the authorization server down, guarded requests answer 503 with Retry-After in bounded time (never 200, never 401) and recover by themselves.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import { Redis } from 'ioredis';
import request from 'supertest';
import { type Logger, MemoryStore, RedisStore } from '../../lib';
import { buildApp, ISSUER, seed, signIn, type TestApp } from '../helpers/app';
import {
  guardedApp,
  type LiveAuthServer,
  localGuard,
  remoteGuard,
  startAuthServer,
} from '../helpers/guard';
import { waitReady } from '../helpers/redis';
import { type Standalone, startStandalone } from '../helpers/redis-launcher';

const PERSIST = ['--appendonly', 'yes', '--appendfsync', 'always'];
const COMMAND_TIMEOUT = 300;
/** Generous bound on one guarded request during an outage: a command timeout plus a wide margin. */
const OUTAGE_BOUND_MS = 3000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A logger that keeps what it is given, so outages do not print and tests can inspect it. */
function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, error: (message, meta) => void lines.push(JSON.stringify({ message, meta })) };
}

const call = (app: Express, token: string) =>
  request(app).get('/me').set('Authorization', `Bearer ${token}`);

/** Every request 503 temporarily_unavailable with Retry-After and a JSON body, each within the bound. */
async function expectUnavailable(app: Express, tokens: string[]): Promise<number> {
  let slowest = 0;
  const timed = async (token: string) => {
    const started = Date.now();
    const res = await call(app, token);
    const took = Date.now() - started;
    slowest = Math.max(slowest, took);
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: expect.any(String),
    });
    expect(res.headers['retry-after']).toBe('1');
    expect(res.headers['token-expires-in']).toBeUndefined();
    expect(took).toBeLessThan(OUTAGE_BOUND_MS);
  };
  // In parallel, then one after another: neither a burst nor a lone request may hang.
  await Promise.all(tokens.map(timed));
  for (const token of tokens) await timed(token);
  return slowest;
}

/** Polls until `token` is admitted again; returns the milliseconds it took (fails after 10 s). */
async function expectRecovery(app: Express, token: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    const res = await call(app, token);
    if (res.status === 200) return Date.now() - started;
    // While it recovers: still unavailable, never "invalid".
    expect(res.status).toBe(503);
    if (Date.now() - started > 10_000) throw new Error('guard did not recover within 10 s');
    await sleep(100);
  }
}

describe('local-mode guard with its Redis unavailable', () => {
  let dir: string;
  let server: Standalone;
  let asClient: Redis;
  let failFast: Redis;
  let plain: Redis;
  let as: TestApp;
  /** Guard apps keyed by how their ioredis client was built. */
  let apps: Record<'failFast' | 'plain', Express>;
  const logger = captureLogger();
  let seen: string;
  let unseen: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tw-guard-outage-'));
    server = await startStandalone(dir, { args: PERSIST });
    asClient = new Redis(server.port, '127.0.0.1');
    // Fail-fast options as the README recommends, and a plain client that queues offline.
    failFast = new Redis({
      host: '127.0.0.1',
      port: server.port,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 500,
    });
    plain = new Redis(`redis://127.0.0.1:${server.port}`);
    await Promise.all([waitReady(asClient), waitReady(failFast), waitReady(plain)]);
    as = buildApp(new RedisStore({ redis: asClient }));
    await seed(as.auth);
    const guarded = (redis: Redis) =>
      guardedApp(
        localGuard(ISSUER, new RedisStore({ redis, commandTimeout: COMMAND_TIMEOUT }), { logger }),
      );
    apps = { failFast: guarded(failFast), plain: guarded(plain) };
    seen = (await signIn(as.app)).access_token;
    // Issued before the outage, not shown to the guards before it: its signature is checked during it.
    unseen = (await signIn(as.app)).access_token;
    for (const app of Object.values(apps)) expect((await call(app, seen)).status).toBe(200);
  });
  afterAll(async () => {
    for (const c of [asClient, failFast, plain]) c.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['failFast', 'plain'] as const)(
    'hung Redis (SIGSTOP), %s client: 503 with Retry-After within the bound; the same token admitted after SIGCONT',
    async (name) => {
      const app = apps[name];
      logger.lines.length = 0;
      process.kill(server.pid, 'SIGSTOP');
      try {
        await expectUnavailable(app, [seen, unseen, seen]);
      } finally {
        process.kill(server.pid, 'SIGCONT');
      }
      expect(await expectRecovery(app, seen)).toBeLessThan(10_000);
      expect((await call(app, unseen)).status).toBe(200);
      // The failure was logged, without the tokens.
      expect(logger.lines.length).toBeGreaterThan(0);
      for (const token of [seen, unseen])
        expect(logger.lines.join('\n')).not.toContain(token.split('.')[2]);
    },
  );

  it('stopped Redis: both clients 503 within the bound; restarted on the same port, the same token admitted again', async () => {
    await server.stop();
    // Down long enough for ioredis' reconnect back-off to grow: recovery must not depend on luck.
    const downUntil = Date.now() + 1500;
    while (Date.now() < downUntil) {
      for (const app of Object.values(apps)) await expectUnavailable(app, [seen, unseen]);
      await sleep(250);
    }
    server = await startStandalone(dir, { port: server.port, args: PERSIST });
    for (const app of Object.values(apps)) {
      expect(await expectRecovery(app, seen)).toBeLessThan(10_000);
      expect((await call(app, unseen)).status).toBe(200);
    }
  });
});

describe('remote-mode guard with the authorization server unavailable', () => {
  const store = new MemoryStore();
  let live: LiveAuthServer;
  let token: string;
  let hanging: Server;
  const hangingSockets = new Set<Socket>();

  beforeAll(async () => {
    live = await startAuthServer(store);
    await seed(live.auth);
    token = (await signIn(live.app)).access_token;
    // Accepts connections and never answers: an authorization server that hangs.
    hanging = createServer(() => {});
    hanging.on('connection', (s) => {
      hangingSockets.add(s);
      s.on('close', () => hangingSockets.delete(s));
    });
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    await live.close();
    for (const s of hangingSockets) s.destroy();
    await new Promise<void>((r) => hanging.close(() => r()));
    await store.close();
  });

  /** Stop the authorization server's HTTP server, run `during`, start it again on the same port. */
  async function withServerDown(during: () => Promise<void>): Promise<void> {
    await live.close();
    try {
      await during();
    } finally {
      live = await startAuthServer(store, { port: live.port });
    }
  }

  it('cacheTtl 0: 503 with Retry-After (not 401) while it is down; 200 again once it is back on the same port', async () => {
    const logger = captureLogger();
    const app = guardedApp(remoteGuard(live.issuer, { cacheTtl: 0 }, { logger }));
    expect((await call(app, token)).status).toBe(200);
    const fresh = (await signIn(live.app)).access_token; // never shown to this guard
    await withServerDown(async () => {
      await expectUnavailable(app, [token, fresh]);
    });
    expect(await expectRecovery(app, token)).toBeLessThan(10_000);
    expect((await call(app, fresh)).status).toBe(200);
    expect(logger.lines.length).toBeGreaterThan(0);
    expect(logger.lines.join('\n')).not.toContain(token.split('.')[2]);
  });

  it('a hanging introspection endpoint: 503 within the timeout option, no hang', async () => {
    const { port } = hanging.address() as AddressInfo;
    const app = guardedApp(
      remoteGuard(
        live.issuer,
        { endpoint: `http://127.0.0.1:${port}/introspect`, timeout: 500 },
        { logger: captureLogger() },
      ),
    );
    await expectUnavailable(app, [token]);
  });

  // What is asserted: with cacheTtl 2, after an answer is cached at time T, requests while the
  // authorization server is down are admitted only if they start before T + 2 s; once one is
  // refused (503) none is admitted again while it stays down; and the first 503 comes no later
  // than T + 2.5 s. No 401 at any point: the token was never found invalid.
  it('cacheTtl 2: a cached answer admits the token while the server is down, only within cacheTtl', async () => {
    const cacheTtl = 2;
    const app = guardedApp(remoteGuard(live.issuer, { cacheTtl }, { logger: captureLogger() }));
    expect((await call(app, token)).status).toBe(200);
    const cachedBy = Date.now(); // the answer was cached before this response arrived
    await withServerDown(async () => {
      const admittedAt: number[] = [];
      let firstRefusal: number | undefined;
      while (firstRefusal === undefined && Date.now() - cachedBy < (cacheTtl + 2) * 1000) {
        const started = Date.now();
        const res = await call(app, token);
        if (res.status === 200) admittedAt.push(started);
        else {
          expect(res.status).toBe(503);
          expect(res.headers['retry-after']).toBe('1');
          firstRefusal = Date.now();
        }
        await sleep(100);
      }
      expect(admittedAt.length).toBeGreaterThan(0); // the cache did serve while down
      for (const t of admittedAt) expect(t).toBeLessThan(cachedBy + cacheTtl * 1000);
      expect(firstRefusal).toBeDefined();
      expect((firstRefusal as number) - cachedBy).toBeLessThanOrEqual(cacheTtl * 1000 + 500);
      for (let i = 0; i < 3; i++) expect((await call(app, token)).status).toBe(503);
    });
    expect(await expectRecovery(app, token)).toBeLessThan(10_000);
  });
});
