// Audit events: each flow emits its events once, with frozen id-only payloads, after the response; listeners can neither break nor delay a request.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import express, { type Express } from 'express';
import { Redis } from 'ioredis';
import request from 'supertest';
import {
  type AuthServer,
  type AuthServerEvents,
  type AuthServerOptions,
  createAuthServer,
  createGuard,
  type Events,
  type Guard,
  type GuardEvents,
  type Logger,
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
  refresh,
  revoke,
  SVC,
  SVC_RT,
  seed,
  signIn,
  TOKEN,
  WEB,
} from '../helpers/app';
import { testClock } from '../helpers/clock';
import { guardedApp, seedScopes } from '../helpers/guard';
import { TEST_HASHING } from '../helpers/hashing';
import { keysAtRest } from '../helpers/key-secret';
import { makeStore, type TestStore } from '../helpers/stores';

/** Every event name, compiler-checked against the typed maps: a new event must be added here. */
const AUTH_EVENTS: { [K in keyof AuthServerEvents]: true } = {
  'token.issued': true,
  'token.refreshed': true,
  'refresh.reused': true,
  'family.revoked': true,
  'access_token.revoked': true,
  'device_session.expired': true,
  'device_session.ended': true,
  'device_session.revoked': true,
  'user.grants_ended': true,
  'client.grants_ended': true,
  'client_auth.failed': true,
  'password.failed': true,
  rate_limited: true,
  'store.unavailable': true,
  'keys.rotated': true,
  'feed.published': true,
  'feed.subscribed': true,
  'feed.closed': true,
};
const GUARD_EVENTS: { [K in keyof GuardEvents]: true } = {
  'token.accepted': true,
  'token.rejected': true,
  'access.denied': true,
  'device_session.extended': true,
  'feed.connected': true,
  'feed.disconnected': true,
  'feed.change': true,
};

interface Seen {
  name: string;
  payload: Record<string, unknown>;
}

/** Every payload any recording listener received in this file, for the final credential search. */
const everyPayload: Seen[] = [];
/** Every credential value used in this file: issued tokens (and their secret parts), secrets, passwords. */
const credentials = new Set<string>([
  SVC.secret,
  SVC_RT.secret,
  RS.secret,
  WEB.secret,
  ALICE.password,
  BOB.password,
]);
function remember<T extends { access_token?: string; refresh_token?: string }>(body: T): T {
  for (const token of [body.access_token, body.refresh_token]) {
    if (!token) continue;
    credentials.add(token);
    credentials.add(token.split('.').at(-1) as string);
  }
  return body;
}
const secret = <T extends string>(value: T): T => {
  credentials.add(value);
  return value;
};

/** The claims of a JWT access token (no verification: the test only reads what it was issued). */
function claims(token: string): { jti: string; gid: string; exp: number } {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8'));
}

/** Runs after every setImmediate queued so far, i.e. after the deferred listeners. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Subscribe a recorder to every event of `events`. */
function recordAll<M>(
  events: Events<M>,
  names: object,
  seen: Seen[],
  timeline: string[],
  frozen: boolean[],
): void {
  for (const name of Object.keys(names) as (keyof M & string)[]) {
    events.on(name, (payload) => {
      const p = payload as unknown as Record<string, unknown>;
      frozen.push(Object.isFrozen(p));
      seen.push({ name, payload: p });
      everyPayload.push({ name, payload: p });
      timeline.push(`event ${name}`);
    });
  }
}

interface Harness {
  app: Express;
  auth: AuthServer;
  guard: Guard;
  /** Lines the logger of the auth server and guard received: [fields, message]. */
  logged: [Record<string, unknown>, string][];
  /** `response <METHOD> <path>` when a response finished, `event <name>` when a listener ran. */
  timeline: string[];
  /** Whether each payload was frozen when its listener got it. */
  frozen: boolean[];
  /** The events seen since the last take(), once the deferred listeners ran. */
  take(): Promise<Seen[]>;
}

