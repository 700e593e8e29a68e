// The authorization-code grant through the host's own login: RFC 6749 §4.1, PKCE (RFC 7636) and the
// authorization response's iss (RFC 9207), case by case, on every store.
import { createHash, randomBytes } from 'node:crypto';
import express, { type Express } from 'express';
import * as jose from 'jose';
import request from 'supertest';
import {
  type AuthServer,
  ConfigError,
  createAuthServer,
  createGuard,
  MemoryStore,
  RedisStore,
} from '../../lib';
import { ALICE, APP, ISSUER, introspect, seed, TOKEN, WEB } from '../helpers/app';
import { testClock } from '../helpers/clock';
import { TEST_HASHING } from '../helpers/hashing';
import { keysAtRest } from '../helpers/key-secret';
import { makeStore, STORE_KINDS, type TestStore } from '../helpers/stores';

const AUTHORIZE = '/oauth2/authorize';
const CB = 'https://app.example/cb';
const NATIVE = 'http://127.0.0.1/callback';

/** The host application's "session": a header stands for its login cookie in these tests. */
const SESSION = 'x-test-session';

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

interface Host {
  app: Express;
  auth: AuthServer;
  logins: string[];
}

/** A host app: its login lives at /login; authorize.authenticate reads its "session". */
async function host(ts: TestStore | { store: MemoryStore }): Promise<Host> {
  const logins: string[] = [];
  const auth = createAuthServer({
    issuer: ISSUER,
    store: ts.store,
    rateLimit: false,
    passwordHashing: TEST_HASHING,
    ...keysAtRest(ts.store),
    authorize: {
      authenticate: async (req) => {
        const s = req.get(SESSION);
        if (!s) return null;
        const [tenantId, username] = s.split(':');
        return { tenantId: tenantId as string, username: username as string };
      },
      loginUrl: '/login',
    },
  });
  const app = express();
  app.use(auth.router());
  app.get('/login', (req, res) => {
    logins.push(String(req.query.return_to));
    res.send('login page');
  });
  app.locals.tokenwardAuth = auth;
  await seed(auth);
  await auth.admin.upsertClient({
    ...APP,
    public: true,
    tenantId: 'acme',
    grants: ['authorization_code', 'refresh_token'],
    redirectUris: [CB, NATIVE],
    scopes: ['print', 'scan'],
  });
  return { app, auth, logins };
}

function authorizeUrl(params: Record<string, string | string[]>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, one);
  return `${AUTHORIZE}?${q}`;
}

function baseParams(challenge: string, extra: Record<string, string | string[]> = {}) {
  return {
    response_type: 'code',
    client_id: APP.id,
    redirect_uri: CB,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'st-123',
    ...extra,
  };
}

/** Authorize as alice; the redirect's query. */
async function codeFor(h: Host, extra: Record<string, string> = {}, user = 'acme:alice') {
  const p = pkce();
  const res = await request(h.app)
    .get(authorizeUrl(baseParams(p.challenge, extra)))
    .set(SESSION, user);
  expect(res.status).toBe(302);
  const location = new URL(res.headers.location as string);
  return { ...p, location, code: location.searchParams.get('code') as string };
}

const redeem = (h: Host, code: string, verifier: string, extra: Record<string, string> = {}) =>
  request(h.app)
    .post(TOKEN)
    .type('form')
    .send({
      grant_type: 'authorization_code',
      client_id: APP.id,
      code,
      redirect_uri: CB,
      code_verifier: verifier,
      ...extra,
    });

