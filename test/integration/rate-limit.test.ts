// Rate limits that cannot be turned against users: only failures count (and a family's own
// rotations), keyed as authentication decodes them; 429 with an RFC-style body and Retry-After; on
// Redis the counts hold across instances sharing the store.
import type { Express } from 'express';
import request from 'supertest';
import type { RateLimitOptions } from '../../lib';
import * as secrets from '../../lib/tokens/secrets';
import {
  ALICE,
  APP,
  BOB,
  buildApp,
  INTROSPECT,
  REVOKE,
  RS,
  seed,
  type TestApp,
  TOKEN,
} from '../helpers/app';
import { makeStore, type TestStore } from '../helpers/stores';

/** A POST from address `ip` (the app trusts X-Forwarded-For), with an optional Authorization header. */
function from(ip: string, app: Express, path: string, form: Record<string, string>, auth?: string) {
  const req = request(app).post(path).type('form').set('X-Forwarded-For', ip);
  if (auth) req.set('Authorization', auth);
  return req.send(form);
}

const basic = (scheme: string, id: string, secret: string) =>
  `${scheme} ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

const KIOSK = { id: 'kiosk', secret: 'kiosk-secret-0123456789' };

describe.each(['memory', 'redis', 'cluster'] as const)('rate limits on %s', (kind) => {
  // Each test has a store of its own (its own key prefix on Redis, so its own counts) and seeds it:
  // any one test passes alone, in any order.
  let ts: TestStore;
  beforeEach(async () => {
    ts = await makeStore(kind, `ratelimit-${kind}`);
  });
  afterEach(() => {
    jest.restoreAllMocks();
    return ts.close();
  });

  async function build(rateLimit: RateLimitOptions, options = {}): Promise<TestApp> {
    const t = buildApp(ts.store, { rateLimit, ...options });
    t.app.set('trust proxy', true);
    return t;
  }
  async function built(rateLimit: RateLimitOptions, options = {}): Promise<TestApp> {
    const t = await build(rateLimit, options);
    await seed(t.auth);
    await t.auth.admin.upsertClient({
      ...KIOSK,
      tenantId: 'acme',
      grants: ['client_credentials'],
      scopes: ['print'],
    });
    return t;
  }
  const signIn = (t: TestApp, ip: string, user: { username: string; password: string }) =>
    from(ip, t.app, TOKEN, { grant_type: 'password', client_id: APP.id, ...user });
  const refresh = (t: TestApp, ip: string, token: string) =>
    from(ip, t.app, TOKEN, {
      grant_type: 'refresh_token',
      client_id: APP.id,
      refresh_token: token,
    });

  it('a username past its failed-password limit: 429 with Retry-After for its sign-ins only, never its refreshes or other users', async () => {
    const t = await built({}); // the defaults: 10 failures per username per 15 minutes
    const session = await signIn(t, '10.0.0.9', ALICE);
    expect(session.status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++)
      statuses.push((await signIn(t, `10.0.1.${i}`, { ...ALICE, password: `guess-${i}` })).status);
    expect(statuses).toEqual([...Array(10).fill(400), 429]);
    const locked = await signIn(t, '10.0.0.9', ALICE); // even the right password
    expect(locked.status).toBe(429);
    expect(locked.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: expect.any(String),
    });
    const retryAfter = Number(locked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);
    // Alice's session goes on; Bob signs in from the same addresses.
    expect((await refresh(t, '10.0.0.9', session.body.refresh_token)).status).toBe(200);
    expect((await signIn(t, '10.0.1.3', BOB)).status).toBe(200);
  });

  it('only failed passwords count: successful sign-ins spend nothing', async () => {
    const t = await built({ failedPasswordsPerUsername: 2, failedPasswordsPerIp: 2 });
    for (let i = 0; i < 5; i++) expect((await signIn(t, '10.0.0.1', BOB)).status).toBe(200);
    expect((await signIn(t, '10.0.0.1', { ...BOB, password: 'wrong-1' })).status).toBe(400);
    expect((await signIn(t, '10.0.0.1', BOB)).status).toBe(200);
  });

  it('failed passwords per IP: past the limit that address is refused, others are not', async () => {
    const t = await built({ failedPasswordsPerIp: 3 });
    const statuses: number[] = [];
    for (const username of ['u1', 'u2', 'u3', 'u4'])
      statuses.push((await signIn(t, '10.0.0.66', { username, password: 'guess-123' })).status);
    expect(statuses).toEqual([400, 400, 400, 429]);
    expect((await signIn(t, '10.0.0.66', ALICE)).status).toBe(429);
    expect((await signIn(t, '10.0.0.67', ALICE)).status).toBe(200);
  });

  it("behind a proxy without trust proxy every address shares one bucket (why the recipe sets it); the router reads its parent app's setting", async () => {
    const t = await built({ failedPasswordsPerIp: 2 });
    t.app.set('trust proxy', false); // X-Forwarded-For ignored: every request is the proxy's
    for (const ip of ['10.1.0.1', '10.1.0.2'])
      expect((await signIn(t, ip, { username: 'u1', password: 'guess-123' })).status).toBe(400);
    expect((await signIn(t, '10.1.0.3', ALICE)).status).toBe(429);
    t.app.set('trust proxy', 1); // one proxy hop: each forwarded address counts on its own
    expect((await signIn(t, '10.1.0.4', ALICE)).status).toBe(200);
  });

  it('usernames are counted per tenant: the same username in another tenant keeps its own count', async () => {
    const t = await built({ failedPasswordsPerUsername: 2 });
    const a = t.auth.admin;
    await a.upsertTenant({ id: 'gamma' });
    await a.upsertClient({
      id: 'gamma-app',
      public: true,
      tenantId: 'gamma',
      grants: ['password', 'refresh_token'],
      scopes: [],
    });
    await a.upsertUser({ tenantId: 'gamma', username: 'carol', password: 'gamma-carol-pw' });
    const attempt = (client: string, password: string) =>
      from('10.0.0.2', t.app, TOKEN, {
        grant_type: 'password',
        client_id: client,
        username: 'carol',
        password,
      });
    // carol of tenant acme (who does not exist: the same 400 as a wrong password) is limited.
    const acme = [];
    for (let i = 0; i < 3; i++) acme.push((await attempt(APP.id, 'guess')).status);
    expect(acme).toEqual([400, 400, 429]);
    expect((await attempt('gamma-app', 'gamma-carol-pw')).status).toBe(200);
  });

  it("junk under a public client's id and junk refresh tokens naming a family spend no budget of its users", async () => {
    const t = await built({ failedClientAuthPerClient: 2, refreshesPerFamily: 3 });
    const session = await signIn(t, '10.0.0.5', ALICE);
    const family = String(session.body.refresh_token).split('.')[0];
    for (let i = 0; i < 10; i++) {
      // A public client presenting a secret, a grant it may not use, an unknown refresh token.
      const junk = [
        from('10.9.0.1', t.app, TOKEN, {
          grant_type: 'password',
          client_id: APP.id,
          client_secret: `junk-${i}`,
          ...ALICE,
        }),
        from('10.9.0.1', t.app, TOKEN, { grant_type: 'client_credentials', client_id: APP.id }),
        refresh(t, `10.9.1.${i}`, `${family}.${'A'.repeat(43)}`),
      ];
      const answers = await Promise.all(junk);
      expect(answers.map((r) => r.status)).toEqual([401, 401, 400]);
    }
    // Every real refresh of the family still rotates (3 is its budget), and users still sign in.
    let token = session.body.refresh_token as string;
    for (let i = 0; i < 3; i++) {
      const res = await refresh(t, '10.0.0.5', token);
      expect(res.status).toBe(200);
      token = res.body.refresh_token;
    }
    expect((await signIn(t, '10.0.0.5', BOB)).status).toBe(200);
    // The family's own rotations are what its budget counts: the fourth is refused, the token kept.
    const fourth = await refresh(t, '10.0.0.5', token);
    expect(fourth.status).toBe(429);
    expect(Number(fourth.headers['retry-after'])).toBeGreaterThan(0);
    // Another family of the same user is not affected.
    const other = await signIn(t, '10.0.0.5', ALICE);
    expect((await refresh(t, '10.0.0.5', other.body.refresh_token)).status).toBe(200);
  });

  it('failed refreshes count against the IP', async () => {
    const t = await built({ failedRefreshesPerIp: 3 });
    const session = await signIn(t, '10.0.0.5', ALICE);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await refresh(t, '10.7.0.7', `junk-${i}.${'B'.repeat(43)}`)).status);
    expect(statuses).toEqual([400, 400, 400, 429, 429]);
    expect((await refresh(t, '10.0.0.5', session.body.refresh_token)).status).toBe(200);
  });

  it('a Basic id is counted as authentication decodes it: %6Biosk, a lower-case basic scheme and the body id share one count', async () => {
    const t = await built({ failedClientAuthPerClient: 3 });
    const cc = (auth: string | undefined, form: Record<string, string> = {}) =>
      from('10.3.0.1', t.app, TOKEN, { grant_type: 'client_credentials', ...form }, auth);
    const statuses = [
      (await cc(basic('Basic', '%6Biosk', 'wrong-secret-1'))).status,
      (await cc(basic('basic', 'kiosk', 'wrong-secret-2'))).status,
      (await cc(undefined, { client_id: 'kiosk', client_secret: 'wrong-secret-3' })).status,
      (await cc(basic('BASIC', 'kiosk', 'wrong-secret-4'))).status,
    ];
    expect(statuses).toEqual([401, 401, 401, 429]);
  });

  it("a client past its failure limit still authenticates: with this instance's verified digest, and from a clean IP without it", async () => {
    const t = await built({ failedClientAuthPerClient: 2 });
    const cc = (ip: string, secret: string, app = t.app) =>
      from(ip, app, TOKEN, { grant_type: 'client_credentials' }, basic('Basic', KIOSK.id, secret));
    expect((await cc('10.1.0.1', KIOSK.secret)).status).toBe(200); // its digest is now remembered
    const attacker = [];
    for (let i = 0; i < 5; i++) attacker.push((await cc('10.6.6.6', `wrong-secret-${i}`)).status);
    expect(attacker).toEqual([401, 401, 429, 429, 429]);
    // The attacker's address gets nothing, not even with the right secret; the client does.
    expect((await cc('10.6.6.6', KIOSK.secret)).status).toBe(429);
    expect((await cc('10.1.0.1', KIOSK.secret)).status).toBe(200);
    // Another instance on the same store, without the digest: the client's clean address passes.
    const other = await build({ failedClientAuthPerClient: 2 });
    expect((await cc('10.6.6.6', KIOSK.secret, other.app)).status).toBe(
      kind === 'memory' ? 200 : 429,
    );
    expect((await cc('10.1.0.1', KIOSK.secret, other.app)).status).toBe(200);
  });

  it('revocation and introspection: failed client authentication is limited, and past the limit no scrypt runs', async () => {
    const t = await built({ failedClientAuthPerIp: 3 });
    const verify = jest.spyOn(secrets, 'verifySecret');
    for (const path of [INTROSPECT, REVOKE]) {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await from(
          `10.4.0.${path === REVOKE ? 2 : 1}`,
          t.app,
          path,
          { token: 'whatever' },
          basic('Basic', RS.id, `wrong-secret-${i}`),
        );
        statuses.push(res.status);
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429, 429]);
    }
    expect(verify).toHaveBeenCalledTimes(6);
    // The resource server itself, from its own address, is not affected.
    expect(
      (await from('10.4.1.1', t.app, INTROSPECT, { token: 'x' }, basic('Basic', RS.id, RS.secret)))
        .status,
    ).toBe(200);
  });

  if (kind !== 'memory') {
    it('two instances on one Redis share the counts', async () => {
      const a = await built({ failedPasswordsPerUsername: 4 });
      const b = await build({ failedPasswordsPerUsername: 4 });
      const results = [];
      for (let i = 0; i < 6; i++)
        results.push(
          (await signIn(i % 2 ? a : b, `10.2.0.${i}`, { ...ALICE, password: `guess-${i}` })).status,
        );
      expect(results).toEqual([400, 400, 400, 400, 429, 429]);
    });
  }
});
