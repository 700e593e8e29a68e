// RFC 7009 compliance of the revocation endpoint: client authentication, family revocation, hints, 200 with an empty body.
import request from 'supertest';
import {
  APP,
  buildApp,
  introspect,
  post,
  REVOKE,
  refresh,
  revoke,
  SVC,
  SVC_RT,
  seed,
  signIn,
  type TestApp,
  TOKEN,
  WEB,
} from '../helpers/app';
import { makeStore, type TestStore } from '../helpers/stores';

describe.each(['memory', 'redis'] as const)('RFC 7009 revocation endpoint (%s)', (kind) => {
  let ts: TestStore;
  let t: TestApp;

  beforeAll(async () => {
    ts = await makeStore(kind, `rfc7009-${kind}`);
    t = buildApp(ts.store);
    await seed(t.auth);
  });
  afterAll(() => ts.close());

  const active = async (token: string) => (await introspect(t.app, token)).active;

  describe('§2.1 revocation request', () => {
    it('§2.1 the endpoint accepts POST only (GET → 405 with Allow: POST)', async () => {
      const res = await request(t.app).get(REVOKE).query({ token: 'x', client_id: APP.id });
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('POST');
      expect(res.body.error).toBe('invalid_request');
    });

    it('§2.1 token is required → 400 invalid_request (§2.2.1 error response)', async () => {
      const res = await post(t.app, REVOKE, { client_id: APP.id });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
      expect(res.headers['content-type']).toMatch(/^application\/json/);
    });

    it('§2.1 a confidential client must authenticate: wrong secret → 401 invalid_client, token untouched', async () => {
      const s = await signIn(t.app);
      const cc = await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC);
      const wrong = await post(
        t.app,
        REVOKE,
        { token: cc.body.access_token },
        { id: SVC.id, secret: 'wrong-secret-000000' },
      );
      expect(wrong.status).toBe(401);
      expect(wrong.body.error).toBe('invalid_client');
      const noSecret = await post(t.app, REVOKE, {
        token: cc.body.access_token,
        client_id: SVC.id,
      });
      expect(noSecret.status).toBe(401);
      expect(await active(cc.body.access_token)).toBe(true);
      expect(await active(s.access_token)).toBe(true);
    });

    it('§2.1 the server checks the token was issued to the requesting client: another client’s token → 400 invalid_request, no effect', async () => {
      const s = await signIn(t.app);
      const res = await post(t.app, REVOKE, { token: s.access_token }, WEB);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
      const rt = await post(t.app, REVOKE, { token: s.refresh_token }, WEB);
      expect(rt.status).toBe(400);
      expect(rt.body.error).toBe('invalid_request');
      expect(await active(s.access_token)).toBe(true);
      expect(await active(s.refresh_token)).toBe(true);
    });

    it('§2.1 a public client revokes its own tokens with client_id only', async () => {
      const s = await signIn(t.app);
      expect((await revoke(t.app, s.access_token)).status).toBe(200);
      expect(await active(s.access_token)).toBe(false);
    });

    it('§2.1 a confidential client revokes its own token with Basic authentication', async () => {
      const cc = await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC);
      expect(await active(cc.body.access_token)).toBe(true);
      expect((await post(t.app, REVOKE, { token: cc.body.access_token }, SVC)).status).toBe(200);
      expect(await active(cc.body.access_token)).toBe(false);
    });
  });

  describe('§2.1 what revocation invalidates', () => {
    it('§2.1 revoking an access token invalidates that access token only', async () => {
      const s = await signIn(t.app);
      const r = await refresh(t.app, s.refresh_token);
      expect(r.status).toBe(200);
      const other = await signIn(t.app);
      expect((await revoke(t.app, s.access_token)).status).toBe(200);
      expect(await active(s.access_token)).toBe(false);
      expect(await active(r.body.access_token)).toBe(true);
      expect(await active(r.body.refresh_token)).toBe(true);
      expect(await active(other.access_token)).toBe(true);
      expect((await refresh(t.app, r.body.refresh_token)).status).toBe(200);
    });

    it('§2.1 revoking the current refresh token revokes the grant: every access token issued from it is inactive', async () => {
      const s = await signIn(t.app);
      const r = await refresh(t.app, s.refresh_token);
      expect((await revoke(t.app, r.body.refresh_token)).status).toBe(200);
      expect(await active(r.body.refresh_token)).toBe(false);
      expect(await active(r.body.access_token)).toBe(false);
      expect(await active(s.access_token)).toBe(false);
      const after = await refresh(t.app, r.body.refresh_token);
      expect(after.status).toBe(400);
      expect(after.body.error).toBe('invalid_grant');
    });

    it('§2.1 revoking the (already rotated) root refresh token revokes the whole family', async () => {
      const s = await signIn(t.app);
      const r1 = await refresh(t.app, s.refresh_token);
      const r2 = await refresh(t.app, r1.body.refresh_token);
      expect(r2.status).toBe(200);
      const other = await signIn(t.app);
      expect((await revoke(t.app, s.refresh_token)).status).toBe(200);
      for (const token of [
        s.access_token,
        r1.body.access_token,
        r2.body.access_token,
        r2.body.refresh_token,
      ]) {
        expect(await active(token)).toBe(false);
      }
      expect((await refresh(t.app, r2.body.refresh_token)).body.error).toBe('invalid_grant');
      expect(await active(other.access_token)).toBe(true);
      expect(await active(other.refresh_token)).toBe(true);
    });

    it('§2.1 a client-credentials refresh token revokes its family too', async () => {
      const cc = await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC_RT);
      expect(await active(cc.body.access_token)).toBe(true);
      expect((await post(t.app, REVOKE, { token: cc.body.refresh_token }, SVC_RT)).status).toBe(
        200,
      );
      expect(await active(cc.body.access_token)).toBe(false);
      expect(await active(cc.body.refresh_token)).toBe(false);
    });

    it.each([
      ['access token', 'refresh_token'],
      ['access token', 'urn:example:unknown-type'],
      ['refresh token', 'access_token'],
      ['refresh token', 'urn:example:unknown-type'],
    ])(
      '§2.1 token_type_hint is only a hint: %s with hint %s is still revoked',
      async (which, hint) => {
        const s = await signIn(t.app);
        const token = which === 'access token' ? s.access_token : s.refresh_token;
        const res = await post(t.app, REVOKE, { token, token_type_hint: hint, client_id: APP.id });
        expect(res.status).toBe(200);
        expect(await active(token)).toBe(false);
        if (which === 'refresh token') expect(await active(s.access_token)).toBe(false);
      },
    );
  });

  describe('§2.2 revocation response', () => {
    it('§2.2 success is 200 with an empty body', async () => {
      const s = await signIn(t.app);
      const res = await revoke(t.app, s.refresh_token);
      expect(res.status).toBe(200);
      expect(res.text).toBe('');
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it.each([
      ['a random string', 'not-a-token-at-all'],
      ['a refresh-token-shaped unknown token', `${'A'.repeat(22)}.${'B'.repeat(43)}`],
      ['a JWT-shaped garbage token', 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'],
    ])('§2.2 an invalid token (%s) → 200, empty body, nothing changes', async (_name, token) => {
      const before = await ts.snapshot();
      const res = await revoke(t.app, token);
      expect(res.status).toBe(200);
      expect(res.text).toBe('');
      expect(await ts.snapshot()).toBe(before);
    });

    it('§2.2 revoking an already revoked token again → 200', async () => {
      const s = await signIn(t.app);
      expect((await revoke(t.app, s.refresh_token)).status).toBe(200);
      const again = await revoke(t.app, s.refresh_token);
      expect(again.status).toBe(200);
      expect(again.text).toBe('');
      const at = await revoke(t.app, s.access_token);
      expect(at.status).toBe(200);
    });
  });
});