describe.each(STORE_KINDS)('authorization code on %s', (kind) => {
  let ts: TestStore;
  let h: Host;
  beforeAll(async () => {
    ts = await makeStore(kind, `authorization-code-${kind}`);
    h = await host(ts);
  });
  afterAll(() => ts.close());

  it('RFC 6749 §4.1.2: "the authorization server issues an authorization code and delivers it to the client by adding … code … state" — and iss (RFC 9207 §2)', async () => {
    const { location, code } = await codeFor(h);
    expect(`${location.origin}${location.pathname}`).toBe(CB);
    expect(code).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(location.searchParams.get('state')).toBe('st-123');
    expect(location.searchParams.get('iss')).toBe(ISSUER);
  });

  it('RFC 6749 §4.1.3-4.1.4: the code, the same redirect_uri and the PKCE verifier get tokens; a refresh-token family starts', async () => {
    const { code, verifier } = await codeFor(h, { scope: 'print' });
    const res = await redeem(h, code, verifier);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'print', expires_in: 600 });
    expect(res.body.refresh_token).toEqual(expect.any(String));
    const claims = jose.decodeJwt(res.body.access_token);
    expect(claims).toMatchObject({
      sub: ALICE.username,
      tenant_id: 'acme',
      client_id: APP.id,
      gty: 'authorization_code',
    });
    // A guard admits it as alice's token (a user token: roles apply).
    const guard = createGuard({ issuer: ISSUER, store: ts.store });
    const api = express().get('/me', guard.authenticate(), guard.resolveIdentity(), (req, res) => {
      res.json(req.auth?.identity);
    });
    const me = await request(api)
      .get('/me')
      .set('Authorization', `Bearer ${res.body.access_token}`);
    expect(me.body).toEqual({ kind: 'user', id: 'alice', tenantId: 'acme' });
    // The family rotates like any other.
    const refreshed = await request(h.app).post(TOKEN).type('form').send({
      grant_type: 'refresh_token',
      client_id: APP.id,
      refresh_token: res.body.refresh_token,
    });
    expect(refreshed.status).toBe(200);
  });

  it('RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization server MUST deny the request and SHOULD revoke … all tokens previously issued based on that authorization code"', async () => {
    const { code, verifier } = await codeFor(h);
    const first = await redeem(h, code, verifier);
    expect(first.status).toBe(200);
    expect((await introspect(h.app, first.body.access_token)).active).toBe(true);
    const again = await redeem(h, code, verifier);
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
    expect((await introspect(h.app, first.body.access_token)).active).toBe(false);
    expect((await introspect(h.app, first.body.refresh_token)).active).toBe(false);
  });

  it('a code redeemed concurrently: exactly one winner, and the replay revokes it', async () => {
    const { code, verifier } = await codeFor(h);
    const results = await Promise.all(Array.from({ length: 8 }, () => redeem(h, code, verifier)));
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    expect(
      results.filter((r) => r.status === 400 && r.body.error === 'invalid_grant'),
    ).toHaveLength(7);
    expect((await introspect(h.app, ok[0]?.body.access_token)).active).toBe(false);
  });

  it('device_id on the authorization request joins the device session, as the password grant does', async () => {
    const { code, verifier } = await codeFor(h, { device_id: 'laptop-7' });
    const res = await redeem(h, code, verifier);
    expect(res.status).toBe(200);
    expect(jose.decodeJwt(res.body.access_token).device_id).toBe('laptop-7');
    const sessions = await h.auth.admin.listDeviceSessions('acme', 'alice');
    expect(sessions.map((s) => s.deviceId)).toContain('laptop-7');
  });

  it('a user whose grants were ended after the code was issued: the code is refused', async () => {
    const { code, verifier } = await codeFor(h, {}, 'acme:bob');
    await h.auth.admin.revokeUserGrants('acme', 'bob');
    const res = await redeem(h, code, verifier);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });
});