/** The auth server and a local-mode guard (routes of guardedApp) on one Express app, every event recorded. */
function harness(store: Store, options: Partial<AuthServerOptions> = {}): Harness {
  const logged: Harness['logged'] = [];
  const logger: Logger = { error: (fields, message) => void logged.push([fields, message]) };
  const auth = createAuthServer({
    issuer: ISSUER,
    store,
    rateLimit: false,
    passwordHashing: TEST_HASHING,
    logger,
    // The revocation feed's events are counted in revocation-feed.test.ts; here they would only
    // interleave with the timelines checked.
    revocationFeed: false,
    ...keysAtRest(store, options),
    ...options,
  });
  const guard = createGuard({ issuer: ISSUER, store, logger });
  const timeline: string[] = [];
  const seen: Seen[] = [];
  const frozen: boolean[] = [];
  const app = express();
  app.use(function finished(req, res, next) {
    res.once('finish', () => timeline.push(`response ${req.method} ${req.path}`));
    next();
  });
  app.use(auth.router());
  app.use(guardedApp(guard));
  recordAll(auth.events, AUTH_EVENTS, seen, timeline, frozen);
  recordAll(guard.events, GUARD_EVENTS, seen, timeline, frozen);
  return {
    app,
    auth,
    guard,
    logged,
    timeline,
    frozen,
    take: async () => {
      await settle();
      return seen.splice(0);
    },
  };
}

const bearer = (app: Express, path: string, token: string) =>
  request(app).get(path).set('Authorization', `Bearer ${token}`);

/** A local-user client_credentials token for svc. */
async function issueSvc(app: Express) {
  const res = await post(app, TOKEN, { grant_type: 'client_credentials', local_user: 'u-7' }, SVC);
  expect(res.status).toBe(200);
  return remember(res.body as { access_token: string; scope: string });
}

/** A password sign-in through the public `app` client, remembered as credentials. */
async function signInApp(app: Express, user = ALICE, extra: Record<string, string> = {}) {
  return remember(await signIn(app, user, extra));
}

/** Milliseconds of busy CPU: a listener that is slow, not merely async. */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spin
  }
}

/**
 * `times` identical HTTP requests, one after the other, made by another process: their receipt
 * times are not held up by this process's event loop. The first warms the client up.
 */
