// "Tokens and secrets are never logged" (RFC 9700 §4.14, RFC 6819 §5.1.4.1): every flow, a forced 500 and a Redis outage run with capturing loggers; no line carries a token, client secret or password used.
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import express, { type Express } from 'express';
import { Redis } from 'ioredis';
import request from 'supertest';
import {
  createAuthServer,
  createGuard,
  type Logger,
  MemoryStore,
  RedisStore,
  type Store,
} from '../../lib';
import {
  ALICE,
  APP,
  BOB,
  INTROSPECT,
  ISSUER,
  post,
  REVOKE,
  RS,
  SVC,
  SVC_RT,
  seed,
  TOKEN,
  WEB,
} from '../helpers/app';
import { TEST_HASHING } from '../helpers/hashing';
import { keysAtRest } from '../helpers/key-secret';
import { makeStore, type TestStore } from '../helpers/stores';

/** Every line any logger or the console received, as JSON text of its arguments. */
const lines: string[] = [];
const capture = (source: string): Logger => ({
  error: (...args) => void lines.push(JSON.stringify([source, ...args])),
});

/** Every secret value used in the run: tokens issued, client secrets, passwords (right and wrong). */
const secrets = new Set<string>([
  SVC.secret,
  SVC_RT.secret,
  RS.secret,
  WEB.secret,
  ALICE.password,
  BOB.password,
]);
function remember(body: { access_token?: string; refresh_token?: string }): void {
  for (const token of [body.access_token, body.refresh_token]) {
    if (!token) continue;
    secrets.add(token);
    // The part that makes it a credential: a JWT's signature, a refresh token's secret.
    secrets.add(token.split(/[.~]/).at(-1) as string);
  }
}

/** Captured lines from index `from` on that carry a secret: the line's start and which secrets. */
function leaks(from = 0): { line: string; secrets: string[] }[] {
  return lines
    .slice(from)
    .map((line) => ({
      line: line.slice(0, 120),
      secrets: [...secrets].filter((s) => line.includes(s)).map((s) => `${s.slice(0, 10)}…`),
    }))
    .filter((l) => l.secrets.length > 0);
}

/** An Express app with the auth server, plus /me behind a local-mode guard, both on `store`. */
function build(store: Store, name: string, options: { rateLimit?: false } = {}) {
  const auth = createAuthServer({
    issuer: ISSUER,
    store,
    logger: capture(`${name} server`),
    passwordHashing: TEST_HASHING,
    ...keysAtRest(store),
    ...options,
  });
  const guard = createGuard({ issuer: ISSUER, store, logger: capture(`${name} guard`) });
  const app = express();
  app.use(auth.router());
  app.get('/me', guard.authenticate(), guard.resolveIdentity(), (req, res) => {
    res.json({ subject: req.auth?.subject });
  });
  return { app, auth };
}

const bearer = (app: Express, token: string) =>
  request(app).get('/me').set('Authorization', `Bearer ${token}`);
const password = (app: Express, username: string, pw: string) => {
  secrets.add(pw);
  return post(app, TOKEN, { grant_type: 'password', client_id: APP.id, username, password: pw });
};

/** A store whose token-state methods fail with a plain Error carrying `fault.message`, when set. */
function faulty(inner: Store, fault: { message?: string }): Store {
  const failing = new Set<PropertyKey>([
    'createGrant',
    'rotateRefreshToken',
    'revokeByRefreshToken',
    'revokeAccessToken',
    'getAccessTokenState',
    'getRefreshTokenState',
  ]);
  return new Proxy(inner, {
    get(target, prop) {
      const member = Reflect.get(target, prop, target);
      if (typeof member !== 'function') return member;
      return (...args: unknown[]) =>
        fault.message !== undefined && failing.has(prop)
          ? Promise.reject(new Error(fault.message))
          : member.apply(target, args);
    },
  });
}

