// Guard rules (renewal hints, tenants and local users, service scopes and role checks; RFC 6750; RFC 8725) run against local mode on every store and remote mode.
import { createHmac, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Express } from 'express';
import * as jose from 'jose';
import request from 'supertest';
import { type Guard, MemoryStore } from '../../lib';
import {
  ALICE,
  BOB,
  post,
  REVOKE,
  refresh,
  revoke,
  SVC,
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
import { makeStore, type StoreKind, type TestStore } from '../helpers/stores';

type Mode = { name: string; store: StoreKind; remote: boolean };
const MODES: Mode[] = [
  { name: 'local mode, MemoryStore', store: 'memory', remote: false },
  { name: 'local mode, RedisStore', store: 'redis', remote: false },
  { name: 'local mode, RedisStore on Cluster', store: 'cluster', remote: false },
  { name: 'remote mode (introspection)', store: 'memory', remote: true },
];

const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe.each(MODES)('guard rules: $name', (mode) => {
  let ts: TestStore;
  let live: LiveAuthServer;
  let guard: Guard;
  let api: Express;
  let privateKey: KeyObject;
  let kid: string;

  beforeAll(async () => {
    ts = await makeStore(mode.store, `guard-rules-${mode.store}-${mode.remote}`);
    live = await startAuthServer(ts.store);
    await seed(live.auth);
    await signIn(live.app); // the first issue generates the signing key into the store
    // Forgeries below are signed with the real key (read from the store) to isolate one defect each.
    const [key] = await ts.store.getSigningKeys();
    if (!key) throw new Error('no signing key in the store');
    privateKey = await storedSigningKey(ts.store, key.kid);
    kid = key.kid;
    await seedScopes(live.auth);
    guard = mode.remote ? remoteGuard(live.issuer) : localGuard(live.issuer, ts.store);
    api = guardedApp(guard);
  });
  afterAll(async () => {
    await live.close();
    await ts.close();
  });

  const get = (path: string, token?: string) => {
    const r = request(api).get(path);
    return token === undefined ? r : r.set('Authorization', `Bearer ${token}`);
  };

  async function clientToken(form: Record<string, string> = {}): Promise<string> {
    const res = await post(live.app, TOKEN, { grant_type: 'client_credentials', ...form }, SVC);
    expect(res.status).toBe(200);
    return res.body.access_token as string;
  }

  /** Claims of a real token, re-signed by us with the server's key after `change`. */
  async function resign(
    change: (claims: Record<string, unknown>, header: Record<string, unknown>) => void,
    key: KeyObject | Uint8Array = privateKey,
  ): Promise<string> {
    const { access_token } = await signIn(live.app);
    const claims = jose.decodeJwt(access_token) as Record<string, unknown>;
    const header: Record<string, unknown> = { alg: 'ES256', typ: 'at+jwt', kid };
    change(claims, header);
    return new jose.SignJWT(claims as jose.JWTPayload)
      .setProtectedHeader(header as jose.JWTHeaderParameters)
      .sign(key);
  }

  describe('authenticate()', () => {
    it('admits a valid user token and sets a typed req.auth', async () => {
      const t = await signIn(live.app, ALICE, { device_id: 'phone-1' });
      const res = await get('/me', t.access_token);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        token: t.access_token,
        clientId: 'app',
        subject: 'alice',
        tenantId: 'acme',
        deviceId: 'phone-1',
        scopes: ['print', 'scan'],
        claims: { sub: 'alice', client_id: 'app', iss: live.issuer, aud: live.issuer },
      });
      expect(res.body.expiresAt).toBe(jose.decodeJwt(t.access_token).exp);
      expect(res.body.localUser).toBeUndefined();
    });

    it('sends Token-Expires-In with whole seconds to the effective expiry, exposed to CORS (renewal hint)', async () => {
      const t = await signIn(live.app);
      const res = await get('/me', t.access_token);
      const left = Number(res.headers['token-expires-in']);
      expect(Number.isInteger(left)).toBe(true);
      expect(left).toBeGreaterThanOrEqual(t.expires_in - 2);
      expect(left).toBeLessThanOrEqual(t.expires_in);
      expect(res.headers['access-control-expose-headers']).toBe('Token-Expires-In');
    });

    it('sets localUser for a client token carrying local_user (tenants and local users)', async () => {
      const res = await get('/me', await clientToken({ local_user: 'kiosk-7' }));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ clientId: 'svc', subject: 'svc', localUser: 'kiosk-7' });
    });

    it('refuses a revoked access token on the next request', async () => {
      const t = await signIn(live.app);
      expect((await get('/me', t.access_token)).status).toBe(200);
      expect((await revoke(live.app, t.access_token)).status).toBe(200);
      const res = await get('/me', t.access_token);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    });

    it('refuses every access token of a family revoked through its root after rotation (refresh-token families)', async () => {
      const first = await signIn(live.app);
      const second = (await refresh(live.app, first.refresh_token)).body;
      expect((await get('/me', second.access_token)).status).toBe(200);
      expect(
        (await post(live.app, REVOKE, { token: first.refresh_token, client_id: 'app' })).status,
      ).toBe(200);
      expect((await get('/me', first.access_token)).status).toBe(401);
      expect((await get('/me', second.access_token)).status).toBe(401);
    });

    it('refuses the family after refresh-token reuse', async () => {
      const first = await signIn(live.app);
      const second = (await refresh(live.app, first.refresh_token)).body;
      expect((await refresh(live.app, first.refresh_token)).status).toBe(400);
      expect((await get('/me', second.access_token)).status).toBe(401);
    });

    it('keeps the old access token valid after a renewal until its own expiry (overlapping tokens)', async () => {
      const first = await signIn(live.app);
      const second = (await refresh(live.app, first.refresh_token)).body;
      expect((await get('/me', first.access_token)).status).toBe(200);
      expect((await get('/me', second.access_token)).status).toBe(200);
    });

    it.each([
      [
        'alg none',
        async () =>
          `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${(await signIn(live.app)).access_token.split('.')[1]}.`,
      ],
      [
        'HS256 signed with the ES256 public key',
        async () => {
          // The attacker knows the public key, as published at jwks_uri.
          const pub = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' });
          const payload = (await signIn(live.app)).access_token.split('.')[1];
          const head = b64({ alg: 'HS256', typ: 'at+jwt', kid });
          const sig = createHmac('sha256', pub).update(`${head}.${payload}`).digest('base64url');
          return `${head}.${payload}.${sig}`;
        },
      ],
      [
        'tampered payload',
        async () => {
          const [h, p, s] = (await signIn(live.app)).access_token.split('.');
          const claims = JSON.parse(Buffer.from(p as string, 'base64url').toString());
          return `${h}.${b64({ ...claims, sub: 'bob' })}.${s}`;
        },
      ],
      [
        'wrong iss',
        () =>
          resign((c) => {
            c.iss = 'https://evil.example.com';
          }),
      ],
      [
        'wrong aud',
        () =>
          resign((c) => {
            c.aud = 'https://other.example.com';
          }),
      ],
      [
        'typ JWT',
        () =>
          resign((_c, h) => {
            h.typ = 'JWT';
          }),
      ],
      [
        'unknown kid',
        () =>
          resign((_c, h) => {
            h.kid = 'not-our-key';
          }),
      ],
      [
        'kid of ours, key of an attacker',
        () => resign(() => {}, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
      ],
      [
        'expired',
        () =>
          resign((c) => {
            c.exp = Math.floor(Date.now() / 1000) - 60;
            c.iat = (c.exp as number) - 600;
          }),
      ],
      [
        'not yet valid (nbf)',
        () =>
          resign((c) => {
            c.nbf = Math.floor(Date.now() / 1000) + 600;
          }),
      ],
      [
        'jku pointing elsewhere with an unknown kid',
        () =>
          resign((_c, h) => {
            h.kid = 'x';
            h.jku = 'https://evil.example.com/jwks';
          }),
      ],
    ])('refuses a forged token: %s', async (_name, make) => {
      const token = await make();
      const res = await get('/me', token);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_token');
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="tokenward", error="invalid_token", error_description="the access token is invalid, expired or revoked"',
      );
    });

    it('accepts a token re-signed with the real key and unchanged claims (the forgery tests are not vacuous)', async () => {
      expect((await get('/me', await resign(() => {}))).status).toBe(200);
    });

    it('accepts only its own audience', async () => {
      const other = mode.remote
        ? remoteGuard(live.issuer, {}, { audience: 'https://print.example.com' })
        : localGuard(live.issuer, ts.store, { audience: 'https://print.example.com' });
      const t = await signIn(live.app);
      expect(
        (
          await request(guardedApp(other))
            .get('/me')
            .set('Authorization', `Bearer ${t.access_token}`)
        ).status,
      ).toBe(401);
    });

    it('refuses a token of another issuer sharing the store', async () => {
      if (mode.remote) {
        const otherStore = new MemoryStore();
        const other = await startAuthServer(otherStore, { keys: [{ privateKey, kid }] });
        try {
          await seed(other.auth);
          const t = await signIn(other.app);
          expect((await get('/me', t.access_token)).status).toBe(401);
        } finally {
          await other.close();
          await otherStore.close();
        }
      } else {
        const t = await resign((c) => {
          c.iss = 'http://localhost:1';
        });
        expect((await get('/me', t)).status).toBe(401);
      }
    });
  });

  describe('resolveIdentity(): tenants and local users', () => {
    afterEach(() => live.auth.admin.upsertTenant({ id: 'acme', localUserMode: true }));

    it('is the user for user tokens', async () => {
      const res = await get('/me', (await signIn(live.app)).access_token);
      expect(res.body.identity).toEqual({ kind: 'user', id: 'alice', tenantId: 'acme' });
    });

    it('is the client for client tokens without a local user', async () => {
      const res = await get('/me', await clientToken());
      expect(res.body.identity).toEqual({ kind: 'client', id: 'svc', tenantId: 'acme' });
    });

    it('follows the tenant localUserMode at request time', async () => {
      const token = await clientToken({ local_user: 'kiosk-7' });
      expect((await get('/me', token)).body.identity).toEqual({
        kind: 'local_user',
        id: 'kiosk-7',
        tenantId: 'acme',
        clientId: 'svc',
      });
      await live.auth.admin.upsertTenant({ id: 'acme', localUserMode: false });
      expect((await get('/me', token)).body.identity).toEqual({
        kind: 'client',
        id: 'svc',
        tenantId: 'acme',
      });
      await live.auth.admin.upsertTenant({ id: 'acme', localUserMode: true });
      expect((await get('/me', token)).body.identity.kind).toBe('local_user');
    });
  });

  describe('requireService() and requireScope(): service scopes and role checks', () => {
    afterEach(() => live.auth.admin.upsertUser({ tenantId: 'acme', ...ALICE, roles: ['printer'] }));

    it('admits a user holding a role of a roleCheck scope naming the service', async () => {
      const res = await get('/print', (await signIn(live.app)).access_token);
      expect(res.status).toBe(200);
    });

    it('denies a user without the role: 403 insufficient_scope naming the scope', async () => {
      const res = await get('/print', (await signIn(live.app, BOB)).access_token);
      expect(res.status).toBe(403);
      expect(res.body.error).toBe('insufficient_scope');
      expect(res.headers['www-authenticate']).toMatch(
        /^Bearer realm="tokenward", error="insufficient_scope", error_description="[^"]+", scope="print"$/,
      );
    });

    it('takes a removed role into account on the next request', async () => {
      const token = (await signIn(live.app)).access_token;
      expect((await get('/print', token)).status).toBe(200);
      expect((await get('/scope/print', token)).status).toBe(200);
      await live.auth.admin.upsertUser({ tenantId: 'acme', ...ALICE, roles: [] });
      expect((await get('/print', token)).status).toBe(403);
      expect((await get('/scope/print', token)).status).toBe(403);
      await live.auth.admin.upsertUser({ tenantId: 'acme', ...ALICE, roles: ['printer'] });
      expect((await get('/print', token)).status).toBe(200);
    });

    it('fails a role check for a token without a user, even with a local user', async () => {
      expect((await get('/print', await clientToken({ scope: 'print' }))).status).toBe(403);
      expect(
        (await get('/print', await clientToken({ scope: 'print', local_user: 'k' }))).status,
      ).toBe(403);
    });

    it('admits without any role lookup when the scope has no role check', async () => {
      expect((await get('/scan', await clientToken({ scope: 'scan' }))).status).toBe(200);
      expect((await get('/scan', (await signIn(live.app, BOB)).access_token)).status).toBe(200);
    });

    it('denies a token whose scope names no scope for the service', async () => {
      const res = await get('/scan', await clientToken({ scope: 'print' }));
      expect(res.status).toBe(403);
      expect(res.headers['www-authenticate']).toContain('scope="scan"');
    });

    it('requireScope needs every listed scope', async () => {
      const printOnly = (await signIn(live.app, ALICE, { scope: 'print' })).access_token;
      expect((await get('/scope/print', printOnly)).status).toBe(200);
      const res = await get('/scope/print-scan', printOnly);
      expect(res.status).toBe(403);
      expect(res.headers['www-authenticate']).toContain('scope="print scan"');
      expect((await get('/scope/print-scan', (await signIn(live.app)).access_token)).status).toBe(
        200,
      );
    });

    it('holds only scopes both in the token and in its grant as stored', async () => {
      // A token claiming more than its grant (signed with the real key) gets only the grant's scopes.
      const token = await resign((c) => {
        c.scope = 'print scan admin';
      });
      const me = await get('/me', token);
      expect(me.status).toBe(200);
      expect(me.body.scopes).toEqual(['print', 'scan']);
    });

    it('follows a refresh that narrows the scope (RFC 6749 §6)', async () => {
      const wide = await signIn(live.app);
      const narrowed = await refresh(live.app, wide.refresh_token, { scope: 'scan' });
      expect(narrowed.status).toBe(200);
      expect((await get('/print', narrowed.body.access_token)).status).toBe(403);
      expect((await get('/scan', narrowed.body.access_token)).status).toBe(200);
      expect((await get('/print', wide.access_token)).status).toBe(200);
    });

    it('without authenticate() before it, refuses rather than admits: a 500 naming the wiring mistake, not a 401 telling the caller a token is missing', async () => {
      const express = (await import('express')).default;
      const app = express();
      app.get('/x', guard.requireService('scan'), (_req, res) => {
        res.send('admitted');
      });
      const res = await request(app)
        .get('/x')
        .set('Authorization', `Bearer ${await clientToken({ scope: 'scan' })}`);
      expect(res.status).toBe(500);
      expect(res.body).toEqual({
        error: 'server_error',
        error_description: 'the server is misconfigured',
      });
      expect(res.headers['www-authenticate']).toBeUndefined();
    });
  });
});