function fetchElsewhere(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
  times = 2,
): Promise<{ status: number; receivedAt: number }[]> {
  const script = `
    const [url, init, times] = JSON.parse(process.argv[1]);
    (async () => {
      const out = [];
      for (let i = 0; i < times; i++) {
        const r = await fetch(url, init);
        await r.arrayBuffer();
        out.push({ status: r.status, receivedAt: Date.now() });
      }
      process.stdout.write(JSON.stringify(out));
    })().catch((e) => { console.error(String(e)); process.exit(1); });
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, JSON.stringify([url, init, times])]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`client failed: ${err}`)),
    );
  });
}

function listen(app: Express): Promise<{ server: Server; url: string }> {
  const server = createServer(app);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}
const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

describe.each(['memory', 'redis'] as const)('audit events on %s', (kind) => {
  let ts: TestStore;
  let h: Harness;

  beforeAll(async () => {
    ts = await makeStore(kind, `events-${kind}`);
    h = harness(ts.store);
    await seed(h.auth);
    await seedScopes(h.auth);
    await h.take();
  });
  afterAll(() => ts.close());

  describe('authorization server', () => {
    it('token.issued: client_credentials with local_user, without and with a refresh token', async () => {
      const svc = await issueSvc(h.app);
      const c = claims(svc.access_token);
      expect(await h.take()).toEqual([
        {
          name: 'token.issued',
          payload: {
            grantType: 'client_credentials',
            clientId: SVC.id,
            tenantId: 'acme',
            subject: SVC.id,
            grantId: c.gid,
            jti: c.jti,
            scope: svc.scope,
            refreshToken: false,
            localUser: 'u-7',
          },
        },
      ]);
      const rt = remember(
        (await post(h.app, TOKEN, { grant_type: 'client_credentials' }, SVC_RT)).body,
      );
      const d = claims(rt.access_token);
      expect(await h.take()).toEqual([
        {
          name: 'token.issued',
          payload: {
            grantType: 'client_credentials',
            clientId: SVC_RT.id,
            tenantId: 'beta',
            subject: SVC_RT.id,
            grantId: d.gid,
            jti: d.jti,
            scope: 'print',
            refreshToken: true,
          },
        },
      ]);
    });

    it('token.issued: password with device_id, grant id of the device session', async () => {
      const s = await signInApp(h.app, ALICE, { device_id: 'phone-1' });
      const c = claims(s.access_token);
      expect(c.gid).toContain('~');
      expect(await h.take()).toEqual([
        {
          name: 'token.issued',
          payload: {
            grantType: 'password',
            clientId: APP.id,
            tenantId: 'acme',
            subject: ALICE.username,
            grantId: c.gid,
            jti: c.jti,
            scope: s.scope,
            refreshToken: true,
            deviceId: 'phone-1',
          },
        },
      ]);
    });

    it('token.refreshed: retried false on a plain rotation, with the device id', async () => {
      const s = await signInApp(h.app, ALICE, { device_id: 'phone-2' });
      await h.take();
      const next = await refresh(h.app, s.refresh_token);
      expect(next.status).toBe(200);
      remember(next.body);
      const c = claims(next.body.access_token);
      expect(c.gid).toBe(claims(s.access_token).gid);
      expect(await h.take()).toEqual([
        {
          name: 'token.refreshed',
          payload: {
            clientId: APP.id,
            tenantId: 'acme',
            subject: ALICE.username,
            grantId: c.gid,
            jti: c.jti,
            retried: false,
            deviceId: 'phone-2',
          },
        },
      ]);
    });

    it('token.refreshed: retried true when the predecessor is presented again within refreshReuseLeewaySeconds', async () => {
      const lenient = harness(ts.store, { refreshReuseLeewaySeconds: 30 });
      const s = await signInApp(lenient.app);
      remember((await refresh(lenient.app, s.refresh_token)).body); // the response the client lost
      await lenient.take();
      const retry = await refresh(lenient.app, s.refresh_token);
      expect(retry.status).toBe(200);
      remember(retry.body);
      const c = claims(retry.body.access_token);
      expect(await lenient.take()).toEqual([
        {
          name: 'token.refreshed',
          payload: {
            clientId: APP.id,
            tenantId: 'acme',
            subject: ALICE.username,
            grantId: c.gid,
            jti: c.jti,
            retried: true,
          },
        },
      ]);
    });

    it('refresh.reused and family.revoked {by: reuse} when a rotated refresh token is replayed', async () => {
      const s = await signInApp(h.app);
      const gid = claims(s.access_token).gid;
      remember((await refresh(h.app, s.refresh_token)).body);
      await h.take();
      const replay = await refresh(h.app, s.refresh_token);
      expect(replay.status).toBe(400);
      expect(await h.take()).toEqual([
        { name: 'refresh.reused', payload: { clientId: APP.id, grantId: gid } },
        { name: 'family.revoked', payload: { grantId: gid, by: 'reuse', clientId: APP.id } },
      ]);
      // The family is gone: a further replay is no new reuse event.
      expect((await refresh(h.app, s.refresh_token)).status).toBe(400);
      expect((await h.take()).map((e) => e.name)).not.toContain('family.revoked');
    });

    it('family.revoked {by: revocation} once when a rotated root is revoked (twice)', async () => {
      const s = await signInApp(h.app);
      const gid = claims(s.access_token).gid;
      remember((await refresh(h.app, s.refresh_token)).body);
      await h.take();
      expect((await revoke(h.app, s.refresh_token)).status).toBe(200);
      expect((await revoke(h.app, s.refresh_token)).status).toBe(200);
      expect(await h.take()).toEqual([
        { name: 'family.revoked', payload: { grantId: gid, by: 'revocation', clientId: APP.id } },
      ]);
    });

    it('access_token.revoked {by: revocation} when an access token is revoked', async () => {
      const s = await signInApp(h.app);
      const c = claims(s.access_token);
      await h.take();
      expect((await revoke(h.app, s.access_token)).status).toBe(200);
      expect(await h.take()).toEqual([
        {
          name: 'access_token.revoked',
          payload: { grantId: c.gid, jti: c.jti, by: 'revocation' },
        },
      ]);
    });

    it('admin revokeGrant and revokeToken: family.revoked and access_token.revoked {by: admin}', async () => {
      const a = await signInApp(h.app);
      const b = await signInApp(h.app);
      const c = await signInApp(h.app);
      await h.take();
      expect(await h.auth.admin.revokeGrant(claims(a.access_token).gid)).toBe(true);
      expect(await h.take()).toEqual([
        { name: 'family.revoked', payload: { grantId: claims(a.access_token).gid, by: 'admin' } },
      ]);
      expect(await h.auth.admin.revokeToken(b.refresh_token)).toBe(true);
      expect(await h.take()).toEqual([
        { name: 'family.revoked', payload: { grantId: claims(b.access_token).gid, by: 'admin' } },
      ]);
      expect(await h.auth.admin.revokeToken(c.access_token)).toBe(true);
      const cc = claims(c.access_token);
      expect(await h.take()).toEqual([
        { name: 'access_token.revoked', payload: { grantId: cc.gid, jti: cc.jti, by: 'admin' } },
      ]);
      // Unknown grants are no event.
      expect(await h.auth.admin.revokeGrant('no-such-grant')).toBe(false);
      expect(await h.take()).toEqual([]);
    });

    it('device_session.revoked by the admin: one session, then all of a user', async () => {
      await signInApp(h.app, BOB, { device_id: 'tablet-1' });
      await signInApp(h.app, BOB, { device_id: 'tablet-2' });
      await signInApp(h.app, BOB, { device_id: 'tablet-3' });
      await h.take();
      expect(await h.auth.admin.revokeDeviceSession('acme', BOB.username, 'tablet-1')).toBe(true);
      expect(await h.take()).toEqual([
        {
          name: 'device_session.revoked',
          payload: { tenantId: 'acme', username: BOB.username, deviceId: 'tablet-1', count: 1 },
        },
      ]);
      expect(await h.auth.admin.revokeDeviceSessions('acme', BOB.username)).toBe(2);
      expect(await h.take()).toEqual([
        {
          name: 'device_session.revoked',
          payload: { tenantId: 'acme', username: BOB.username, count: 2 },
        },
      ]);
      expect(await h.auth.admin.revokeDeviceSessions('acme', BOB.username)).toBe(0);
      expect(await h.take()).toEqual([]);
    });

    it('device_session.expired when a refresh comes after deviceIdleTtl', async () => {
      const clock = testClock();
      const idle = harness(ts.store, { deviceIdleTtl: 1, clock });
      const s = await signInApp(idle.app, ALICE, { device_id: 'idle-phone' });
      await idle.take();
      clock.advance(1000); // the idle deadline (the store compares it with the server's clock)
      const late = await refresh(idle.app, s.refresh_token);
      expect(late.status).toBe(400);
      expect(await idle.take()).toEqual([
        {
          name: 'device_session.expired',
          payload: { clientId: APP.id, grantId: claims(s.access_token).gid },
        },
      ]);
    });

    it('client_auth.failed: wrong secret, unknown client, token-shaped id left out, on each endpoint', async () => {
      const wrong = { id: SVC.id, secret: secret('svc-wrong-secret-0123') };
      expect((await post(h.app, TOKEN, { grant_type: 'client_credentials' }, wrong)).status).toBe(
        401,
      );
      expect(
        (
          await post(
            h.app,
            TOKEN,
            { grant_type: 'client_credentials' },
            { id: 'nobody', secret: secret('nobody-secret-0123') },
          )
        ).status,
      ).toBe(401);
      expect(await h.take()).toEqual([
        { name: 'client_auth.failed', payload: { clientId: SVC.id, endpoint: 'token' } },
        { name: 'client_auth.failed', payload: { clientId: 'nobody', endpoint: 'token' } },
      ]);
      // A refresh token pasted as client_id: a valid id by its characters, but token-shaped.
      const rt = remember(
        (await post(h.app, TOKEN, { grant_type: 'client_credentials' }, SVC_RT)).body,
      ).refresh_token as string;
      expect(rt).toMatch(/^[A-Za-z0-9._~-]+$/);
      await h.take();
      const pasted = await post(h.app, TOKEN, { grant_type: 'refresh_token', client_id: rt });
      expect(pasted.status).toBe(401);
      const shaped = await h.take();
      expect(shaped).toEqual([{ name: 'client_auth.failed', payload: { endpoint: 'token' } }]);
      expect(Object.keys(shaped[0]?.payload ?? {})).not.toContain('clientId');
      expect((await post(h.app, REVOKE, { token: rt }, wrong)).status).toBe(401);
      expect((await post(h.app, INTROSPECT, { token: rt }, wrong)).status).toBe(401);
      expect(await h.take()).toEqual([
        { name: 'client_auth.failed', payload: { clientId: SVC.id, endpoint: 'revocation' } },
        { name: 'client_auth.failed', payload: { clientId: SVC.id, endpoint: 'introspection' } },
      ]);
    });

    it('password.failed: wrong password and unknown user, with the username only', async () => {
      const attempt = (username: string, password: string) =>
        post(h.app, TOKEN, {
          grant_type: 'password',
          client_id: APP.id,
          username,
          password: secret(password),
        });
      expect((await attempt(ALICE.username, 'alice-wrong-password')).status).toBe(400);
      expect((await attempt('mallory', 'mallory-password')).status).toBe(400);
      expect(await h.take()).toEqual([
        {
          name: 'password.failed',
          payload: { clientId: APP.id, tenantId: 'acme', username: ALICE.username },
        },
        {
          name: 'password.failed',
          payload: { clientId: APP.id, tenantId: 'acme', username: 'mallory' },
        },
      ]);
    });

    it('rate_limited: names the limit (failed passwords per username and per IP, failed client authentication per IP)', async () => {
      const limited = harness(ts.store, {
        rateLimit: {
          failedPasswordsPerUsername: 1,
          failedPasswordsPerIp: 2,
          failedClientAuthPerIp: 1,
        },
      });
      const pw = (username: string, client?: typeof WEB) =>
        post(
          limited.app,
          TOKEN,
          {
            grant_type: 'password',
            username,
            password: secret(`${username}-wrong-password`),
            ...(client ? {} : { client_id: APP.id }),
          },
          client,
        );
      const cc = () =>
        post(
          limited.app,
          TOKEN,
          { grant_type: 'client_credentials' },
          { id: SVC.id, secret: secret('svc-wrong-secret-0123') },
        );
      const statuses: number[] = [];
      statuses.push((await pw('carol')).status); // user carol 1, ip 1
      statuses.push((await pw('carol', WEB)).status); // user carol: over
      statuses.push((await pw('dave', WEB)).status); // ip 2
      statuses.push((await pw('erin', WEB)).status); // ip: over
      statuses.push((await cc()).status); // failed client authentication from this ip: 1
      statuses.push((await cc()).status); // over
      expect(statuses).toEqual([400, 429, 400, 429, 401, 429]);
      expect(await limited.take()).toEqual([
        {
          name: 'password.failed',
          payload: { clientId: APP.id, tenantId: 'acme', username: 'carol' },
        },
        { name: 'rate_limited', payload: { limiter: 'password_username' } },
        {
          name: 'password.failed',
          payload: { clientId: WEB.id, tenantId: 'acme', username: 'dave' },
        },
        { name: 'rate_limited', payload: { limiter: 'password_ip' } },
        { name: 'client_auth.failed', payload: { clientId: SVC.id, endpoint: 'token' } },
        { name: 'rate_limited', payload: { limiter: 'client_auth_ip' } },
      ]);
    });

    it('keys.rotated with the new kid, which the JWKS then serves', async () => {
      const kid = await h.auth.admin.rotateKeys();
      expect(await h.take()).toEqual([{ name: 'keys.rotated', payload: { kid } }]);
      expect((await h.auth.jwks()).keys.map((k) => (k as { kid?: string }).kid)).toContain(kid);
    });
  });

  describe('guard', () => {
    it('token.accepted with the token ids and effective expiry; device id when bound', async () => {
      const s = await signInApp(h.app);
      const c = claims(s.access_token);
      await h.take();
      expect((await bearer(h.app, '/me', s.access_token)).status).toBe(200);
      expect(await h.take()).toEqual([
        {
          name: 'token.accepted',
          payload: {
            clientId: APP.id,
            subject: ALICE.username,
            tenantId: 'acme',
            jti: c.jti,
            expiresAt: c.exp,
          },
        },
      ]);
      const d = await signInApp(h.app, ALICE, { device_id: 'phone-9' });
      await h.take();
      expect((await bearer(h.app, '/me', d.access_token)).status).toBe(200);
      expect(await h.take()).toEqual([
        {
          name: 'token.accepted',
          payload: expect.objectContaining({
            jti: claims(d.access_token).jti,
            deviceId: 'phone-9',
            expiresAt: expect.any(Number),
          }),
        },
        {
          name: 'device_session.extended',
          payload: {
            tenantId: 'acme',
            subject: ALICE.username,
            deviceId: 'phone-9',
            clientId: APP.id,
            deadline: expect.any(Number),
          },
        },
      ]);
    });

    it('token.rejected with reason missing, malformed and invalid', async () => {
      const s = await signInApp(h.app);
      await h.take();
      expect((await request(h.app).get('/me')).status).toBe(401);
      expect((await request(h.app).get(`/me?access_token=${s.access_token}`)).status).toBe(400);
      expect((await bearer(h.app, '/me', `${s.access_token}x`)).status).toBe(401);
      expect((await bearer(h.app, '/me', 'not-a-token')).status).toBe(401);
      expect(await h.take()).toEqual([
        { name: 'token.rejected', payload: { reason: 'missing' } },
        { name: 'token.rejected', payload: { reason: 'malformed' } },
        {
          name: 'token.rejected',
          payload: { reason: 'invalid', cause: 'bad_signature', detail: expect.any(String) },
        },
        {
          name: 'token.rejected',
          payload: { reason: 'invalid', cause: 'not_a_jwt', detail: expect.any(String) },
        },
      ]);
    });

    it('access.denied for a missing scope and for a missing role, after token.accepted', async () => {
      const printOnly = await signInApp(h.app, ALICE, { scope: 'print' });
      const bob = await signInApp(h.app, BOB);
      await h.take();
      expect((await bearer(h.app, '/scope/print-scan', printOnly.access_token)).status).toBe(403);
      expect((await bearer(h.app, '/print', bob.access_token)).status).toBe(403);
      const events = await h.take();
      expect(events.map((e) => e.name)).toEqual([
        'token.accepted',
        'access.denied',
        'token.accepted',
        'access.denied',
      ]);
      expect(events[1]?.payload).toEqual({
        scope: 'print scan',
        clientId: APP.id,
        subject: ALICE.username,
      });
      expect(events[3]?.payload).toEqual({
        scope: 'print',
        clientId: APP.id,
        subject: BOB.username,
      });
    });
  });

  describe('delivery', () => {
    it('payloads are frozen: a listener cannot change what the next one sees', async () => {
      const s = await signInApp(h.app);
      let mutation: unknown;
      const off = h.auth.events.on('token.refreshed', (p) => {
        try {
          (p as { subject: string }).subject = 'mallory';
        } catch (err) {
          mutation = err;
        }
      });
      remember((await refresh(h.app, s.refresh_token)).body);
      off();
      const [event] = await h.take();
      expect(mutation).toBeInstanceOf(TypeError);
      expect(event?.payload.subject).toBe(ALICE.username);
      expect(h.frozen.length).toBeGreaterThan(0);
      expect(h.frozen.every(Boolean)).toBe(true);
    });

    it('auth-server listeners run after the response has been sent', async () => {
      const s = await signInApp(h.app);
      await h.take();
      h.timeline.length = 0;
      remember((await refresh(h.app, s.refresh_token)).body);
      await refresh(h.app, s.refresh_token); // reuse
      await revoke(h.app, s.access_token);
      await post(h.app, TOKEN, { grant_type: 'client_credentials' }, { id: SVC.id, secret: 'x' });
      await h.take();
      expect(h.timeline).toEqual([
        `response POST ${TOKEN}`,
        'event token.refreshed',
        `response POST ${TOKEN}`,
        'event refresh.reused',
        'event family.revoked',
        `response POST ${REVOKE}`,
        'event access_token.revoked',
        `response POST ${TOKEN}`,
        'event client_auth.failed',
      ]);
    });

    it('guard listeners run after the response has been sent, also behind middleware that reads the store', async () => {
      const s = await signInApp(h.app);
      await h.take();
      h.timeline.length = 0;
      expect((await bearer(h.app, '/me', s.access_token)).status).toBe(200);
      expect((await bearer(h.app, '/print', s.access_token)).status).toBe(200);
      expect((await request(h.app).get('/print')).status).toBe(401);
      await h.take();
      expect(h.timeline).toEqual([
        'response GET /me',
        'event token.accepted',
        'response GET /print',
        'event token.accepted',
        'response GET /print',
        'event token.rejected',
      ]);
    });

    it('a throwing listener changes no response, does not stop the other listeners, and is logged once per throw', async () => {
      /** One pass over most flows; the answers with tokens replaced by their kind. */
      const flows = async (t: Harness) => {
        // What differs between two runs by design: token values, the random ids and times inside them.
        const RANDOM = new Set([
          'access_token',
          'refresh_token',
          'token',
          'claims',
          'jti',
          'gid',
          'iat',
          'exp',
          'expiresAt',
        ]);
        const shape = (res: request.Response) => ({
          status: res.status,
          body: JSON.parse(
            JSON.stringify(res.body ?? {}, (k, v) => (RANDOM.has(k) ? `<${k}>` : v)),
          ) as unknown,
          challenge: res.headers['www-authenticate'],
        });
        const out: ReturnType<typeof shape>[] = [];
        const run = async (req: PromiseLike<request.Response>) => {
          const res = await req;
          if (res.body?.access_token) remember(res.body);
          out.push(shape(res));
          return res;
        };
        await run(post(t.app, TOKEN, { grant_type: 'client_credentials', local_user: 'u' }, SVC));
        const si = await run(
          post(t.app, TOKEN, {
            grant_type: 'password',
            client_id: APP.id,
            ...ALICE,
            device_id: 'd-1',
          }),
        );
        await run(refresh(t.app, si.body.refresh_token));
        await run(refresh(t.app, si.body.refresh_token)); // reuse
        const bob = await run(post(t.app, TOKEN, { grant_type: 'password', ...BOB }, WEB));
        await run(post(t.app, INTROSPECT, { token: bob.body.access_token }, RS));
        await run(bearer(t.app, '/me', bob.body.access_token));
        await run(bearer(t.app, '/print', bob.body.access_token)); // denied: no role
        await run(request(t.app).get('/me'));
        await run(bearer(t.app, '/me', 'garbage'));
        await run(
          revoke(t.app, bob.body.refresh_token, { client_id: WEB.id, client_secret: WEB.secret }),
        );
        await run(
          post(t.app, TOKEN, { grant_type: 'client_credentials' }, { id: SVC.id, secret: 'x' }),
        );
        await run(
          post(t.app, TOKEN, {
            grant_type: 'password',
            client_id: APP.id,
            username: ALICE.username,
            password: 'alice-nope',
          }),
        );
        return out;
      };
      const calm = harness(ts.store);
      const baseline = await flows(calm);
      const baselineEvents = await calm.take();

      const angry = harness(ts.store);
      let throws = 0;
      const boom = () => {
        throws++;
        throw new Error('listener failure');
      };
      for (const name of Object.keys(AUTH_EVENTS) as (keyof AuthServerEvents)[]) {
        angry.auth.events.on(name, boom);
      }
      for (const name of Object.keys(GUARD_EVENTS) as (keyof GuardEvents)[]) {
        angry.guard.events.on(name, boom);
      }
      // Two throwing listeners on one event: two throws, two log lines.
      angry.auth.events.on('token.issued', () => boom());
      const answers = await flows(angry);
      const events = await angry.take();

      expect(answers).toEqual(baseline);
      // The recording listeners (added first) and every throwing one ran for each event.
      expect(events.map((e) => e.name)).toEqual(baselineEvents.map((e) => e.name));
      const issued = events.filter((e) => e.name === 'token.issued').length;
      expect(throws).toBe(events.length + issued);
      const lines = angry.logged.filter(([, message]) => message === 'event listener threw');
      expect(lines).toHaveLength(throws);
      expect(lines.map(([fields]) => fields.event).sort()).toEqual(
        [
          ...events.map((e) => e.name),
          ...events.filter((e) => e.name === 'token.issued').map((e) => e.name),
        ].sort(),
      );
      // Nothing else was logged: a listener's failure is not a request failure.
      expect(angry.logged).toHaveLength(lines.length);
      expect(calm.logged).toEqual([]);
    });

    it('a slow listener (50 ms busy) does not hold back the response it was emitted for (token endpoint)', async () => {
      const slow = harness(ts.store);
      const { server, url } = await listen(slow.app);
      try {
        const ran: { startedAt: number; endedAt: number }[] = [];
        slow.auth.events.on('token.issued', () => {
          const startedAt = Date.now();
          busy(50);
          ran.push({ startedAt, endedAt: Date.now() });
        });
        const answers = await fetchElsewhere(`${url}${TOKEN}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: `Basic ${Buffer.from(`${SVC.id}:${SVC.secret}`).toString('base64')}`,
          },
          body: 'grant_type=client_credentials',
        });
        await slow.take();
        expect(answers.map((a) => a.status)).toEqual([200, 200]);
        expect(ran).toHaveLength(2);
        // Each response was handed to the OS before its listener started…
        expect(slow.timeline).toEqual([
          `response POST ${TOKEN}`,
          'event token.issued',
          `response POST ${TOKEN}`,
          'event token.issued',
        ]);
        // …and the client had all of it before the listener was done.
        expect(answers[1]?.receivedAt).toBeLessThan(ran[1]?.endedAt as number);
      } finally {
        await close(server);
      }
    });

    it('a slow token.accepted listener does not hold back the guarded response (route reading the store after authenticate)', async () => {
      const slow = harness(ts.store);
      const s = await signInApp(slow.app);
      const { server, url } = await listen(slow.app);
      try {
        const ran: { startedAt: number; endedAt: number }[] = [];
        slow.guard.events.on('token.accepted', () => {
          const startedAt = Date.now();
          busy(50);
          ran.push({ startedAt, endedAt: Date.now() });
        });
        await slow.take();
        slow.timeline.length = 0;
        const answers = await fetchElsewhere(`${url}/print`, {
          method: 'GET',
          headers: { authorization: `Bearer ${s.access_token}` },
        });
        await slow.take();
        expect(answers.map((a) => a.status)).toEqual([200, 200]);
        expect(ran).toHaveLength(2);
        expect(answers[1]?.receivedAt).toBeLessThan(ran[1]?.endedAt as number);
        expect(slow.timeline).toEqual([
          'response GET /print',
          'event token.accepted',
          'response GET /print',
          'event token.accepted',
        ]);
      } finally {
        await close(server);
      }
    });
  });
});

