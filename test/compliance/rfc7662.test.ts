// RFC 7662 compliance of the introspection endpoint: caller authentication, active-token members (plus tenant_id, local_user, device_id), exactly {"active":false} otherwise.
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import request from 'supertest';
import {
  ALICE,
  APP,
  buildApp,
  INTROSPECT,
  ISSUER,
  post,
  RS,
  revoke,
  SVC,
  SVC_RT,
  seed,
  signIn,
  type TestApp,
  TOKEN,
  WEB,
} from '../helpers/app';
import { testClock } from '../helpers/clock';
import { makeStore, type TestStore } from '../helpers/stores';

const INACTIVE = '{"active":false}';
/** acme, confidential: signs users in, so refresh tokens are issued to it, and may introspect. */
const WEB_I = { id: 'web-i', secret: 'web-i-secret-0123456789' };
/** acme, may introspect access tokens of every tenant. */
const ALL_RS = { id: 'all-rs', secret: 'all-rs-secret-0123456789' };

describe.each(['memory', 'redis'] as const)('RFC 7662 introspection endpoint (%s)', (kind) => {
  let ts: TestStore;
  let t: TestApp;
  let shortLived: TestApp;
  let session: { access_token: string; refresh_token: string; scope: string };

  // Both instances and the store read one clock: token expiry comes when the test moves it.
  const clock = testClock();

  beforeAll(async () => {
    ts = await makeStore(kind, `rfc7662-${kind}`, { now: clock.seconds });
    t = buildApp(ts.store, { clock });
    await seed(t.auth);
    await t.auth.admin.upsertClient({
      ...WEB_I,
      tenantId: 'acme',
      grants: ['password', 'refresh_token'],
      scopes: ['print', 'scan'],
      introspect: true,
    });
    await t.auth.admin.upsertClient({
      ...ALL_RS,
      tenantId: 'acme',
      grants: ['client_credentials'],
      introspect: true,
      introspectAllTenants: true,
    });
    session = await signIn(t.app);
    // A second instance on the same store whose access tokens live three seconds.
    shortLived = buildApp(ts.store, { accessTokenTtl: 3, clock });
  });
  afterAll(() => ts.close());

  /** Introspect as print-rs and return the raw response. */
  const ask = (token: string) => post(t.app, INTROSPECT, { token }, RS);
  /** Introspect as web-i, the client its own sign-ins' refresh tokens are issued to. */
  const askOwn = (token: string) => post(t.app, INTROSPECT, { token }, WEB_I);
  /** A password sign-in through web-i (its refresh token is web-i's to introspect). */
  async function signInOwn(extra: Record<string, string> = {}) {
    const res = await post(t.app, TOKEN, { grant_type: 'password', ...ALICE, ...extra }, WEB_I);
    expect(res.status).toBe(200);
    return res.body as { access_token: string; refresh_token: string; scope: string };
  }

  describe('§2.1 introspection request', () => {
    it('§2.1 the endpoint requires client authentication: none → 401 invalid_client', async () => {
      const res = await post(t.app, INTROSPECT, { token: session.access_token });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
      expect(res.body.active).toBeUndefined();
    });

    it('§2.1 wrong client secret → 401 invalid_client with a Basic challenge', async () => {
      const res = await post(
        t.app,
        INTROSPECT,
        { token: session.access_token },
        { id: RS.id, secret: 'wrong-secret-000000' },
      );
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
      expect(res.headers['www-authenticate']).toMatch(/^Basic /);
    });

    it('§2.1 a public client (client_id only) cannot introspect → 401', async () => {
      const res = await post(t.app, INTROSPECT, { token: session.access_token, client_id: APP.id });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    });

    it('§2.1 an authenticated client not allowed to introspect → 403', async () => {
      for (const client of [SVC, WEB]) {
        const res = await post(t.app, INTROSPECT, { token: session.access_token }, client);
        expect(res.status).toBe(403);
        expect(res.body.active).toBeUndefined();
        expect(typeof res.body.error).toBe('string');
      }
    });

    it('§2.1 client_secret_post authentication is accepted', async () => {
      const res = await post(t.app, INTROSPECT, {
        token: session.access_token,
        client_id: RS.id,
        client_secret: RS.secret,
      });
      expect(res.status).toBe(200);
      expect(res.body.active).toBe(true);
    });

    it('§2.1 the endpoint accepts POST only (GET → 405 with Allow: POST)', async () => {
      const res = await request(t.app)
        .get(INTROSPECT)
        .query({ token: session.access_token })
        .auth(RS.id, RS.secret);
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('POST');
    });

    it('§2.1 token is required → 400 invalid_request', async () => {
      const res = await post(t.app, INTROSPECT, {}, RS);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    });

    it('§2.1 token_type_hint is only a hint: a wrong hint does not change the answer', async () => {
      const res = await post(
        t.app,
        INTROSPECT,
        { token: session.access_token, token_type_hint: 'refresh_token' },
        RS,
      );
      expect(res.body.active).toBe(true);
      const rt = await post(
        t.app,
        INTROSPECT,
        { token: (await signInOwn()).refresh_token, token_type_hint: 'access_token' },
        WEB_I,
      );
      expect(rt.body.active).toBe(true);
    });
  });

  describe('§2.2 active token response', () => {
    it('§2.2 a user access token: active, scope, client_id, username, token_type, exp, iat, sub, aud, iss, jti, tenant_id', async () => {
      const res = await ask(session.access_token);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['cache-control']).toBe('no-store');
      const claims = decodeJwt(session.access_token);
      expect(res.body).toEqual({
        active: true,
        scope: session.scope,
        client_id: APP.id,
        username: ALICE.username,
        token_type: 'Bearer',
        exp: claims.exp,
        iat: claims.iat,
        sub: ALICE.username,
        aud: ISSUER,
        iss: ISSUER,
        jti: claims.jti,
        tenant_id: 'acme',
        // §2.2 allows service-specific members: what remote guards need for local users, service scopes and roles, read now.
        tokenward: { roles: ['printer'], scopes: [] },
      });
      expect(res.body.exp - res.body.iat).toBe(600);
    });

    it('§2.2 a client_credentials token with local_user (tenants and local users): sub is the client, tenant_id and local_user, no username', async () => {
      const cc = await post(
        t.app,
        TOKEN,
        { grant_type: 'client_credentials', local_user: 'kiosk-7@front desk', scope: 'print' },
        SVC,
      );
      expect(cc.status).toBe(200);
      const res = await ask(cc.body.access_token);
      expect(res.body).toEqual({
        active: true,
        scope: 'print',
        client_id: SVC.id,
        token_type: 'Bearer',
        exp: expect.any(Number),
        iat: expect.any(Number),
        sub: SVC.id,
        aud: ISSUER,
        iss: ISSUER,
        jti: decodeJwt(cc.body.access_token).jti,
        tenant_id: 'acme',
        local_user: 'kiosk-7@front desk',
        tokenward: { local_user_mode: true, scopes: [] },
      });
    });

    it('§2.2 extension member "tokenward": registered scope definitions, roles and mode as they are now', async () => {
      await t.auth.admin.upsertScope({
        name: 'print',
        service: 'print',
        roleCheck: true,
        roles: ['printer'],
      });
      await t.auth.admin.upsertTenant({ id: 'acme', localUserMode: false });
      try {
        const cc = await post(
          t.app,
          TOKEN,
          { grant_type: 'client_credentials', local_user: 'k', scope: 'print scan' },
          SVC,
        );
        const res = await ask(cc.body.access_token);
        expect(res.body.tokenward).toEqual({
          local_user_mode: false,
          scopes: [{ name: 'print', service: 'print', role_check: true, roles: ['printer'] }],
        });
        await t.auth.admin.upsertUser({ tenantId: 'acme', username: ALICE.username, roles: [] });
        expect((await ask(session.access_token)).body.tokenward.roles).toEqual([]);
      } finally {
        await t.auth.admin.deleteScope('print');
        await t.auth.admin.upsertTenant({ id: 'acme', localUserMode: true });
        await t.auth.admin.upsertUser({
          tenantId: 'acme',
          username: ALICE.username,
          roles: ['printer'],
        });
      }
    });

    it('§2.2 a client of another tenant: tenant_id is that tenant (asked by a client registered with introspectAllTenants)', async () => {
      const cc = await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC_RT);
      const res = await post(t.app, INTROSPECT, { token: cc.body.access_token }, ALL_RS);
      expect(res.body).toMatchObject({
        active: true,
        client_id: SVC_RT.id,
        sub: SVC_RT.id,
        tenant_id: 'beta',
      });
      expect(res.body.local_user).toBeUndefined();
      expect(res.body.username).toBeUndefined();
    });

    it('§2.2 a password grant with device_id (device sessions): device_id in the response', async () => {
      const s = await signInOwn({ device_id: 'printer-42.lobby:A_1' });
      const res = await ask(s.access_token);
      expect(res.body).toMatchObject({
        active: true,
        username: ALICE.username,
        sub: ALICE.username,
        device_id: 'printer-42.lobby:A_1',
        tenant_id: 'acme',
      });
      const rt = await askOwn(s.refresh_token);
      expect(rt.body).toMatchObject({ active: true, device_id: 'printer-42.lobby:A_1' });
    });

    it('§2.2 an active refresh token, asked by the client it was issued to: active, client_id, username, sub, scope, exp, tenant_id', async () => {
      const s = await signInOwn();
      const res = await askOwn(s.refresh_token);
      expect(res.body).toMatchObject({
        active: true,
        client_id: WEB_I.id,
        username: ALICE.username,
        sub: ALICE.username,
        scope: s.scope,
        iss: ISSUER,
        tenant_id: 'acme',
      });
      expect(res.body.exp).toBeGreaterThan(Math.floor(Date.now() / 1000));
      expect(res.body.token_type).not.toBe('Bearer');
    });
  });

  describe('§2.2 inactive tokens: exactly {"active":false}', () => {
    it.each([
      ['garbage', 'garbage'],
      ['a JWT-shaped string', 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'],
      ['a refresh-token-shaped unknown token', `${'A'.repeat(22)}.${'B'.repeat(43)}`],
      ['a 8 KB string', 'x'.repeat(8192)],
    ])('§2.2 %s → {"active":false}', async (_name, token) => {
      const res = await ask(token);
      expect(res.status).toBe(200);
      expect(res.text).toBe(INACTIVE);
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('§2.2 an expired access token → {"active":false}', async () => {
      const s = await signIn(shortLived.app);
      clock.advance((decodeJwt(s.access_token).exp as number) * 1000 - 1 - clock());
      expect((await ask(s.access_token)).body.active).toBe(true);
      clock.advance(1); // exp: expired (introspection allows no clock skew)
      expect((await ask(s.access_token)).text).toBe(INACTIVE);
    });

    it('§2.2 a revoked access token → {"active":false}', async () => {
      const s = await signIn(t.app);
      expect((await revoke(t.app, s.access_token)).status).toBe(200);
      expect((await ask(s.access_token)).text).toBe(INACTIVE);
    });

    it('§2.2 a revoked refresh token, and the access tokens of its family → {"active":false}', async () => {
      const s = await signInOwn();
      expect((await askOwn(s.refresh_token)).body.active).toBe(true);
      const form = { client_id: WEB_I.id, client_secret: WEB_I.secret };
      expect((await revoke(t.app, s.refresh_token, form)).status).toBe(200);
      expect((await askOwn(s.refresh_token)).text).toBe(INACTIVE);
      expect((await ask(s.access_token)).text).toBe(INACTIVE);
    });

    // §2.2: "If the introspection call is properly authorized but [...] the protected resource is
    // not allowed to introspect this particular token, then the authorization server MUST return
    // an introspection response with the "active" field set to "false"." §4: the server "MAY
    // respond differently to different protected resources making the same request".
    it('§2.2 another tenant\'s live access token, asked by a client not registered with introspectAllTenants → exactly {"active":false}', async () => {
      const cc = await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC_RT);
      expect(cc.status).toBe(200);
      const res = await ask(cc.body.access_token);
      expect(res.status).toBe(200);
      expect(res.text).toBe(INACTIVE);
      expect(
        (await post(t.app, INTROSPECT, { token: cc.body.access_token }, ALL_RS)).body.active,
      ).toBe(true);
    });

    it('§2.2 a live refresh token asked by a client it was not issued to → exactly {"active":false}', async () => {
      const s = await signInOwn();
      expect((await askOwn(s.refresh_token)).body.active).toBe(true);
      for (const other of [RS, ALL_RS]) {
        const res = await post(t.app, INTROSPECT, { token: s.refresh_token }, other);
        expect(res.status).toBe(200);
        expect(res.text).toBe(INACTIVE);
      }
      // A public client's refresh token is no introspecting client's.
      const pub = await signIn(t.app);
      expect((await ask(pub.refresh_token)).text).toBe(INACTIVE);
      expect((await t.auth.admin.introspectToken(pub.refresh_token)).active).toBe(true);
    });

    it('§2.2 a rotated refresh token → {"active":false}, its successor active', async () => {
      const s = await signInOwn();
      const r = await post(
        t.app,
        TOKEN,
        { grant_type: 'refresh_token', refresh_token: s.refresh_token },
        WEB_I,
      );
      expect(r.status).toBe(200);
      expect((await askOwn(s.refresh_token)).text).toBe(INACTIVE);
      expect((await askOwn(r.body.refresh_token)).body.active).toBe(true);
    });

    it('§2.2 a token signed by a foreign ES256 key with the same header and claims → {"active":false}', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const { kid, typ } = decodeProtectedHeader(session.access_token);
      const forged = await new SignJWT(decodeJwt(session.access_token))
        .setProtectedHeader({ alg: 'ES256', typ, kid })
        .sign(privateKey);
      expect(forged.split('.')[1]).toBe(session.access_token.split('.')[1]);
      expect((await ask(forged)).text).toBe(INACTIVE);
      expect((await ask(session.access_token)).body.active).toBe(true);
    });

    it('§2.2 an access token with a tampered payload (scope widened, signature kept) → {"active":false}', async () => {
      const [h, , s] = session.access_token.split('.');
      const claims = { ...decodeJwt(session.access_token), scope: 'print scan admin' };
      const tampered = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
      expect((await ask(tampered)).text).toBe(INACTIVE);
    });

    it('§2.2 tokens of a grant revoked through the admin API → {"active":false}', async () => {
      const s = await signInOwn();
      expect((await askOwn(s.refresh_token)).body.active).toBe(true);
      expect((await ask(s.access_token)).body.active).toBe(true);
      // The grant id is everything before the secret (users' grant ids carry a dot themselves).
      await t.auth.admin.revokeGrant(s.refresh_token.slice(0, s.refresh_token.lastIndexOf('.')));
      expect((await askOwn(s.refresh_token)).text).toBe(INACTIVE);
      expect((await ask(s.access_token)).text).toBe(INACTIVE);
    });
  });
});
