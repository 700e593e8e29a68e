// Remote-mode guard against a live authorization server: introspection caching and coalescing, revocation bound, JWKS refetch limits, and fail-closed answers for bad metadata or credentials.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import {
  type AuthServer,
  type AuthServerOptions,
  createAuthServer,
  createGuard,
  type Logger,
  MemoryStore,
  type Store,
} from '../../lib';
import { RS, revoke, SVC, seed, signIn } from '../helpers/app';
import { testClock } from '../helpers/clock';
import { eventually } from '../helpers/eventually';
import { guardedApp, remoteGuard } from '../helpers/guard';
import { TEST_HASHING } from '../helpers/hashing';
import { keysAtRest } from '../helpers/key-secret';
import { makeStore, type TestStore } from '../helpers/stores';

/** A promise the test settles: holds an answer back for exactly as long as the test wants. */
function gate(): { wait: Promise<void>; open(): void } {
  let open = () => {};
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

/** An authorization server on a real port whose metadata, JWKS and introspection calls are counted. */
interface CountingAuthServer {
  issuer: string;
  auth: AuthServer;
  app: Express;
  counts: { metadata: number; jwks: number; introspect: number };
  /** While set, introspection answers wait for it (to keep calls in flight). */
  introspectHold: Promise<void> | undefined;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

async function startCountingAuthServer(
  store: Store,
  options: Partial<AuthServerOptions> = {},
): Promise<CountingAuthServer> {
  // The port must be known before the issuer: create the server first, attach the app after.
  const server = createServer();
  const issuer = `http://localhost:${await listen(server)}`;
  const auth = createAuthServer({
    issuer,
    store,
    rateLimit: false,
    passwordHashing: TEST_HASHING,
    ...keysAtRest(store, options),
    ...options,
  });
  const app = express();
  const live: CountingAuthServer = {
    issuer,
    auth,
    app,
    counts: { metadata: 0, jwks: 0, introspect: 0 },
    introspectHold: undefined,
    close: () => closeServer(server),
  };
  app.use(async (req, _res, next) => {
    if (req.method === 'GET' && req.path === '/.well-known/oauth-authorization-server')
      live.counts.metadata++;
    if (req.method === 'GET' && req.path === '/oauth2/jwks') live.counts.jwks++;
    if (req.method === 'POST' && req.path === '/oauth2/introspect') {
      live.counts.introspect++;
      await live.introspectHold;
    }
    next();
  });
  app.use(auth.router());
  server.on('request', app);
  return live;
}

/** A resource server on a real port (bursts of parallel requests share one listener). */
async function startResourceServer(app: Express): Promise<{ url: string; server: Server }> {
  const server = createServer(app);
  return { url: `http://127.0.0.1:${await listen(server)}`, server };
}

function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, error: (message, meta) => void lines.push(JSON.stringify({ message, meta })) };
}

const call = (target: Express | string, token: string, path = '/me') =>
  request(target).get(path).set('Authorization', `Bearer ${token}`);

const statuses = (target: Express | string, token: string, n: number) =>
  Promise.all(Array.from({ length: n }, () => call(target, token).then((r) => r.status)));

const payloadOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as {
    exp: number;
  };

/** Moves `clock` forward to the next time whose fraction of a second is `ms` milliseconds. */
function toFraction(clock: ReturnType<typeof testClock>, ms: number): void {
  clock.advance((ms - (clock() % 1000) + 1000) % 1000 || 1000);
}

/** An at+jwt token for `issuer` signed by a key the server never had, with a random kid. */
function foreignToken(issuer: string): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign(
    {
      iss: issuer,
      aud: issuer,
      sub: 'mallory',
      client_id: 'svc',
      scope: 'print',
      tenant_id: 'acme',
      jti: randomBytes(8).toString('hex'),
      gid: randomBytes(8).toString('hex'),
      gty: 'client_credentials',
      iat: now,
      exp: now + 600,
    },
    privateKey,
    {
      algorithm: 'ES256',
      keyid: randomBytes(16).toString('base64url'),
      header: { alg: 'ES256', typ: 'at+jwt' },
    },
  );
}