describe('authorization endpoint (MemoryStore)', () => {
  let h: Host;
  const store = new MemoryStore();
  beforeAll(async () => {
    h = await host({ store });
  });
  const get = (params: Record<string, string | string[]>, user = 'acme:alice') =>
    request(h.app).get(authorizeUrl(params)).set(SESSION, user);

  it('nobody signed in: the host’s login page, with return_to bringing the browser back to this very request', async () => {
    const { challenge } = pkce();
    const url = authorizeUrl(baseParams(challenge));
    const res = await request(h.app).get(url);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.location as string, ISSUER);
    expect(location.pathname).toBe('/login');
    const back = location.searchParams.get('return_to') as string;
    expect(back).toBe(url);
    expect(h.auth.safeReturnTo(back)).toBe(url);
    // After the login, the same request yields a code.
    expect((await get(baseParams(challenge))).headers.location).toMatch(
      /^https:\/\/app\.example\/cb\?code=/,
    );
  });

  it.each([
    ['https://evil.example/oauth2/authorize?x', undefined],
    ['//evil.example/oauth2/authorize?x', undefined],
    ['/\\evil.example', undefined],
    ['/oauth2/token?x', undefined],
    ['javascript:alert(1)', undefined],
    [['/oauth2/authorize?a'], undefined],
    ['/oauth2/authorize?client_id=app#frag', undefined],
    ['/oauth2/authorize?client_id=app', '/oauth2/authorize?client_id=app'],
  ])('safeReturnTo(%j) → %j: only this server’s own authorization URL', (value, expected) => {
    expect(h.auth.safeReturnTo(value)).toBe(expected);
  });

  describe('RFC 6749 §4.1.2.1: "If the request fails due to a missing, invalid, or mismatching redirection URI, or if the client identifier is missing or invalid, the authorization server SHOULD inform the resource owner of the error and MUST NOT automatically redirect"', () => {
    it.each([
      ['unknown client', { client_id: 'nobody' }],
      ['missing client_id', { client_id: '' }],
      ['missing redirect_uri', { redirect_uri: '' }],
      ['unregistered redirect_uri', { redirect_uri: 'https://evil.example/cb' }],
      ['look-alike redirect_uri (suffix)', { redirect_uri: `${CB}/../x` }],
      [
        'look-alike redirect_uri (extra query)',
        { redirect_uri: `${CB}?next=https://evil.example` },
      ],
      ['look-alike redirect_uri (case)', { redirect_uri: 'https://APP.example/cb' }],
      ['redirect_uri with a fragment', { redirect_uri: `${CB}#x` }],
      ['javascript: redirect_uri', { redirect_uri: 'javascript:alert(document.cookie)' }],
      ['repeated client_id', { client_id: [APP.id, WEB.id] }],
      ['repeated redirect_uri', { redirect_uri: [CB, 'https://evil.example/cb'] }],
      ['oversized redirect_uri', { redirect_uri: `${CB}?${'a'.repeat(3000)}` }],
    ])('%s: an error page, no redirect', async (_name, override) => {
      const res = await get(baseParams(pkce().challenge, override as Record<string, string>));
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['content-security-policy']).toContain("default-src 'none'");
      expect(res.text).not.toContain('<script');
      expect(res.text).not.toContain('evil.example');
    });

    it('a client asking for JSON gets the same error as JSON', async () => {
      const res = await request(h.app)
        .get(authorizeUrl(baseParams(pkce().challenge, { client_id: 'nobody' })))
        .set('Accept', 'application/json');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_client', error_description: 'unknown client' });
    });
  });

  describe('RFC 6749 §4.1.2.1: other errors go back to the redirect URI with error, state and iss (RFC 9207 §2)', () => {
    it.each([
      ['unsupported_response_type', { response_type: 'token' }],
      ['invalid_request', { code_challenge: '' }], // RFC 7636 §4.4.1: PKCE required
      ['invalid_request', { code_challenge_method: 'plain' }], // RFC 7636 §4.4.1: S256 only
      ['invalid_request', { code_challenge: 'short' }],
      ['invalid_request', { state: ['a', 'b'] }],
      ['invalid_request', { scope: ['print', 'scan'] }],
      ['invalid_request', { device_id: 'bad device id' }],
      ['invalid_scope', { scope: 'admin' }],
    ])('%s for %j', async (error, override) => {
      const res = await get(baseParams(pkce().challenge, override as Record<string, string>));
      expect(res.status).toBe(302);
      const location = new URL(res.headers.location as string);
      expect(`${location.origin}${location.pathname}`).toBe(CB);
      expect(location.searchParams.get('error')).toBe(error);
      expect(location.searchParams.get('iss')).toBe(ISSUER);
      expect(location.searchParams.get('code')).toBeNull();
    });

    it('access_denied for a user of another tenant (first-party clients never cross tenants)', async () => {
      const res = await get(baseParams(pkce().challenge), 'beta:carol');
      const location = new URL(res.headers.location as string);
      expect(location.searchParams.get('error')).toBe('access_denied');
      expect(location.searchParams.get('state')).toBe('st-123');
    });

    it('unauthorized_client for a client without the authorization_code grant', async () => {
      await h.auth.admin.upsertClient({
        id: 'pw-only',
        public: true,
        tenantId: 'acme',
        grants: ['password'],
        scopes: [],
      });
      // It has no redirect URI at all, so it cannot get past the error page.
      const res = await get(baseParams(pkce().challenge, { client_id: 'pw-only' }));
      expect(res.status).toBe(400);
    });
  });

  it('a user without a password gets codes through the host login, and the password grant refuses them as a wrong password', async () => {
    await h.auth.admin.upsertUser({ tenantId: 'acme', username: 'dora', roles: ['printer'] });
    const { code, verifier } = await codeFor(h, {}, 'acme:dora');
    expect((await redeem(h, code, verifier)).status).toBe(200);
    await h.auth.admin.upsertClient({
      ...WEB,
      tenantId: 'acme',
      grants: ['password'],
      scopes: ['print'],
    });
    const pw = await request(h.app)
      .post(TOKEN)
      .auth(WEB.id, WEB.secret)
      .type('form')
      .send({ grant_type: 'password', username: 'dora', password: 'anything-at-all' });
    expect(pw.status).toBe(400);
    expect(pw.body).toEqual({
      error: 'invalid_grant',
      error_description: 'invalid username or password',
    });
  });

  it('RFC 8707 §2: a resource on the authorization request sets the tokens’ aud and keeps only the scopes its services use; an unknown one is invalid_target', async () => {
    await h.auth.admin.upsertScope({ name: 'print', service: 'print', roleCheck: false });
    await h.auth.admin.upsertScope({ name: 'scan', service: 'scan', roleCheck: false });
    await h.auth.admin.upsertResource({ uri: 'https://print.example/api', services: ['print'] });
    const { code, verifier } = await codeFor(h, {
      resource: 'https://print.example/api',
      scope: 'print scan',
    });
    const res = await redeem(h, code, verifier);
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('print');
    expect(jose.decodeJwt(res.body.access_token).aud).toBe('https://print.example/api');
    // A guard for that resource admits it; the server-wide audience does not.
    const api = (audience: string) => {
      const guard = createGuard({ issuer: ISSUER, audience, store });
      return express().get('/x', guard.authenticate(), (_req, r) => {
        r.send('ok');
      });
    };
    const bearer = `Bearer ${res.body.access_token}`;
    expect(
      (await request(api('https://print.example/api')).get('/x').set('Authorization', bearer))
        .status,
    ).toBe(200);
    expect((await request(api(ISSUER)).get('/x').set('Authorization', bearer)).status).toBe(401);
    // At the token endpoint, another resource than the code's is refused.
    const other = await codeFor(h, { resource: 'https://print.example/api' });
    const mismatch = await redeem(h, other.code, other.verifier, {
      resource: 'https://scan.example/api',
    });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error).toBe('invalid_target');
    // Unknown resource: back to the client with invalid_target.
    const unknown = await get(
      baseParams(pkce().challenge, { resource: 'https://nobody.example/' }),
    );
    expect(new URL(unknown.headers.location as string).searchParams.get('error')).toBe(
      'invalid_target',
    );
  });

  it('RFC 8252 §7.3: "The authorization server MUST allow any port to be specified at the time of the request for loopback IP redirect URIs"', async () => {
    const p = pkce();
    const uri = 'http://127.0.0.1:53117/callback';
    const res = await get(baseParams(p.challenge, { redirect_uri: uri }));
    expect(res.status).toBe(302);
    expect(res.headers.location).toMatch(/^http:\/\/127\.0\.0\.1:53117\/callback\?code=/);
    const code = new URL(res.headers.location as string).searchParams.get('code') as string;
    expect((await redeem(h, code, p.verifier, { redirect_uri: uri })).status).toBe(200);
    // Another path on the loopback address is not the registered one.
    const other = await get(
      baseParams(p.challenge, { redirect_uri: 'http://127.0.0.1:53117/other' }),
    );
    expect(other.status).toBe(400);
  });

  describe('RFC 6749 §4.1.3 and RFC 7636 §4.6 at the token endpoint', () => {
    it.each([
      [
        'a wrong code_verifier (RFC 7636 §4.6)',
        (c: { verifier: string }) => ({ code_verifier: `${c.verifier.slice(0, -1)}x` }),
      ],
      ['another redirect_uri (RFC 6749 §4.1.3)', () => ({ redirect_uri: NATIVE })],
      ['another client (RFC 6749 §4.1.3)', () => ({ client_id: WEB.id })],
      ['a tampered code', (c: { code: string }) => ({ code: `${c.code.slice(0, -2)}AA` })],
      ['a made-up code', () => ({ code: 'c1AAAA' })],
    ])('%s: invalid_grant (or invalid_client), nothing issued', async (_name, change) => {
      const c = await codeFor(h);
      const res = await redeem(h, c.code, c.verifier, change(c as never) as Record<string, string>);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(['invalid_grant', 'invalid_client']).toContain(res.body.error);
      // The honest redemption still works: the failed attempt did not use the code up.
      if (res.body.error === 'invalid_grant')
        expect((await redeem(h, c.code, c.verifier)).status).toBe(200);
    });

    it('RFC 7636 §4.1: a code_verifier outside 43-128 unreserved characters is invalid_request', async () => {
      const c = await codeFor(h);
      const res = await redeem(h, c.code, 'too-short');
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    });

    it('RFC 6749 §4.1.2: "The authorization code MUST expire shortly after it is issued" (≤ 60 s)', async () => {
      const clock = { t: Date.now() };
      const s = new MemoryStore({ now: () => Math.floor(clock.t / 1000) });
      const auth = createAuthServer({
        issuer: ISSUER,
        store: s,
        passwordHashing: TEST_HASHING,
        clock: () => clock.t,
        authorize: {
          authenticate: () => ({ tenantId: 'acme', username: 'alice' }),
          loginUrl: '/login',
        },
      });
      await seed(auth);
      await auth.admin.upsertClient({
        ...APP,
        public: true,
        tenantId: 'acme',
        grants: ['authorization_code'],
        redirectUris: [CB],
        scopes: [],
      });
      const app = express().use(auth.router());
      const p = pkce();
      const res = await request(app).get(authorizeUrl(baseParams(p.challenge)));
      const code = new URL(res.headers.location as string).searchParams.get('code') as string;
      clock.t += 61_000;
      const late = await request(app).post(TOKEN).type('form').send({
        grant_type: 'authorization_code',
        client_id: APP.id,
        code,
        redirect_uri: CB,
        code_verifier: p.verifier,
      });
      expect(late.status).toBe(400);
      expect(late.body).toEqual({
        error: 'invalid_grant',
        error_description: 'authorization code has expired',
      });
    });
  });

  it('RFC 8414 §2 and RFC 9207 §3: metadata advertises the endpoint, S256 and the iss parameter', async () => {
    const res = await request(h.app).get('/.well-known/oauth-authorization-server');
    expect(res.body).toMatchObject({
      authorization_endpoint: `${ISSUER}${AUTHORIZE}`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    });
    expect(res.body.grant_types_supported).toContain('authorization_code');
  });

  it('without the authorize option there is no authorization endpoint and no code grant in the metadata', async () => {
    const app = express().use(
      createAuthServer({ issuer: ISSUER, store: new MemoryStore() }).router(),
    );
    expect((await request(app).get(AUTHORIZE)).status).toBe(404);
    const meta = (await request(app).get('/.well-known/oauth-authorization-server')).body;
    expect(meta.authorization_endpoint).toBeUndefined();
    expect(meta.grant_types_supported).not.toContain('authorization_code');
  });

  it('authenticate throwing is a server_error redirect and a log line, not a 500 page', async () => {
    const lines: string[] = [];
    const auth = createAuthServer({
      issuer: ISSUER,
      store: new MemoryStore(),
      passwordHashing: TEST_HASHING,
      logger: { error: (_f, m) => void lines.push(m) },
      authorize: {
        authenticate: () => {
          throw new Error('session store down');
        },
        loginUrl: '/login',
      },
    });
    await seed(auth);
    await auth.admin.upsertClient({
      ...APP,
      public: true,
      tenantId: 'acme',
      grants: ['authorization_code'],
      redirectUris: [CB],
      scopes: [],
    });
    const res = await request(express().use(auth.router())).get(
      authorizeUrl(baseParams(pkce().challenge)),
    );
    expect(new URL(res.headers.location as string).searchParams.get('error')).toBe('server_error');
    expect(lines).toContain('authorize.authenticate threw');
  });
});

