// Tenants and local users, on MemoryStore, RedisStore and the 3-master cluster: guards limited to
// tenants (both modes), introspection limited to the caller's tenant and to its own refresh tokens
// (RFC 7662 §2.2, §4), the local_user syntax, the identity naming the asserting client, and tokens
// signed with the server's own key whose local user or device differ from their grant.
import { generateKeyPairSync } from 'node:crypto';
import type { Express } from 'express';
import * as jose from 'jose';
import request from 'supertest';
import { createGuard, type GuardOptions, type Store, ValidationError } from '../../lib';
import { ALICE, INTROSPECT, post, RS, SVC, SVC_RT, seed, signIn, TOKEN } from '../helpers/app';
import { guardedApp, type LiveAuthServer, remoteGuard, startAuthServer } from '../helpers/guard';
import { makeStore, STORE_KINDS, type TestStore } from '../helpers/stores';

const INACTIVE = '{"active":false}';
const CHALLENGE =
  'Bearer realm="tokenward", error="invalid_token", error_description="the access token is invalid, expired or revoked"';

/** acme, may introspect every tenant's access tokens. */
const ALL_RS = { id: 'all-rs', secret: 'all-rs-secret-0123456789' };
/** beta's resource server. */
const BETA_RS = { id: 'beta-rs', secret: 'beta-rs-secret-0123456789' };
/** acme, confidential: signs users in (refresh tokens issued to it) and may introspect. */
const WEB_I = { id: 'web-i', secret: 'web-i-secret-0123456789' };

// The server signs with a key given in options, so tests can forge with the very same key.
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

