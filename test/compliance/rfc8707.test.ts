// RFC 8707 resource indicators: the resource parameter at every grant, audience-restricted tokens, and
// guards of one resource refusing the tokens of another (local and remote mode).
import type { Express } from 'express';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import request from 'supertest';
import type { Guard } from '../../lib';
import {
  ALICE,
  APP,
  INTROSPECT,
  introspect,
  post,
  REVOKE,
  RS,
  refresh,
  SVC,
  SVC_RT,
  seed,
  signIn,
  TOKEN,
} from '../helpers/app';
import {
  guardedApp,
  type LiveAuthServer,
  localGuard,
  remoteGuard,
  seedScopes,
  startAuthServer,
} from '../helpers/guard';
import { storedSigningKey } from '../helpers/key-secret';
import { makeStore, type TestStore } from '../helpers/stores';

/** Serves service print; a resource URI without a path. */
const PRINT = 'https://print.example';
/** Serves service scan; a resource URI with a path. */
const SCAN = 'https://api.example/scan';
/** Registered, but serves a service no scope names. */
const EMPTY = 'https://empty.example';

describe.each(['memory', 'redis'] as const)('RFC 8707 resource indicators (%s)', (kind) => {
  let ts: TestStore;
  let live: LiveAuthServer;
  let app: Express;

  beforeAll(async () => {
    ts = await makeStore(kind, `rfc8707-${kind}`);
    live = await startAuthServer(ts.store);
    app = live.app;
    await seed(live.auth);
    await seedScopes(live.auth);
    await live.auth.admin.upsertResource({ uri: PRINT, services: ['print'], name: 'Cloud Print' });
    await live.auth.admin.upsertResource({ uri: SCAN, services: ['scan'] });
    await live.auth.admin.upsertResource({ uri: EMPTY, services: ['fax'] });
  });
  afterAll(async () => {
    await live.close();
    await ts.close();
  });

  const clientCredentials = (form: Record<string, string> = {}, client = SVC) =>
    post(app, TOKEN, { grant_type: 'client_credentials', ...form }, client);
  const aud = (token: string) => decodeJwt(token).aud;

  /** The answer is an RFC 8707 §2 error: 400 invalid_target, JSON, not cached, value not echoed. */
  function expectInvalidTarget(res: request.Response, sent?: string): void {
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_target');
    expect(typeof res.body.error_description).toBe('string');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    if (sent) expect(res.text).not.toContain(sent);
  }

  describe('§2 the resource parameter sets the audience', () => {
    it('§2 client_credentials with a registered resource: aud is that URI, scopes those it serves', async () => {
      const res = await clientCredentials({ resource: PRINT });
      expect(res.status).toBe(200);
      expect(aud(res.body.access_token)).toBe(PRINT);
      // svc may have print and scan; the print resource serves only print.
      expect(res.body.scope).toBe('print');
      expect(decodeJwt(res.body.access_token).scope).toBe('print');
    });

    it('§2 password grant with a resource whose URI has a path: aud is exactly that URI', async () => {
      const s = await signIn(app, ALICE, { resource: SCAN });
      expect(aud(s.access_token)).toBe(SCAN);
      expect(s.scope).toBe('scan');
    });

    it('§2 "MAY process the request with no specific resource": without one, aud is the server audience', async () => {
      const res = await clientCredentials();
      expect(aud(res.body.access_token)).toBe(live.issuer);
      expect(res.body.scope).toBe('print scan');
    });

    it('§2 requested scopes the resource does not serve are dropped; the response says what was granted (RFC 6749 §3.3)', async () => {
      const res = await clientCredentials({ resource: PRINT, scope: 'print scan' });
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe('print');
    });

    it('§2 no requested (or allowed) scope served by the resource → invalid_target, nothing issued', async () => {
      const before = await ts.snapshot();
      expectInvalidTarget(await clientCredentials({ resource: PRINT, scope: 'scan' }));
      expectInvalidTarget(await clientCredentials({ resource: EMPTY }));
      expect(await ts.snapshot()).toBe(before);
    });

    it('§2 introspection reports the audience of a resource token (RFC 7662 §2.2 aud)', async () => {
      const res = await clientCredentials({ resource: PRINT });
      const answer = await post(app, INTROSPECT, { token: res.body.access_token }, RS);
      expect(answer.body).toMatchObject({ active: true, aud: PRINT, scope: 'print' });
    });

    it('§2 a resource token is revocable at the revocation endpoint (RFC 7009)', async () => {
      const s = await signIn(app, ALICE, { resource: PRINT });
      expect((await introspect(app, s.access_token)).active).toBe(true);
      const res = await post(app, REVOKE, { token: s.access_token, client_id: APP.id });
      expect(res.status).toBe(200);
      expect((await introspect(app, s.access_token)).active).toBe(false);
      // Only that access token: its family still refreshes.
      expect((await refresh(app, s.refresh_token)).status).toBe(200);
    });
  });

  describe('§2 "invalid_target: the requested resource is invalid, missing, unknown, or malformed"', () => {
    it('§2 an unknown resource → invalid_target, and nothing changes', async () => {
      const before = await ts.snapshot();
      expectInvalidTarget(await clientCredentials({ resource: 'https://unknown.example' }));
      const pw = await post(app, TOKEN, {
        grant_type: 'password',
        client_id: APP.id,
        ...ALICE,
        resource: 'https://unknown.example',
      });
      expectInvalidTarget(pw);
      expect(await ts.snapshot()).toBe(before);
    });

    it('§2 compared exactly: another spelling of a registered URI is another resource', async () => {
      for (const other of [
        `${PRINT}/`,
        'https://PRINT.example',
        `${SCAN}/`,
        'HTTPS://print.example',
      ])
        expectInvalidTarget(await clientCredentials({ resource: other }));
    });

    const hostile: [string, string][] = [
      ['a relative reference (§2: MUST be an absolute URI)', 'print.example'],
      ['a network-path reference', '//print.example'],
      ['a fragment (§2: MUST NOT include a fragment)', `${PRINT}#jobs`],
      ['an empty fragment', `${PRINT}#`],
      ['a space', `${PRINT}/a b`],
      ['a control character', `${PRINT}/\u0001`],
      ['a newline (header injection)', `${PRINT}\r\nX-Evil: 1`],
      ['a non-ASCII character', 'https://prïnt.example'],
      ['quotes and angle brackets', `${PRINT}/"><script>`],
      ['a script URI', 'javascript:alert(1)'],
      ['an oversized value', `https://${'a'.repeat(3000)}.example`],
      ['a query to a registered resource', `${PRINT}?x=1`],
    ];
    it.each(hostile)(
      '%s → 400 invalid_target, nothing stored, value not echoed',
      async (_n, value) => {
        const before = await ts.snapshot();
        expectInvalidTarget(await clientCredentials({ resource: value }), value);
        expect(await ts.snapshot()).toBe(before);
      },
    );

    it('§2 a resource named twice → 400 with an RFC error body, nothing issued (one resource per request)', async () => {
      const before = await ts.snapshot();
      const res = await request(app)
        .post(TOKEN)
        .auth(SVC.id, SVC.secret)
        .type('form')
        .send(
          `grant_type=client_credentials&resource=${encodeURIComponent(PRINT)}&resource=${encodeURIComponent(SCAN)}`,
        );
      expect(res.status).toBe(400);
      // RFC 8707 §2 allows several; tokenward issues for one audience at a time: invalid_target.
      expect(res.body).toEqual({
        error: 'invalid_target',
        error_description: 'one resource per request',
      });
      expect(await ts.snapshot()).toBe(before);
    });
  });

  describe('§2.2 refresh: a family keeps its audience', () => {
    it('§2.2 a refresh without resource keeps aud and scope; with the same resource too', async () => {
      const s = await signIn(app, ALICE, { resource: PRINT });
      const r1 = await refresh(app, s.refresh_token);
      expect(r1.status).toBe(200);
      expect(aud(r1.body.access_token)).toBe(PRINT);
      expect(r1.body.scope).toBe('print');
      const r2 = await refresh(app, r1.body.refresh_token, { resource: PRINT });
      expect(r2.status).toBe(200);
      expect(aud(r2.body.access_token)).toBe(PRINT);
    });

    it('§2.2 a different resource at refresh → invalid_target; the refresh token stays current', async () => {
      const s = await signIn(app, ALICE, { resource: PRINT });
      const before = await ts.snapshot();
      expectInvalidTarget(await refresh(app, s.refresh_token, { resource: SCAN }));
      expect(await ts.snapshot()).toBe(before);
      const ok = await refresh(app, s.refresh_token);
      expect(ok.status).toBe(200);
      expect(aud(ok.body.access_token)).toBe(PRINT);
    });

    it('§2.2 a family started without a resource cannot be moved to one → invalid_target', async () => {
      const s = await signIn(app);
      expectInvalidTarget(await refresh(app, s.refresh_token, { resource: PRINT }));
      const ok = await refresh(app, s.refresh_token);
      expect(aud(ok.body.access_token)).toBe(live.issuer);
    });

    it('§2.2 a malformed resource at refresh → invalid_target before the family is touched', async () => {
      const s = await signIn(app, ALICE, { resource: PRINT });
      expectInvalidTarget(await refresh(app, s.refresh_token, { resource: `${PRINT}#x` }));
      expect((await refresh(app, s.refresh_token)).status).toBe(200);
    });

    it('§2.2 client_credentials families (refresh tokens for clients) keep their audience too', async () => {
      const res = await clientCredentials({ resource: PRINT }, SVC_RT);
      expect(aud(res.body.access_token)).toBe(PRINT);
      const r = await post(
        app,
        TOKEN,
        { grant_type: 'refresh_token', refresh_token: res.body.refresh_token },
        SVC_RT,
      );
      expect(r.status).toBe(200);
      expect(aud(r.body.access_token)).toBe(PRINT);
    });

    it('§2.2 a resource deleted later: its families keep refreshing with their audience, new requests get invalid_target', async () => {
      const uri = 'https://temporary.example';
      await live.auth.admin.upsertResource({ uri, services: ['scan'] });
      const s = await signIn(app, ALICE, { resource: uri });
      await live.auth.admin.deleteResource(uri);
      expectInvalidTarget(await clientCredentials({ resource: uri }));
      const r = await refresh(app, s.refresh_token);
      expect(r.status).toBe(200);
      expect(aud(r.body.access_token)).toBe(uri);
    });
  });

  describe('§1 audience restriction: a token for one resource is refused at another', () => {
    const modes = ['local', 'remote'] as const;
    const apps = {} as Record<(typeof modes)[number], Record<'print' | 'scan' | 'plain', Express>>;

    beforeAll(() => {
      const make = (mode: (typeof modes)[number], audience?: string): Guard => {
        const extra = audience ? { audience } : {};
        return mode === 'local'
          ? localGuard(live.issuer, ts.store, extra)
          : remoteGuard(live.issuer, {}, extra);
      };
      for (const mode of modes)
        apps[mode] = {
          print: guardedApp(make(mode, PRINT)),
          scan: guardedApp(make(mode, SCAN)),
          plain: guardedApp(make(mode)),
        };
    });

    const me = (target: Express, token: string) =>
      request(target).get('/me').set('Authorization', `Bearer ${token}`);

    it.each(modes)(
      '%s mode: the print guard admits the print token; the scan guard and a guard of the server audience refuse it (401 invalid_token)',
      async (mode) => {
        const token = (await clientCredentials({ resource: PRINT })).body.access_token as string;
        const ok = await me(apps[mode].print, token);
        expect(ok.status).toBe(200);
        expect(ok.body.scopes).toEqual(['print']);
        for (const other of [apps[mode].scan, apps[mode].plain]) {
          const refused = await me(other, token);
          expect(refused.status).toBe(401);
          expect(refused.headers['www-authenticate']).toContain('error="invalid_token"');
        }
      },
    );

    it.each(modes)(
      '%s mode: a user token asked for scan works only at the scan resource',
      async (mode) => {
        const s = await signIn(app, ALICE, { resource: SCAN });
        expect((await me(apps[mode].scan, s.access_token)).status).toBe(200);
        expect((await me(apps[mode].print, s.access_token)).status).toBe(401);
      },
    );

    it.each(modes)(
      '%s mode: a token re-signed with the server key to claim another resource than its grant is refused; introspection and revocation ignore it',
      async (mode) => {
        const real = (await clientCredentials({ resource: PRINT })).body.access_token as string;
        const { kid } = decodeProtectedHeader(real);
        const key = await storedSigningKey(ts.store, kid);
        const forged = await new SignJWT({ ...decodeJwt(real), aud: SCAN })
          .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: kid as string })
          .sign(key);
        expect((await me(apps[mode].scan, forged)).status).toBe(401);
        expect((await introspect(app, forged)).active).toBe(false);
        const before = await ts.snapshot();
        expect((await post(app, REVOKE, { token: forged }, SVC)).status).toBe(200);
        expect(await ts.snapshot()).toBe(before);
        expect((await me(apps[mode].print, real)).status).toBe(200);
      },
    );

    it.each(modes)(
      '%s mode: a token without a resource is not admitted by a resource guard',
      async (mode) => {
        const token = (await clientCredentials()).body.access_token as string;
        expect((await me(apps[mode].plain, token)).status).toBe(200);
        expect((await me(apps[mode].print, token)).status).toBe(401);
      },
    );
  });
});