describe('registration and options', () => {
  const auth = createAuthServer({
    issuer: ISSUER,
    store: new MemoryStore(),
    passwordHashing: TEST_HASHING,
  });
  beforeAll(() => auth.admin.upsertTenant({ id: 'acme' }));

  it.each([
    ['javascript:alert(1)'],
    ['https://app.example/cb#frag'],
    ['http://app.example/cb'],
    ['https://user:pw@app.example/cb'],
    ['https://APP.example/cb'],
    ['myapp:/cb'],
    ['data:text/html,x'],
    ['/relative'],
  ])('redirect URI %j is refused at registration', async (uri) => {
    await expect(
      auth.admin.upsertClient({
        id: 'c1',
        public: true,
        tenantId: 'acme',
        grants: ['authorization_code'],
        redirectUris: [uri],
        scopes: [],
      }),
    ).rejects.toThrow(/client\.redirectUris/);
  });

  it('https, loopback http and reverse-domain schemes are accepted; the code grant needs one', async () => {
    const c = await auth.admin.upsertClient({
      id: 'c2',
      public: true,
      tenantId: 'acme',
      grants: ['authorization_code'],
      redirectUris: [
        'https://app.example/cb',
        'http://localhost:3000/cb',
        'com.example.app:/oauth',
      ],
      scopes: [],
    });
    expect(c.redirectUris).toHaveLength(3);
    await expect(
      auth.admin.upsertClient({
        id: 'c3',
        public: true,
        tenantId: 'acme',
        grants: ['authorization_code'],
        scopes: [],
      }),
    ).rejects.toThrow(/needs at least one redirect URI/);
  });

  it('a RedisStore with insecureClearKeys cannot seal codes every instance opens: ConfigError', async () => {
    const ts = await makeStore('redis', 'authorization-code-config');
    try {
      expect(() =>
        createAuthServer({
          issuer: ISSUER,
          store: new RedisStore({ redis: ts.redis as never, prefix: ts.prefix as string }),
          insecureClearKeys: true,
          authorize: { authenticate: () => null, loginUrl: '/login' },
        }),
      ).toThrow(ConfigError);
    } finally {
      await ts.close();
    }
  });

  const none = (): null => null;
  it.each<[object, RegExp]>([
    [{ authenticate: 'x', loginUrl: '/login' }, /authorize\.authenticate/],
    [{ authenticate: none, loginUrl: '//evil.example' }, /authorize\.loginUrl/],
    [{ authenticate: none, loginUrl: 'javascript:x' }, /authorize\.loginUrl/],
    [{ authenticate: none, loginUrl: '/login', codeTtl: 600 }, /codeTtl/],
  ])('bad authorize option %j: ConfigError', (authorize, message) => {
    expect(() =>
      createAuthServer({ issuer: ISSUER, store: new MemoryStore(), authorize: authorize as never }),
    ).toThrow(message);
  });
});

describe('the password grant is legacy (RFC 9700 §2.4)', () => {
  it('metadata advertises it only while some client is registered with it, looked at again each minute', async () => {
    const clock = testClock();
    const auth = createAuthServer({
      issuer: ISSUER,
      store: new MemoryStore({ now: clock.seconds }),
      passwordHashing: TEST_HASHING,
      clock,
      authorize: { authenticate: () => null, loginUrl: '/login' },
    });
    await auth.admin.upsertTenant({ id: 'acme' });
    await auth.admin.upsertClient({
      ...APP,
      public: true,
      tenantId: 'acme',
      grants: ['authorization_code', 'refresh_token'],
      redirectUris: [CB],
      scopes: [],
    });
    const app = express().use(auth.router());
    const grants = async () =>
      (await request(app).get('/.well-known/oauth-authorization-server')).body
        .grant_types_supported;
    expect(await grants()).toEqual(['authorization_code', 'client_credentials', 'refresh_token']);
    await auth.admin.upsertClient({
      id: 'kiosk',
      public: true,
      tenantId: 'acme',
      grants: ['password'],
      scopes: [],
    });
    expect(await grants()).not.toContain('password'); // the minute is not over
    clock.advance(61_000);
    expect(await grants()).toContain('password');
  });
});