describe('no token, client secret or password in any log line', () => {
  let ts: TestStore;
  let healthy: ReturnType<typeof build>;
  const consoleSpies: jest.SpyInstance[] = [];
  const afterAllClose: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    // The console too: a library path printing past the logger would count as well.
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      consoleSpies.push(
        jest
          .spyOn(console, method)
          .mockImplementation(
            (...args) => void lines.push(JSON.stringify([`console.${method}`, ...args])),
          ),
      );
    }
    ts = await makeStore('redis', 'log-safety');
    healthy = build(ts.store, 'healthy');
    await seed(healthy.auth);
  });

  afterAll(async () => {
    for (const spy of consoleSpies) spy.mockRestore();
    for (const close of afterAllClose) await close();
    await ts.close();
  });

  it('issue, refresh, reuse, revoke, introspect, guard accept and reject (rate limits on, Redis): no secret logged', async () => {
    const { app } = healthy;
    // Issue: password (public client, and confidential over Basic), client_credentials with refresh.
    const alice = await password(app, ALICE.username, ALICE.password);
    expect(alice.status).toBe(200);
    remember(alice.body);
    const web = await post(app, TOKEN, { grant_type: 'password', ...BOB }, WEB);
    expect(web.status).toBe(200);
    remember(web.body);
    const cc = await post(app, TOKEN, { grant_type: 'client_credentials' }, SVC_RT);
    expect(cc.status).toBe(200);
    remember(cc.body);
    // Failed sign-ins and client authentication carry secrets too.
    expect((await password(app, ALICE.username, 'wrong-alice-password')).status).toBe(400);
    expect((await password(app, 'mallory', 'mallory-password')).status).toBe(400);
    secrets.add('wrong-client-secret');
    expect(
      (
        await post(
          app,
          TOKEN,
          { grant_type: 'client_credentials' },
          { id: SVC.id, secret: 'wrong-client-secret' },
        )
      ).status,
    ).toBe(401);
    // Refresh, then reuse of the rotated token (revokes the family).
    const rotated = await post(app, TOKEN, {
      grant_type: 'refresh_token',
      client_id: APP.id,
      refresh_token: alice.body.refresh_token,
    });
    expect(rotated.status).toBe(200);
    remember(rotated.body);
    const reuse = await post(app, TOKEN, {
      grant_type: 'refresh_token',
      client_id: APP.id,
      refresh_token: alice.body.refresh_token,
    });
    expect(reuse.body.error).toBe('invalid_grant');
    // Introspection and revocation.
    expect((await post(app, INTROSPECT, { token: web.body.access_token }, RS)).body.active).toBe(
      true,
    );
    expect((await post(app, INTROSPECT, { token: rotated.body.access_token }, RS)).body).toEqual({
      active: false,
    });
    expect((await post(app, REVOKE, { token: cc.body.refresh_token }, SVC_RT)).status).toBe(200);
    // Guard: admitted, refused (revoked by the reuse), malformed.
    expect((await bearer(app, web.body.access_token)).status).toBe(200);
    expect((await bearer(app, rotated.body.access_token)).status).toBe(401);
    expect((await bearer(app, `${web.body.access_token}x`)).status).toBe(401);
    expect((await request(app).get(`/me?access_token=${web.body.access_token}`)).status).toBe(400);
    // From the first captured line on: seeding included.
    expect(leaks(0)).toEqual([]);
  });

  it('a forced 500 (a store error whose message carries the presented token): answered without it, and logged without it', async () => {
    const fault: { message?: string } = {};
    const inner = new MemoryStore();
    afterAllClose.push(() => inner.close());
    const broken = build(faulty(inner, fault), 'faulty', { rateLimit: false });
    await seed(broken.auth);
    const s = await password(broken.app, ALICE.username, ALICE.password);
    expect(s.status).toBe(200);
    remember(s.body);
    const from = lines.length;
    const at = s.body.access_token as string;
    const rt = s.body.refresh_token as string;
    const failWith = (token: string) => {
      // What a driver echoing its input would say.
      fault.message = `write failed for ${token}`;
    };
    const answers = [];
    failWith(rt);
    answers.push(
      await post(broken.app, TOKEN, {
        grant_type: 'refresh_token',
        client_id: APP.id,
        refresh_token: rt,
      }),
    );
    answers.push(await post(broken.app, REVOKE, { token: rt, client_id: APP.id }));
    failWith(at);
    answers.push(await post(broken.app, REVOKE, { token: at, client_id: APP.id }));
    answers.push(await post(broken.app, INTROSPECT, { token: at }, RS));
    answers.push(await bearer(broken.app, at));
    fault.message = undefined;
    for (const res of answers) {
      expect({ status: res.status, body: res.body }).toEqual({
        status: 500,
        body: { error: 'server_error', error_description: 'internal error' },
      });
      expect(res.text).not.toContain(at);
      expect(res.text).not.toContain(rt);
    }
    // The failures were logged (so the check below is not vacuous)…
    expect(lines.length).toBeGreaterThan(from);
    // …and no logged line repeats the token the error carried.
    expect(leaks(from)).toEqual([]);
  });

  it('Redis outage (closed port, 200 ms command timeout): every endpoint and the guard answer 503; the log lines carry no secret', async () => {
    // A port nothing listens on.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const redis = new Redis({
      host: '127.0.0.1',
      port,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 100,
    });
    redis.on('error', () => {}); // ioredis would print connection errors; they are not ours
    const down = build(
      new RedisStore({ redis, prefix: 'log-safety-down:', commandTimeout: 200 }),
      'outage',
    );
    const from = lines.length;
    const known = [...secrets].filter((s) => s.split('.').length === 3);
    const at = known[0] as string;
    const rt = [...secrets].find((s) =>
      /^[\w-]{22}([~.][\w-]{22})?\.\d+~[\w-]{65}$/.test(s),
    ) as string;
    expect(at).toBeDefined();
    expect(rt).toBeDefined();
    try {
      const answers = [
        await password(down.app, ALICE.username, ALICE.password),
        await post(down.app, TOKEN, { grant_type: 'client_credentials' }, SVC),
        await post(down.app, TOKEN, {
          grant_type: 'refresh_token',
          client_id: APP.id,
          refresh_token: rt,
        }),
        await post(down.app, REVOKE, { token: rt, client_id: APP.id }),
        await post(down.app, INTROSPECT, { token: at }, RS),
        await bearer(down.app, at),
      ];
      for (const res of answers) {
        expect({ status: res.status, error: res.body.error }).toEqual({
          status: 503,
          error: 'temporarily_unavailable',
        });
      }
      // The guard logged the outage (so the check below is not vacuous)…
      expect(lines.slice(from).some((l) => l.includes('outage guard'))).toBe(true);
      // …and no line carries a secret.
      expect(leaks(from)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});