describe.each(STORE_KINDS)('tenants and local users (%s)', (kind) => {
  let ts: TestStore;
  let live: LiveAuthServer;
  let kid: string;

  beforeAll(async () => {
    ts = await makeStore(kind, `tenant-isolation-${kind}`);
    live = await startAuthServer(ts.store, { keys: [{ privateKey, alg: 'ES256' }] });
    await seed(live.auth);
    const a = live.auth.admin;
    await a.upsertClient({
      ...ALL_RS,
      tenantId: 'acme',
      grants: ['client_credentials'],
      introspect: true,
      introspectAllTenants: true,
    });
    await a.upsertClient({
      ...BETA_RS,
      tenantId: 'beta',
      grants: ['client_credentials'],
      introspect: true,
    });
    await a.upsertClient({
      ...WEB_I,
      tenantId: 'acme',
      grants: ['password', 'refresh_token'],
      scopes: ['print'],
      introspect: true,
    });
    kid = jose.decodeProtectedHeader(await clientToken(SVC)).kid as string;
  });
  afterAll(async () => {
    await live.close();
    await ts.close();
  });

  async function clientToken(
    client: { id: string; secret: string },
    form: Record<string, string> = {},
  ): Promise<string> {
    const res = await post(live.app, TOKEN, { grant_type: 'client_credentials', ...form }, client);
    expect(res.status).toBe(200);
    return res.body.access_token as string;
  }
  const acmeToken = () => clientToken(SVC);
  const betaToken = () => clientToken(SVC_RT);

  const localApp = (extra: Partial<GuardOptions> = {}, store: Store = ts.store): Express =>
    guardedApp(createGuard({ issuer: live.issuer, store, keys: [{ key: publicKey }], ...extra }));
  // Remote guards introspect as all-rs: the authorization server would say yes for any tenant, so
  // a refusal is the guard's own.
  const remoteApp = (extra: Partial<GuardOptions> = {}): Express =>
    guardedApp(
      remoteGuard(live.issuer, { clientId: ALL_RS.id, clientSecret: ALL_RS.secret }, extra),
    );
  const MODES = [
    ['local', localApp],
    ['remote', remoteApp],
  ] as const;

  const me = (api: Express, token: string) =>
    request(api).get('/me').set('Authorization', `Bearer ${token}`);
  const ask = (token: string, client: { id: string; secret: string } = RS) =>
    post(live.app, INTROSPECT, { token }, client);

  /** A real token's claims and header, changed by `change`, signed with the server's own key. */
  async function forge(token: string, change: (claims: Record<string, unknown>) => void) {
    const claims = jose.decodeJwt(token) as Record<string, unknown>;
    change(claims);
    return new jose.SignJWT(claims as jose.JWTPayload)
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
      .sign(privateKey);
  }

  describe('guards limited to tenants', () => {
    it.each(MODES)(
      "%s mode: tenants ['acme'] admits acme's tokens and refuses another tenant's: 401 invalid_token with the RFC 6750 challenge",
      async (_mode, build) => {
        const api = build({ tenants: ['acme'] });
        const ok = await me(api, await acmeToken());
        expect(ok.status).toBe(200);
        expect(ok.body.tenantId).toBe('acme');
        const res = await me(api, await betaToken());
        expect(res.status).toBe(401);
        expect(res.body.error).toBe('invalid_token');
        expect(res.headers['www-authenticate']).toBe(CHALLENGE);
        // Also refused on the route's other middlewares, not only /me.
        const scan = await request(api)
          .get('/scan')
          .set('Authorization', `Bearer ${await betaToken()}`);
        expect(scan.status).toBe(401);
      },
    );

    it.each(MODES)('%s mode: several tenants listed, each admitted', async (_mode, build) => {
      const api = build({ tenants: ['beta', 'acme'] });
      expect((await me(api, await acmeToken())).body.tenantId).toBe('acme');
      expect((await me(api, await betaToken())).body.tenantId).toBe('beta');
    });

    it.each(MODES)(
      '%s mode: without tenants a guard serves every tenant and req.auth.tenantId says which',
      async (_mode, build) => {
        const api = build();
        const acme = await me(api, await acmeToken());
        const beta = await me(api, await betaToken());
        expect([acme.status, beta.status]).toEqual([200, 200]);
        expect(acme.body.tenantId).toBe('acme');
        expect(beta.body).toMatchObject({ tenantId: 'beta', clientId: SVC_RT.id });
        expect(beta.body.identity).toEqual({ kind: 'client', id: SVC_RT.id, tenantId: 'beta' });
      },
    );

    it("local mode: another tenant's token is refused before the store is read", async () => {
      let reads = 0;
      const counting = new Proxy(ts.store, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            if (prop === 'getAccessTokenState') reads++;
            return value.apply(target, args);
          };
        },
      });
      const api = localApp({ tenants: ['acme'] }, counting);
      expect((await me(api, await betaToken())).status).toBe(401);
      expect(reads).toBe(0);
      expect((await me(api, await acmeToken())).status).toBe(200);
      expect(reads).toBe(1);
    });

    it("remote mode: another tenant's token is refused without asking the authorization server", async () => {
      // The introspection endpoint is unreachable: asking it would answer 503, not 401.
      const api = guardedApp(
        remoteGuard(
          live.issuer,
          {
            clientId: ALL_RS.id,
            clientSecret: ALL_RS.secret,
            endpoint: 'http://127.0.0.1:1/introspect',
            timeout: 1000,
          },
          { tenants: ['acme'], logger: { error: () => {} } },
        ),
      );
      expect((await me(api, await betaToken())).status).toBe(401);
      expect((await me(api, await acmeToken())).status).toBe(503);
    });
  });

  describe('introspection limited to the caller (RFC 7662 §2.2, §4)', () => {
    // RFC 7662 §2.2: "If the introspection call is properly authorized but the token is not
    // active, does not exist on this server, or the protected resource is not allowed to
    // introspect this particular token, then the authorization server MUST return an
    // introspection response with the "active" field set to "false"."
    it('§2.2 a client learns nothing about another tenant\'s access token: exactly {"active":false}', async () => {
      const beta = await betaToken();
      const res = await ask(beta, RS);
      expect(res.status).toBe(200);
      expect(res.text).toBe(INACTIVE);
      // Its own tenant's resource server still learns about it.
      expect((await ask(beta, BETA_RS)).body).toMatchObject({
        active: true,
        tenant_id: 'beta',
        client_id: SVC_RT.id,
      });
      // And the other way round.
      const acme = await clientToken(SVC, { local_user: 'kiosk-7' });
      expect((await ask(acme, BETA_RS)).text).toBe(INACTIVE);
      expect((await ask(acme, RS)).body).toMatchObject({ active: true, local_user: 'kiosk-7' });
    });

    // RFC 7662 §4: "the authorization server MAY respond differently to different protected
    // resources making the same request".
    it('§4 a client registered with introspectAllTenants learns about every tenant', async () => {
      expect((await ask(await betaToken(), ALL_RS)).body).toMatchObject({
        active: true,
        tenant_id: 'beta',
      });
      expect((await ask(await acmeToken(), ALL_RS)).body.active).toBe(true);
    });

    it('§2.2 a refresh token is introspectable only by the client it was issued to', async () => {
      const res = await post(
        live.app,
        TOKEN,
        { grant_type: 'password', ...ALICE, scope: 'print' },
        WEB_I,
      );
      expect(res.status).toBe(200);
      const rt = res.body.refresh_token as string;
      expect((await ask(rt, WEB_I)).body).toMatchObject({
        active: true,
        client_id: WEB_I.id,
        username: ALICE.username,
        tenant_id: 'acme',
      });
      // Same tenant, another client; a client that sees every tenant: neither sees it.
      expect((await ask(rt, RS)).text).toBe(INACTIVE);
      expect((await ask(rt, ALL_RS)).text).toBe(INACTIVE);
      expect((await ask(rt, BETA_RS)).text).toBe(INACTIVE);
      // The access token of the same grant is the tenant's business.
      expect((await ask(res.body.access_token, RS)).body.active).toBe(true);
      // A public client's refresh token: no introspecting client was issued it.
      expect((await ask((await signIn(live.app)).refresh_token, RS)).text).toBe(INACTIVE);
    });

    it("the admin API (no client) still sees every tenant's access and refresh tokens", async () => {
      expect((await live.auth.admin.introspectToken(await betaToken())).active).toBe(true);
      const s = await signIn(live.app);
      expect(await live.auth.admin.introspectToken(s.refresh_token)).toMatchObject({
        active: true,
        client_id: 'app',
      });
    });

    it('introspectAllTenants is validated: a boolean, only with introspect; nothing stored on refusal', async () => {
      const before = await ts.snapshot();
      const base = { id: 'x-rs', secret: 'x-rs-secret-0123456789', tenantId: 'acme' };
      for (const bad of [
        { ...base, grants: ['client_credentials'] as const, introspectAllTenants: true },
        {
          ...base,
          grants: ['client_credentials'] as const,
          introspect: true,
          introspectAllTenants: 'yes',
        },
      ])
        await expect(
          live.auth.admin.upsertClient(
            bad as unknown as Parameters<typeof live.auth.admin.upsertClient>[0],
          ),
        ).rejects.toThrow(ValidationError);
      expect(await ts.snapshot()).toBe(before);
      expect(await live.auth.admin.getClient(ALL_RS.id)).toMatchObject({
        introspect: true,
        introspectAllTenants: true,
      });
      expect((await live.auth.admin.getClient(RS.id))?.introspectAllTenants).toBe(false);
    });
  });

  describe('local_user syntax', () => {
    it.each([
      ['blank', '   '],
      ['a leading space', ' kiosk-7'],
      ['a trailing space', 'kiosk-7 '],
      ['a trailing no-break space', 'kiosk-7\u00a0'],
      ['a right-to-left override (U+202E)', 'kiosk-\u202e7'],
      ['a zero-width space (U+200B, format)', 'kiosk\u200b-7'],
      ['a byte order mark (U+FEFF, format)', '\ufeffkiosk-7'],
      ['a tab (control)', 'kiosk\t7'],
      ['a DEL (control)', 'kiosk\u007f7'],
      ['not NFC (e + combining acute)', 'jose\u0301'],
      ['129 characters', 'k'.repeat(129)],
    ])('%s → 400 invalid_request, nothing stored', async (_name, localUser) => {
      const before = await ts.snapshot();
      const res = await post(
        live.app,
        TOKEN,
        { grant_type: 'client_credentials', local_user: localUser },
        SVC,
      );
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
      expect(res.body.access_token).toBeUndefined();
      expect(await ts.snapshot()).toBe(before);
    });

    it.each([
      ['one character', 'k'],
      ['inner spaces and punctuation', 'kiosk-7@front desk'],
      ['NFC with a precomposed letter', 'jos\u00e9'],
      ['128 characters (code points, astral ones included)', '\u{1F5A8}'.repeat(128)],
    ])('%s → issued, carried exactly', async (_name, localUser) => {
      const token = await clientToken(SVC, { local_user: localUser });
      expect(jose.decodeJwt(token).local_user).toBe(localUser);
    });

    it.each(MODES)(
      '%s mode: the identity names the client that asserted the local user',
      async (_mode, build) => {
        const res = await me(build(), await clientToken(SVC, { local_user: 'kiosk-7' }));
        expect(res.status).toBe(200);
        expect(res.body.identity).toEqual({
          kind: 'local_user',
          id: 'kiosk-7',
          tenantId: 'acme',
          clientId: SVC.id,
        });
      },
    );
  });

  describe("tokens whose local user or device differ from their grant's", () => {
    const cases: [string, () => Promise<string>, (c: Record<string, unknown>) => void][] = [
      [
        'local_user changed',
        () => clientToken(SVC, { local_user: 'kiosk-7' }),
        (c) => {
          c.local_user = 'kiosk-8';
        },
      ],
      [
        'local_user added to a grant without one',
        () => acmeToken(),
        (c) => {
          c.local_user = 'kiosk-7';
        },
      ],
      [
        'local_user removed from a grant with one',
        () => clientToken(SVC, { local_user: 'kiosk-7' }),
        (c) => {
          delete c.local_user;
        },
      ],
      [
        'device_id changed',
        async () => (await signIn(live.app, ALICE, { device_id: 'phone-1' })).access_token,
        (c) => {
          c.device_id = 'phone-2';
        },
      ],
      [
        'device_id added to a grant without one',
        async () => (await signIn(live.app)).access_token,
        (c) => {
          c.device_id = 'phone-1';
        },
      ],
      [
        'device_id removed from a device-bound grant',
        async () => (await signIn(live.app, ALICE, { device_id: 'phone-1' })).access_token,
        (c) => {
          delete c.device_id;
        },
      ],
    ];

    it.each(cases)(
      '%s, signed with the server key: refused by local and remote guards, {"active":false} at introspection',
      async (_name, issue, change) => {
        const real = await issue();
        const forged = await forge(real, change);
        // Not vacuous: the same re-signing without the change is accepted everywhere.
        const resigned = await forge(real, () => {});
        for (const [, build] of MODES) {
          const api = build();
          expect((await me(api, resigned)).status).toBe(200);
          const res = await me(api, forged);
          expect(res.status).toBe(401);
          expect(res.headers['www-authenticate']).toBe(CHALLENGE);
        }
        expect((await ask(resigned)).body.active).toBe(true);
        expect((await ask(forged)).text).toBe(INACTIVE);
      },
    );
  });
});