describe('remote-mode guard against a live authorization server', () => {
  let ts: TestStore;
  let live: CountingAuthServer;
  const servers: Server[] = [];

  beforeAll(async () => {
    ts = await makeStore('redis', 'guard-remote-cache');
    live = await startCountingAuthServer(ts.store);
    await seed(live.auth);
  });
  afterAll(async () => {
    await Promise.all(servers.map(closeServer));
    await live.close();
    await ts.close();
  });

  async function resourceServer(app: Express): Promise<string> {
    const rs = await startResourceServer(app);
    servers.push(rs.server);
    return rs.url;
  }

  /** A resource server counting the requests that reached it (and so its guard, in the same turn). */
  async function countingResourceServer(app: Express) {
    let arrived = 0;
    const rs = express();
    rs.use((_req, _res, next) => {
      arrived++;
      next();
    });
    rs.use(app);
    const url = await resourceServer(rs);
    /** Resolves once `n` requests in all have reached the guard and are waiting on what it awaits. */
    const reached = async (n: number) => {
      await eventually(() => arrived >= n);
      await new Promise((r) => setImmediate(r));
    };
    return { url, reached };
  }

  describe('introspection cache', () => {
    it('cacheTtl 1: 50 parallel requests → 1 introspection call; again within 1 s → none; after 1 s → 1 more', async () => {
      const clock = testClock();
      const { url, reached } = await countingResourceServer(
        guardedApp(remoteGuard(live.issuer, { cacheTtl: 1 }, { clock })),
      );
      // Metadata and JWKS loaded first, so that nothing but the introspection call is awaited.
      expect((await call(url, (await signIn(live.app)).access_token)).status).toBe(200);
      const { access_token: token } = await signIn(live.app);
      const before = live.counts.introspect;
      // The answer is held back until all 50 requests wait on the one call in flight: they must share it.
      const hold = gate();
      live.introspectHold = hold.wait;
      let burst: Promise<number[]>;
      try {
        burst = statuses(url, token, 50);
        await reached(1 + 50);
      } finally {
        live.introspectHold = undefined;
        hold.open();
      }
      expect(new Set(await burst)).toEqual(new Set([200]));
      expect(live.counts.introspect - before).toBe(1);
      clock.advance(749); // (from 0.75 s a request would also ask again, in the background)
      expect(new Set(await statuses(url, token, 10))).toEqual(new Set([200]));
      expect(live.counts.introspect - before).toBe(1);
      clock.advance(251);
      expect((await call(url, token)).status).toBe(200);
      expect(live.counts.introspect - before).toBe(2);
    });

    it('cacheTtl 1: past 0.75 s a request is answered from the cache and the answer is asked for again behind it', async () => {
      const clock = testClock();
      const { url, reached } = await countingResourceServer(
        guardedApp(remoteGuard(live.issuer, { cacheTtl: 1 }, { clock })),
      );
      const { access_token: token } = await signIn(live.app);
      const before = live.counts.introspect;
      expect((await call(url, token)).status).toBe(200);
      expect(live.counts.introspect - before).toBe(1);
      clock.advance(749);
      expect((await call(url, token)).status).toBe(200);
      expect(live.counts.introspect - before).toBe(1); // not yet due
      clock.advance(51);
      // The authorization server now answers only when the test says so: the request at 0.8 s
      // must not wait for it (it would hang), only start it.
      const hold = gate();
      live.introspectHold = hold.wait;
      try {
        expect((await call(url, token)).status).toBe(200);
        // The background call reaches the authorization server just after.
        await eventually(() => live.counts.introspect - before === 2);
        // 1.1 s after the first answer was asked for, the first one has expired and the second
        // has not arrived: this request waits for it; it does not start a third.
        clock.advance(300);
        const late = call(url, token).then((r) => r);
        await reached(4);
        expect(live.counts.introspect - before).toBe(2);
        hold.open();
        expect((await late).status).toBe(200);
        expect(live.counts.introspect - before).toBe(2);
      } finally {
        live.introspectHold = undefined;
        hold.open();
      }
    });

    it('cacheTtl 0: every request asks, and a revocation at the authorization server is refused on the very next request', async () => {
      const app = guardedApp(remoteGuard(live.issuer, { cacheTtl: 0 }));
      const s = await signIn(live.app);
      const before = live.counts.introspect;
      expect((await call(app, s.access_token)).status).toBe(200);
      expect((await call(app, s.access_token)).status).toBe(200);
      expect(live.counts.introspect - before).toBe(2);
      expect((await revoke(live.app, s.access_token)).status).toBe(200);
      const res = await call(app, s.access_token);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_token');
    });

    it('default cacheTtl (1 s), without the revocation feed: a revoked token is refused within cacheTtl + 0.5 s of the revocation', async () => {
      const clock = testClock();
      const app = guardedApp(
        createGuard({
          issuer: live.issuer,
          // Unsubscribed, cacheTtl bounds how stale an answer may be (the feed's own tests: revocation-feed.test.ts).
          introspection: { clientId: RS.id, clientSecret: RS.secret, feed: false },
          clock,
        }),
      );
      const s = await signIn(live.app);
      expect((await call(app, s.access_token)).status).toBe(200); // answer now cached
      expect((await revoke(live.app, s.refresh_token)).status).toBe(200);
      const revokedAt = clock();
      let refusedAfter: number | undefined;
      // A request every 50 ms of guard time, for 3 s of it.
      while (refusedAfter === undefined && clock() - revokedAt < 3000) {
        const res = await call(app, s.access_token);
        if (res.status === 401) refusedAfter = clock() - revokedAt;
        else expect(res.status).toBe(200);
        clock.advance(50);
      }
      expect(refusedAfter).toBeDefined();
      // The cached answer is served until cacheTtl at most; the refresh ahead may catch it sooner.
      expect(refusedAfter as number).toBeLessThanOrEqual(1000);
      expect(refusedAfter as number).toBeGreaterThanOrEqual(750);
      expect((await call(app, s.access_token)).status).toBe(401);
    });
  });

  describe('answers never outlive the token (accessTokenTtl 2, cacheTtl 60)', () => {
    // One clock for the authorization server, its store and the guard.
    const clock = testClock();
    const shortStore = new MemoryStore({ now: clock.seconds });
    let short: CountingAuthServer;
    let app: Express;
    beforeAll(async () => {
      short = await startCountingAuthServer(shortStore, { accessTokenTtl: 2, clock });
      await seed(short.auth);
      app = guardedApp(remoteGuard(short.issuer, { cacheTtl: 60 }, { clock }));
    });
    afterAll(async () => {
      await short.close();
      await shortStore.close();
    });

    it('after expiry the guard asks again and refuses (401)', async () => {
      const { access_token: token } = await signIn(short.app);
      const before = short.counts.introspect;
      expect((await call(app, token)).status).toBe(200);
      expect((await call(app, token)).status).toBe(200);
      expect(short.counts.introspect - before).toBe(1); // cached while the token lives
      clock.advance(payloadOf(token).exp * 1000 - 1 - clock());
      expect((await call(app, token)).status).toBe(200);
      expect(short.counts.introspect - before).toBe(1); // still cached 1 ms before exp
      clock.advance(1100 + 1);
      const res = await call(app, token);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_token');
      expect(short.counts.introspect - before).toBe(2);
    });

    it('not even a fraction of a second past exp: cached late in a second, refused 0.3 s after exp', async () => {
      const { access_token: token } = await signIn(short.app);
      const { exp } = payloadOf(token);
      // Cache the answer late in a second, so whole-second rounding of the time left would keep
      // it for most of a second past exp.
      toFraction(clock, 800);
      expect(clock()).toBeLessThan(exp * 1000);
      const before = short.counts.introspect;
      expect((await call(app, token)).status).toBe(200);
      clock.advance(exp * 1000 + 300 - clock());
      const res = await call(app, token);
      expect(res.status).toBe(401);
      expect(short.counts.introspect - before).toBe(2); // asked again, not served from the cache
    });
  });

  describe('JWKS', () => {
    it('rotation: a token with the new kid is accepted (JWKS refetched), old tokens still accepted; unknown kids refetch at most once per jwksRefreshInterval', async () => {
      const interval = 2;
      const clock = testClock();
      const app = guardedApp(
        remoteGuard(live.issuer, {}, { jwksRefreshInterval: interval, clock }),
      );
      const old = (await signIn(live.app)).access_token;
      const before = live.counts.jwks;
      expect((await call(app, old)).status).toBe(200);
      expect(live.counts.jwks - before).toBe(1); // first use
      const burst = async () => {
        const answers = await Promise.all(
          Array.from({ length: 20 }, () => call(app, foreignToken(live.issuer))),
        );
        for (const res of answers) {
          expect(res.status).toBe(401);
          expect(res.body.error).toBe('invalid_token');
        }
      };
      await burst(); // at most one refetch for the whole burst
      const settled = live.counts.jwks - before;
      expect(settled).toBeLessThanOrEqual(2);
      clock.advance(interval * 1000 - 1);
      await burst(); // within the interval: none
      expect(live.counts.jwks - before).toBe(settled);
      clock.advance(1);
      await burst(); // the interval has passed: exactly one, shared by the whole burst
      expect(live.counts.jwks - before).toBe(settled + 1);
      await burst();
      expect(live.counts.jwks - before).toBe(settled + 1);

      clock.advance(interval * 1000);
      const newKid = await live.auth.admin.rotateKeys();
      const fresh = (await signIn(live.app)).access_token;
      expect(
        JSON.parse(Buffer.from(fresh.split('.')[0] as string, 'base64url').toString()).kid,
      ).toBe(newKid);
      const res = await call(app, fresh);
      expect(res.status).toBe(200);
      expect(res.body.subject).toBe('alice');
      expect(live.counts.jwks - before).toBe(settled + 2);
      expect((await call(app, old)).status).toBe(200);
    });

    it('a rotation right after the guard first fetched the JWKS: the new kid is fetched at once (that fetch was not caused by an unknown kid)', async () => {
      const app = guardedApp(remoteGuard(live.issuer));
      const old = (await signIn(live.app)).access_token;
      expect((await call(app, old)).status).toBe(200); // first JWKS fetch
      await live.auth.admin.rotateKeys();
      const fresh = (await signIn(live.app)).access_token;
      const res = await call(app, fresh);
      expect(res.status).toBe(200);
      expect((await call(app, old)).status).toBe(200);
    });

    it('unknown-kid refetches are never less than jwksRefreshInterval apart, across a second boundary', async () => {
      const clock = testClock();
      const app = guardedApp(remoteGuard(live.issuer, {}, { jwksRefreshInterval: 1, clock }));
      const old = (await signIn(live.app)).access_token;
      const first = live.counts.jwks;
      expect((await call(app, old)).status).toBe(200);
      expect(live.counts.jwks - first).toBe(1);
      clock.advance(1100);
      // A refetch late in one second, then a burst just after the next second starts.
      toFraction(clock, 850);
      expect((await call(app, foreignToken(live.issuer))).status).toBe(401);
      expect(live.counts.jwks - first).toBe(2);
      toFraction(clock, 50); // 0.2 s later, in the next second
      for (let i = 0; i < 5; i++)
        expect((await call(app, foreignToken(live.issuer))).status).toBe(401);
      expect(live.counts.jwks - first).toBe(2);
      toFraction(clock, 849); // 0.999 s after the refetch: still none
      expect((await call(app, foreignToken(live.issuer))).status).toBe(401);
      expect(live.counts.jwks - first).toBe(2);
      clock.advance(1); // 1 s after it: one more
      expect((await call(app, foreignToken(live.issuer))).status).toBe(401);
      expect(live.counts.jwks - first).toBe(3);
    });
  });

  describe('fail closed', () => {
    it('metadata naming another issuer: 503 with Retry-After (not 401), retried on the next request, its jwks_uri never used', async () => {
      const fake = express();
      let metadataHits = 0;
      fake.get('/.well-known/oauth-authorization-server', (_req, res) => {
        metadataHits++;
        res.json({
          issuer: live.issuer, // not the fake's own issuer
          jwks_uri: `${live.issuer}/oauth2/jwks`,
          introspection_endpoint: `${live.issuer}/oauth2/introspect`,
        });
      });
      const fakeServer = createServer(fake);
      servers.push(fakeServer);
      const fakeIssuer = `http://localhost:${await listen(fakeServer)}`;
      const logger = captureLogger();
      const guard = remoteGuard(fakeIssuer, {}, { logger });
      // The start-up check reads the metadata too, and fails as requests will: it only warns.
      await guard.ready();
      expect(metadataHits).toBe(1);
      metadataHits = 0;
      const app = guardedApp(guard);
      const token = (await signIn(live.app)).access_token;
      const jwksBefore = live.counts.jwks;
      for (let i = 0; i < 2; i++) {
        const res = await call(app, token);
        expect(res.status).toBe(503);
        expect(res.body).toEqual({
          error: 'temporarily_unavailable',
          error_description: expect.any(String),
        });
        expect(res.headers['retry-after']).toBe('1');
      }
      // At least once per request (the start-up check may ask again meanwhile, 2 s apart).
      expect(metadataHits).toBeGreaterThanOrEqual(2);
      expect(live.counts.jwks).toBe(jwksBefore);
      expect(logger.lines.length).toBeGreaterThan(0);
    });

    it.each([
      [
        'a wrong secret',
        { clientId: RS.id, clientSecret: 'not-the-secret-0123456789' },
        /refused the guard's introspection credentials .*introspection\.clientSecret/,
      ],
      [
        'a client not allowed to introspect',
        { clientId: SVC.id, clientSecret: SVC.secret },
        /may not introspect.*introspect: true/,
      ],
    ])(
      'introspection credentials refused (%s): a configuration error, not an outage — ready() rejects at start-up with the fix logged, requests get 500 server_error (no Retry-After), and no log line holds the token or secret',
      async (_name, credentials, fix) => {
        const logger = captureLogger();
        const guard = remoteGuard(live.issuer, credentials, { logger });
        await expect(guard.ready()).rejects.toThrow(fix);
        expect(logger.lines.join('\n')).toMatch(fix);
        const app = guardedApp(guard);
        const token = (await signIn(live.app)).access_token;
        const res = await call(app, token);
        expect(res.status).toBe(500);
        expect(res.body).toEqual({
          error: 'server_error',
          error_description: 'the server is misconfigured',
        });
        expect(res.headers['retry-after']).toBeUndefined();
        expect(res.headers['www-authenticate']).toBeUndefined();
        expect(logger.lines.length).toBeGreaterThan(0);
        const logged = logger.lines.join('\n');
        expect(logged).not.toContain(token);
        expect(logged).not.toContain(token.split('.')[2]);
        expect(logged).not.toContain(credentials.clientSecret);
        const basic = Buffer.from(`${credentials.clientId}:${credentials.clientSecret}`);
        expect(logged).not.toContain(basic.toString('base64'));
      },
    );
  });
});
