// RFC 6749 compliance of the token endpoint: client authentication, scope, password and client-credentials grants, responses, errors, refresh.
import { decodeJwt } from 'jose';
import request, { type Response } from 'supertest';
import {
  ALICE,
  APP,
  buildApp,
  post,
  RS,
  refresh,
  SVC,
  SVC_RT,
  seed,
  signIn,
  type TestApp,
  TOKEN,
  WEB,
} from '../helpers/app';
import { makeStore, type TestStore } from '../helpers/stores';

/** A client whose id and secret need form-urlencoding inside Basic (RFC 6749 §2.3.1, Appendix B). */
const ODD = { id: 'odd:client.1', secret: 'colon:percent%41plus+space here/é-0123' };

/** application/x-www-form-urlencoded encoding of one value (RFC 6749 Appendix B). */
const formEncode = (s: string) =>
  encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
const basicHeader = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`, 'utf8').toString('base64')}`;

/** RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E. */
const DESCRIPTION_CHARS = /^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/;

function expectError(res: Response, status: number, error: string): void {
  expect({ status: res.status, error: res.body.error }).toEqual({ status, error });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['cache-control']).toBe('no-store');
}

describe('RFC 6749 token endpoint (MemoryStore)', () => {
  let ts: TestStore;
  let t: TestApp;

  beforeAll(async () => {
    ts = await makeStore('memory', 'rfc6749');
    t = buildApp(ts.store);
    await seed(t.auth);
    await t.auth.admin.upsertClient({
      ...ODD,
      tenantId: 'acme',
      grants: ['client_credentials'],
      scopes: ['print'],
    });
  });
  afterAll(() => ts.close());

  describe('§2.3 client authentication', () => {
    it('§2.3.1 client_secret_basic: client id and secret are form-urlencoded, then base64 (":" and "%" in them)', async () => {
      const res = await request(t.app)
        .post(TOKEN)
        .set('Authorization', basicHeader(formEncode(ODD.id), formEncode(ODD.secret)))
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expect(res.status).toBe(200);
      expect(decodeJwt(res.body.access_token).client_id).toBe(ODD.id);
    });

    it('§2.3.1 Basic credentials are form-decoded: the raw (unencoded) secret does not authenticate', async () => {
      const res = await request(t.app)
        .post(TOKEN)
        .set('Authorization', basicHeader(formEncode(ODD.id), ODD.secret))
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expectError(res, 401, 'invalid_client');
    });

    it('§2.3.1 client_secret_post: client_id and client_secret in the form body', async () => {
      const res = await post(t.app, TOKEN, {
        grant_type: 'client_credentials',
        client_id: ODD.id,
        client_secret: ODD.secret,
      });
      expect(res.status).toBe(200);
      expect(decodeJwt(res.body.access_token).client_id).toBe(ODD.id);
    });

    it('§2.3 a client must not use more than one authentication method in a request', async () => {
      const res = await post(
        t.app,
        TOKEN,
        { grant_type: 'client_credentials', client_secret: SVC.secret },
        SVC,
      );
      expectError(res, 400, 'invalid_request');
    });

    it('§2.3.1 client credentials in the request URI are refused', async () => {
      const res = await request(t.app)
        .post(`${TOKEN}?client_id=${SVC.id}&client_secret=${SVC.secret}`)
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expectError(res, 400, 'invalid_request');
    });

    it('§3.2.1 a confidential client must authenticate (client_id alone is refused)', async () => {
      const res = await post(t.app, TOKEN, { grant_type: 'password', client_id: WEB.id, ...ALICE });
      expectError(res, 401, 'invalid_client');
    });

    it('§3.2.1 a public client identifies itself with client_id only', async () => {
      const res = await post(t.app, TOKEN, { grant_type: 'password', client_id: APP.id, ...ALICE });
      expect(res.status).toBe(200);
      expect(decodeJwt(res.body.access_token).client_id).toBe(APP.id);
    });
  });

  describe('§3.1/§3.2 token endpoint requests', () => {
    it('§3.2 the token endpoint accepts POST only (GET → 405 with Allow: POST)', async () => {
      const res = await request(t.app).get(TOKEN).auth(SVC.id, SVC.secret);
      expectError(res, 405, 'invalid_request');
      expect(res.headers.allow).toBe('POST');
    });

    it('§3.2 parameters sent as application/x-www-form-urlencoded; JSON is refused', async () => {
      const res = await request(t.app)
        .post(TOKEN)
        .auth(SVC.id, SVC.secret)
        .send({ grant_type: 'client_credentials' });
      expectError(res, 400, 'invalid_request');
    });

    it('§3.1 request parameters must not be included more than once', async () => {
      const res = await request(t.app)
        .post(TOKEN)
        .auth(SVC.id, SVC.secret)
        .type('form')
        .send('grant_type=client_credentials&scope=print&scope=scan');
      expectError(res, 400, 'invalid_request');
    });

    it('§3.1 parameters sent without a value are treated as omitted (empty scope → default scope)', async () => {
      const res = await request(t.app)
        .post(TOKEN)
        .auth(SVC.id, SVC.secret)
        .type('form')
        .send('grant_type=client_credentials&scope=');
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe('print scan');
    });

    it('§3.1 unrecognized request parameters are ignored', async () => {
      const res = await post(
        t.app,
        TOKEN,
        { grant_type: 'client_credentials', foo: 'bar', audience: 'x' },
        SVC,
      );
      expect(res.status).toBe(200);
    });
  });

  describe('§3.3 access token scope', () => {
    it('§3.3 the issued scope is requested ∩ allowed, and the response says which scope was issued', async () => {
      const res = await post(
        t.app,
        TOKEN,
        { grant_type: 'client_credentials', scope: 'print admin' },
        SVC,
      );
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe('print');
      expect(decodeJwt(res.body.access_token).scope).toBe('print');
    });

    it('§3.3 no scope requested: the client’s registered scope is issued and returned', async () => {
      const res = await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC);
      expect(res.status).toBe(200);
      expect(res.body.scope.split(' ').sort()).toEqual(['print', 'scan']);
      expect(decodeJwt(res.body.access_token).scope).toBe(res.body.scope);
    });

    it('§3.3 scope tokens are case-sensitive: "PRINT" is not "print"', async () => {
      const res = await post(
        t.app,
        TOKEN,
        { grant_type: 'client_credentials', scope: 'PRINT' },
        SVC,
      );
      expectError(res, 400, 'invalid_scope');
    });

    it('§3.3/§5.2 none of the requested scopes allowed → invalid_scope', async () => {
      const res = await post(t.app, TOKEN, {
        grant_type: 'password',
        client_id: APP.id,
        ...ALICE,
        scope: 'admin billing',
      });
      expectError(res, 400, 'invalid_scope');
    });

    it('§3.3 a scope with characters outside NQCHAR is malformed → invalid_request', async () => {
      const res = await post(
        t.app,
        TOKEN,
        { grant_type: 'client_credentials', scope: 'print "scan"' },
        SVC,
      );
      expectError(res, 400, 'invalid_request');
    });
  });

  describe('§4.3 resource owner password credentials grant', () => {
    it('§4.3.2/§4.3.3 a public client gets an access token and a refresh token', async () => {
      const res = await post(t.app, TOKEN, {
        grant_type: 'password',
        client_id: APP.id,
        ...ALICE,
        scope: 'print',
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 600,
        refresh_token: expect.any(String),
        scope: 'print',
      });
      expect(decodeJwt(res.body.access_token)).toMatchObject({
        sub: ALICE.username,
        client_id: APP.id,
        scope: 'print',
      });
    });

    it('§4.3.2 a confidential client authenticates with Basic', async () => {
      const res = await post(t.app, TOKEN, { grant_type: 'password', ...ALICE }, WEB);
      expect(res.status).toBe(200);
      expect(decodeJwt(res.body.access_token)).toMatchObject({
        sub: ALICE.username,
        client_id: WEB.id,
      });
    });

    it('§4.3.2/§5.2 wrong password → invalid_grant', async () => {
      const res = await post(t.app, TOKEN, {
        grant_type: 'password',
        client_id: APP.id,
        username: ALICE.username,
        password: 'wrong-password',
      });
      expectError(res, 400, 'invalid_grant');
    });

    it('§4.3.2 username is required → invalid_request', async () => {
      const res = await post(t.app, TOKEN, {
        grant_type: 'password',
        client_id: APP.id,
        password: ALICE.password,
      });
      expectError(res, 400, 'invalid_request');
    });

    it('§4.3.2/§5.2 a client not registered for the password grant → unauthorized_client', async () => {
      const res = await post(t.app, TOKEN, { grant_type: 'password', ...ALICE }, SVC);
      expectError(res, 400, 'unauthorized_client');
    });
  });

  describe('§4.4 client credentials grant', () => {
    it('§4.4.3 an access token and no refresh token', async () => {
      const res = await post(
        t.app,
        TOKEN,
        { grant_type: 'client_credentials', scope: 'print' },
        SVC,
      );
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 600,
        scope: 'print',
      });
      expect(decodeJwt(res.body.access_token)).toMatchObject({ sub: SVC.id, client_id: SVC.id });
    });

    it('§4.4.3 a client configured with clientCredentialsRefresh gets a refresh token that works', async () => {
      const res = await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC_RT);
      expect(res.status).toBe(200);
      expect(res.body.refresh_token).toEqual(expect.any(String));
      const next = await post(
        t.app,
        TOKEN,
        { grant_type: 'refresh_token', refresh_token: res.body.refresh_token },
        SVC_RT,
      );
      expect(next.status).toBe(200);
      expect(decodeJwt(next.body.access_token)).toMatchObject({
        sub: SVC_RT.id,
        client_id: SVC_RT.id,
      });
    });

    it('§4.4 only confidential clients may use it: a public client → invalid_client', async () => {
      const res = await post(t.app, TOKEN, { grant_type: 'client_credentials', client_id: APP.id });
      expectError(res, 401, 'invalid_client');
    });

    it('§4.4.2/§5.2 a confidential client not registered for client_credentials → unauthorized_client', async () => {
      const res = await post(t.app, TOKEN, { grant_type: 'client_credentials' }, WEB);
      expectError(res, 400, 'unauthorized_client');
    });
  });

  describe('§5.1 successful response', () => {
    let res: Response;
    beforeAll(async () => {
      res = await post(t.app, TOKEN, { grant_type: 'password', client_id: APP.id, ...ALICE });
    });

    it('§5.1 200 with access_token, token_type, expires_in, refresh_token and scope', () => {
      expect(res.status).toBe(200);
      expect(typeof res.body.access_token).toBe('string');
      expect(res.body.token_type.toLowerCase()).toBe('bearer');
      expect(Number.isInteger(res.body.expires_in) && res.body.expires_in > 0).toBe(true);
      expect(typeof res.body.refresh_token).toBe('string');
      expect(res.body.refresh_token).not.toBe(res.body.access_token);
      expect(typeof res.body.scope).toBe('string');
    });

    it('§5.1 the body is application/json', () => {
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(res.text)).toEqual(res.body);
    });

    it('§5.1 token response carries Cache-Control: no-store and Pragma: no-cache', () => {
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers.pragma).toBe('no-cache');
    });

    it('§5.1 expires_in matches the access token lifetime', () => {
      const claims = decodeJwt(res.body.access_token);
      expect((claims.exp as number) - (claims.iat as number)).toBe(res.body.expires_in);
    });
  });

  describe('§5.2 error response', () => {
    const cases: [string, () => Promise<Response>, number, string][] = [
      [
        'invalid_request: grant_type missing',
        () => post(t.app, TOKEN, {}, SVC),
        400,
        'invalid_request',
      ],
      [
        'invalid_request: a parameter repeated',
        () =>
          request(t.app)
            .post(TOKEN)
            .auth(SVC.id, SVC.secret)
            .type('form')
            .send('grant_type=client_credentials&grant_type=password'),
        400,
        'invalid_request',
      ],
      [
        'invalid_client: unknown client (post)',
        () =>
          post(t.app, TOKEN, {
            grant_type: 'client_credentials',
            client_id: 'nobody',
            client_secret: SVC.secret,
          }),
        401,
        'invalid_client',
      ],
      [
        'invalid_client: wrong secret (Basic)',
        () =>
          post(
            t.app,
            TOKEN,
            { grant_type: 'client_credentials' },
            { id: SVC.id, secret: 'wrong-secret-000000' },
          ),
        401,
        'invalid_client',
      ],
      ['invalid_grant: bad refresh token', () => refresh(t.app, 'nope'), 400, 'invalid_grant'],
      [
        'unauthorized_client: grant not registered',
        () => post(t.app, TOKEN, { grant_type: 'client_credentials' }, WEB),
        400,
        'unauthorized_client',
      ],
      [
        'unsupported_grant_type: authorization_code',
        () => post(t.app, TOKEN, { grant_type: 'authorization_code', code: 'abc' }, SVC),
        400,
        'unsupported_grant_type',
      ],
      [
        'invalid_scope: scope not allowed',
        () => post(t.app, TOKEN, { grant_type: 'client_credentials', scope: 'admin' }, SVC),
        400,
        'invalid_scope',
      ],
    ];

    it.each(cases)('§5.2 %s → JSON error, not cached', async (_name, send, status, error) => {
      const res = await send();
      expectError(res, status, error);
      expect(
        Object.keys(res.body).every((k) => ['error', 'error_description', 'error_uri'].includes(k)),
      ).toBe(true);
    });

    it.each(cases)(
      '§5.2 %s → error_description uses only %%x20-21 / %%x23-5B / %%x5D-7E',
      async (_name, send) => {
        const res = await send();
        if (res.body.error_description !== undefined)
          expect(res.body.error_description).toMatch(DESCRIPTION_CHARS);
      },
    );

    it('§5.2 error_description never echoes a hostile parameter name outside the allowed set', async () => {
      const res = await request(t.app)
        .post(TOKEN)
        .auth(SVC.id, SVC.secret)
        .type('form')
        .send('grant_type=client_credentials&%22%5C%0A%E2%80%AE=1&%22%5C%0A%E2%80%AE=2');
      expectError(res, 400, 'invalid_request');
      expect(res.body.error_description ?? '').toMatch(DESCRIPTION_CHARS);
    });

    it('§5.2 invalid_client with Basic → 401 and a WWW-Authenticate Basic challenge', async () => {
      const res = await post(
        t.app,
        TOKEN,
        { grant_type: 'client_credentials' },
        { id: SVC.id, secret: 'wrong-secret-000000' },
      );
      expectError(res, 401, 'invalid_client');
      expect(res.headers['www-authenticate']).toMatch(/^Basic realm="[^"]*"/);
    });

    it('§5.2 invalid_client with an unknown Basic client → 401 and the same challenge', async () => {
      const res = await post(
        t.app,
        TOKEN,
        { grant_type: 'client_credentials' },
        { id: 'nobody', secret: 'nobody-secret-0000' },
      );
      expectError(res, 401, 'invalid_client');
      expect(res.headers['www-authenticate']).toMatch(/^Basic /);
    });

    it('§5.2 invalid_client with client_secret_post → 401', async () => {
      const res = await post(t.app, TOKEN, {
        grant_type: 'client_credentials',
        client_id: SVC.id,
        client_secret: 'wrong-secret-000000',
      });
      expectError(res, 401, 'invalid_client');
    });
  });

  describe('§6 refreshing an access token', () => {
    it('§6 a new access token and a new refresh token; the old refresh token stops working', async () => {
      const s = await signIn(t.app);
      const res = await refresh(t.app, s.refresh_token);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 600,
        refresh_token: expect.any(String),
        scope: s.scope,
      });
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body.refresh_token).not.toBe(s.refresh_token);
      expectError(await refresh(t.app, s.refresh_token), 400, 'invalid_grant');
    });

    it('§6 a narrower scope is granted, and omitting scope returns to the scope originally granted', async () => {
      const s = await signIn(t.app);
      expect(s.scope.split(' ').sort()).toEqual(['print', 'scan']);
      const narrow = await refresh(t.app, s.refresh_token, { scope: 'print' });
      expect(narrow.status).toBe(200);
      expect(narrow.body.scope).toBe('print');
      expect(decodeJwt(narrow.body.access_token).scope).toBe('print');
      const again = await refresh(t.app, narrow.body.refresh_token);
      expect(again.status).toBe(200);
      expect(again.body.scope.split(' ').sort()).toEqual(['print', 'scan']);
    });

    it('§6 a scope wider than originally granted → invalid_scope, and the refresh token is not consumed', async () => {
      const s = await signIn(t.app, ALICE, { scope: 'print' });
      expectError(
        await refresh(t.app, s.refresh_token, { scope: 'print scan' }),
        400,
        'invalid_scope',
      );
      const ok = await refresh(t.app, s.refresh_token);
      expect(ok.status).toBe(200);
      expect(ok.body.scope).toBe('print');
    });

    it('§6 the refresh token is bound to its client: another client → invalid_grant, its own client still succeeds', async () => {
      const s = await signIn(t.app);
      expectError(
        await post(
          t.app,
          TOKEN,
          { grant_type: 'refresh_token', refresh_token: s.refresh_token },
          WEB,
        ),
        400,
        'invalid_grant',
      );
      expectError(
        await post(
          t.app,
          TOKEN,
          { grant_type: 'refresh_token', refresh_token: s.refresh_token },
          RS,
        ),
        400,
        'unauthorized_client',
      );
      expect((await refresh(t.app, s.refresh_token)).status).toBe(200);
    });

    it('§6 a confidential client must authenticate to refresh', async () => {
      const cc = await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC_RT);
      expect(cc.status).toBe(200);
      expectError(
        await post(t.app, TOKEN, {
          grant_type: 'refresh_token',
          client_id: SVC_RT.id,
          refresh_token: cc.body.refresh_token,
        }),
        401,
        'invalid_client',
      );
      expect(
        (
          await post(
            t.app,
            TOKEN,
            { grant_type: 'refresh_token', refresh_token: cc.body.refresh_token },
            SVC_RT,
          )
        ).status,
      ).toBe(200);
    });

    it('§6 refresh_token is required → invalid_request', async () => {
      expectError(
        await post(t.app, TOKEN, { grant_type: 'refresh_token', client_id: APP.id }),
        400,
        'invalid_request',
      );
    });
  });
});