describe('store.unavailable and token.rejected {unavailable}: RedisStore on a closed port', () => {
  let redis: Redis;
  let healthyStore: TestStore;
  let down: Harness;
  let token: string;

  beforeAll(async () => {
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    // Fail fast: one try per command, reconnect every 100 ms, no offline queue.
    redis = new Redis({
      host: '127.0.0.1',
      port,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: () => 100,
      disconnectTimeout: 50,
    });
    redis.on('error', () => {});
    down = harness(new RedisStore({ redis, prefix: 'events-down:', commandTimeout: 200 }));
    // A well-formed token from a healthy server with the same issuer.
    healthyStore = await makeStore('memory', 'events-healthy');
    const healthy = harness(healthyStore.store);
    await seed(healthy.auth);
    token = (await signInApp(healthy.app)).access_token;
  });
  afterAll(async () => {
    redis.disconnect();
    await healthyStore.close();
  });

  it('every endpoint answers 503 and emits store.unavailable with its endpoint; the guard rejects with reason unavailable', async () => {
    const answers = [
      await post(down.app, TOKEN, { grant_type: 'client_credentials' }, SVC),
      await post(down.app, REVOKE, { token, client_id: APP.id }),
      await post(down.app, INTROSPECT, { token }, RS),
      await request(down.app).get('/oauth2/jwks'),
      await bearer(down.app, '/me', token),
    ];
    expect(answers.map((r) => r.status)).toEqual([503, 503, 503, 503, 503]);
    expect(await down.take()).toEqual([
      { name: 'store.unavailable', payload: { endpoint: 'token' } },
      { name: 'store.unavailable', payload: { endpoint: 'revocation' } },
      { name: 'store.unavailable', payload: { endpoint: 'introspection' } },
      { name: 'store.unavailable', payload: { endpoint: 'jwks' } },
      { name: 'token.rejected', payload: { reason: 'unavailable' } },
    ]);
  });
});

describe('no payload carries a credential', () => {
  it('none of the tokens, client secrets or passwords used in this file appears in any payload', () => {
    // Not vacuous: this file recorded many payloads and issued many tokens.
    expect(everyPayload.length).toBeGreaterThan(50);
    expect(credentials.size).toBeGreaterThan(40);
    const text = JSON.stringify(everyPayload);
    expect(
      [...credentials].filter((c) => text.includes(c)).map((c) => `${c.slice(0, 12)}…`),
    ).toEqual([]);
  });
});
