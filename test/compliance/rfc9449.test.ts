// RFC 9449 DPoP: proofs at the token endpoint bind access tokens, public clients' refresh tokens
// and device sessions to a key; guards in both modes accept a bound token only with a fresh proof of
// that key. Run on every store; proofs are made by hand with jose (test/helpers/dpop.ts).
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { decodeJwt } from 'jose';
import request from 'supertest';
import type { Guard } from '../../lib';
import { ALICE, APP, introspect, SVC, seed, TOKEN, WEB } from '../helpers/app';
import { type DpopKey, dpopKey, proof } from '../helpers/dpop';
import {
  guardedApp,
  type LiveAuthServer,
  localGuard,
  remoteGuard,
  seedScopes,
  startAuthServer,
} from '../helpers/guard';
import { makeStore, STORE_KINDS, type StoreKind, type TestStore } from '../helpers/stores';

/** The resource server's URL as its requests name it (supertest sends this Host). */
const RS_HOST = 'rs.example';
const ME = `http://${RS_HOST}/me`;

describe.each(STORE_KINDS)('RFC 9449 DPoP (%s)', (kind: StoreKind) => {
  let ts: TestStore;
  let live: LiveAuthServer;
  let app: Express;
  let tokenUrl: string;
  let key: DpopKey;
  let other: DpopKey;

  beforeAll(async () => {
    ts = await makeStore(kind, `rfc9449-${kind}`);
    live = await startAuthServer(ts.store);
    app = live.app;
    tokenUrl = `${live.issuer}${TOKEN}`;
    await seed(live.auth);
    await seedScopes(live.auth);
    await live.auth.admin.upsertClient({
      id: 'strict',
      public: true,
      tenantId: 'acme',
      grants: ['password', 'refresh_token'],
      scopes: ['print', 'scan'],
      dpop: 'required',
    });
    key = await dpopKey();
    other = await dpopKey();
  });
  afterAll(async () => {
    await live.close();
    await ts.close();
  });

  /** A token request with a proof (made with `k`, or given as is). */
  const tokenRequest = async (
    form: Record<string, string>,
    k: DpopKey | string | null = key,
    basic?: { id: string; secret: string },
  ) => {
    const req = request(app).post(TOKEN).type('form');
    if (basic) req.auth(basic.id, basic.secret);
    if (k !== null)
      req.set('DPoP', typeof k === 'string' ? k : await proof(k, { htm: 'POST', htu: tokenUrl }));
    return req.send(form);
  };
  const signIn = (k: DpopKey | string | null = key, extra: Record<string, string> = {}) =>
    tokenRequest({ grant_type: 'password', client_id: APP.id, ...ALICE, ...extra }, k);
  const refresh = (rt: string, k: DpopKey | string | null = key, client = APP.id) =>
    tokenRequest({ grant_type: 'refresh_token', client_id: client, refresh_token: rt }, k);

  describe('§5 token requests', () => {
    it('§5 a proof binds the access token: token_type DPoP, cnf.jkt the key thumbprint (RFC 7638), and introspection says so (§6.2)', async () => {
      const res = await signIn();
      expect(res.status).toBe(200);
      expect(res.body.token_type).toBe('DPoP');
      expect(decodeJwt(res.body.access_token).cnf).toEqual({ jkt: key.jkt });
      const seen = await introspect(app, res.body.access_token);
      expect(seen).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });
      expect(await introspect(app, res.body.refresh_token)).toMatchObject({
        active: true,
        cnf: { jkt: key.jkt },
      });
    });

    it('without a proof the token is a Bearer token as before, with no cnf', async () => {
      const res = await signIn(null);
      expect(res.body.token_type).toBe('Bearer');
      expect(decodeJwt(res.body.access_token).cnf).toBeUndefined();
    });

    it("§5 a public client's refresh token rotates only with a proof of the same key; a stolen refresh token alone changes nothing", async () => {
      const first = (await signIn()).body;
      const before = await ts.snapshot();
      for (const attempt of [null, other]) {
        const res = await refresh(first.refresh_token, attempt);
        expect(res.status).toBe(400);
        expect(res.body.error).toBe('invalid_grant');
      }
      // No rotation, no reuse detection: the family is as it was.
      expect(await ts.snapshot()).toBe(before);
      const ok = await refresh(first.refresh_token, key);
      expect(ok.status).toBe(200);
      expect(ok.body.token_type).toBe('DPoP');
      expect(decodeJwt(ok.body.access_token).cnf).toEqual({ jkt: key.jkt });
      // The successor is bound too.
      expect((await refresh(ok.body.refresh_token, other)).body.error).toBe('invalid_grant');
      expect((await refresh(ok.body.refresh_token, key)).status).toBe(200);
    });

    it("§5 a confidential client's family is bound by its own authentication: it refreshes without a proof (Bearer) or with any key (bound to that one)", async () => {
      const signed = await tokenRequest({ grant_type: 'password', ...ALICE }, key, WEB);
      expect(signed.body.token_type).toBe('DPoP');
      const plain = await tokenRequest(
        { grant_type: 'refresh_token', refresh_token: signed.body.refresh_token },
        null,
        WEB,
      );
      expect(plain.status).toBe(200);
      expect(plain.body.token_type).toBe('Bearer');
      const rebound = await tokenRequest(
        { grant_type: 'refresh_token', refresh_token: plain.body.refresh_token },
        other,
        WEB,
      );
      expect(decodeJwt(rebound.body.access_token).cnf).toEqual({ jkt: other.jkt });
    });

    it('client_credentials with a proof is bound too', async () => {
      const res = await tokenRequest({ grant_type: 'client_credentials' }, key, SVC);
      expect(res.body.token_type).toBe('DPoP');
      expect(decodeJwt(res.body.access_token).cnf).toEqual({ jkt: key.jkt });
    });

    it("a client registered with dpop: 'required' is refused without a proof (400 invalid_dpop_proof), served with one", async () => {
      const form = { grant_type: 'password', client_id: 'strict', ...ALICE };
      const without = await tokenRequest(form, null);
      expect(without.status).toBe(400);
      expect(without.body.error).toBe('invalid_dpop_proof');
      const withProof = await tokenRequest(form, key);
      expect(withProof.status).toBe(200);
      expect(withProof.body.token_type).toBe('DPoP');
    });

    it('§5.1 metadata: dpop_signing_alg_values_supported lists asymmetric algorithms only', async () => {
      const doc = (await request(app).get('/.well-known/oauth-authorization-server')).body;
      expect(doc.dpop_signing_alg_values_supported).toContain('ES256');
      expect(doc.dpop_signing_alg_values_supported.some((a: string) => /^(HS|none)/i.test(a))).toBe(
        false,
      );
    });
  });

  describe('§4.3 checking a proof at the token endpoint: each refusal is 400 invalid_dpop_proof and issues nothing', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const cases: [string, () => Promise<string>][] = [
      [
        '§4.3 (9) htu of another URL',
        () => proof(key, { htm: 'POST', htu: 'https://evil.example/oauth2/token' }),
      ],
      ['§4.3 (8) htm GET', () => proof(key, { htm: 'GET', htu: tokenUrl })],
      [
        '§4.3 (11) iat 5 minutes old',
        () => proof(key, { htm: 'POST', htu: tokenUrl, iat: now() - 300 }),
      ],
      [
        '§4.3 (11) iat a minute ahead',
        () => proof(key, { htm: 'POST', htu: tokenUrl, iat: now() + 60 }),
      ],
      [
        '§4.3 (4) typ JWT',
        () => proof(key, { htm: 'POST', htu: tokenUrl, header: { typ: 'JWT' } }),
      ],
      [
        '§4.3 (7) a private key in the jwk',
        async () => {
          const { exportJWK } = await import('jose');
          const priv = await exportJWK(key.privateKey);
          return proof(key, { htm: 'POST', htu: tokenUrl, header: { jwk: priv } });
        },
      ],
      [
        '§4.3 (6) signed by another key than its jwk',
        () => proof(key, { htm: 'POST', htu: tokenUrl, header: { jwk: other.publicJwk } }),
      ],
      [
        '§4.3 (3) no jti',
        () => proof(key, { htm: 'POST', htu: tokenUrl, extra: { jti: undefined } }),
      ],
      [
        '§4.3 (5) alg none',
        async () => {
          const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
          const header = { alg: 'none', typ: 'dpop+jwt', jwk: key.publicJwk };
          const claims = { jti: 'x1', htm: 'POST', htu: tokenUrl, iat: now() };
          return `${enc(header)}.${enc(claims)}.`;
        },
      ],
      [
        '§4.3 (5) HS256 (a MAC proves no key)',
        async () => {
          const { SignJWT } = await import('jose');
          const secret = new TextEncoder().encode('0123456789abcdef0123456789abcdef');
          return new SignJWT({ jti: 'x2', htm: 'POST', htu: tokenUrl })
            .setProtectedHeader({
              alg: 'HS256',
              typ: 'dpop+jwt',
              jwk: { kty: 'oct', k: 'AAAA' } as never,
            })
            .setIssuedAt()
            .sign(secret);
        },
      ],
      ['§4.3 (2) not a JWT', async () => 'not-a-jwt'],
      ['a 5 KB proof', async () => `${'a'.repeat(5000)}.b.c`],
    ];
    it.each(cases)('%s', async (_name, make) => {
      const issued = jest.fn();
      live.auth.events.on('token.issued', issued);
      try {
        const res = await signIn(await make());
        expect(res.status).toBe(400);
        expect(res.body.error).toBe('invalid_dpop_proof');
        expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts/);
        expect(issued).not.toHaveBeenCalled();
      } finally {
        live.auth.events.off('token.issued', issued);
      }
    });

    it('§4.3 (1) two DPoP headers', async () => {
      const a = await proof(key, { htm: 'POST', htu: tokenUrl });
      const res = await request(app)
        .post(TOKEN)
        .type('form')
        .set('DPoP', [a, a] as never)
        .send({ grant_type: 'password', client_id: APP.id, ...ALICE });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_dpop_proof');
    });

    it('§11.1 a proof is used once: the same proof again is refused', async () => {
      const p = await proof(key, { htm: 'POST', htu: tokenUrl });
      expect((await signIn(p)).status).toBe(200);
      const again = await signIn(p);
      expect(again.status).toBe(400);
      expect(again.body.error).toBe('invalid_dpop_proof');
    });
  });

  describe('device sessions bound to a key', () => {
    const device = (id: string) => ({ device_id: id });

    it('a device session started with a key belongs to it: another key, or none, claiming the device id is refused; the key itself, in another app, joins', async () => {
      const id = `laptop-${kind}`;
      expect((await signIn(key, device(id))).status).toBe(200);
      const sessions = await live.auth.admin.listDeviceSessions('acme', ALICE.username);
      expect(sessions.find((s) => s.deviceId === id)?.jkt).toBe(key.jkt);
      for (const k of [other, null]) {
        const res = await signIn(k, device(id));
        expect(res.status).toBe(400);
        expect(res.body.error).toBe('invalid_grant');
      }
      // Another app on the same device, proving the same key.
      const web = await tokenRequest({ grant_type: 'password', ...ALICE, ...device(id) }, key, WEB);
      expect(web.status).toBe(200);
      const after = await live.auth.admin.listDeviceSessions('acme', ALICE.username);
      expect(
        after
          .find((s) => s.deviceId === id)
          ?.apps.map((a) => a.clientId)
          .sort(),
      ).toEqual([APP.id, WEB.id]);
    });

    it('a session started without a key is not key-bound (listed without jkt) and any sign-in may join it; once a bound session ends, a new key may start one', async () => {
      const id = `phone-${kind}`;
      expect((await signIn(null, device(id))).status).toBe(200);
      const s = (await live.auth.admin.listDeviceSessions('acme', ALICE.username)).find(
        (x) => x.deviceId === id,
      );
      expect(s?.jkt).toBeUndefined();
      expect((await signIn(other, device(id))).status).toBe(200);

      const bound = `tablet-${kind}`;
      expect((await signIn(key, device(bound))).status).toBe(200);
      expect((await signIn(other, device(bound))).status).toBe(400);
      await live.auth.admin.revokeDeviceSession('acme', ALICE.username, bound);
      expect((await signIn(other, device(bound))).status).toBe(200);
    });
  });

  describe.each(['local', 'remote'] as const)('§7 guards (%s mode)', (mode) => {
    let guard: Guard;
    let rs: Express;
    let required: Express;
    beforeAll(() => {
      const make = (extra: Parameters<typeof localGuard>[2] = {}) =>
        mode === 'local'
          ? localGuard(live.issuer, ts.store, extra)
          : remoteGuard(live.issuer, {}, extra);
      guard = make();
      rs = guardedApp(guard);
      required = guardedApp(make({ dpop: 'required' }));
    });

    const get = (target: Express, token: string, p?: string, scheme = 'DPoP') => {
      const req = request(target).get('/me').set('Host', RS_HOST);
      req.set('Authorization', `${scheme} ${token}`);
      if (p !== undefined) req.set('DPoP', p);
      return req;
    };
    const fresh = (token: string, k = key, extra: Partial<Parameters<typeof proof>[1]> = {}) =>
      proof(k, { htm: 'GET', htu: ME, accessToken: token, ...extra });

    it('§7.1 a bound token with a fresh proof of its key is admitted; the same proof again is refused (invalid_dpop_proof)', async () => {
      const at = (await signIn()).body.access_token as string;
      const p = await fresh(at);
      const ok = await get(rs, at, p);
      expect(ok.status).toBe(200);
      expect(ok.body.subject).toBe(ALICE.username);
      const rejected: unknown[] = [];
      const listen = (e: unknown) => rejected.push(e);
      guard.events.on('token.rejected', listen);
      const replay = await get(rs, at, p);
      guard.events.off('token.rejected', listen);
      expect(replay.status).toBe(401);
      expect(replay.body.error).toBe('invalid_dpop_proof');
      // The operator learns why; the proof itself is in no event.
      expect(rejected).toEqual([
        { reason: 'invalid', cause: 'dpop_replayed', detail: expect.any(String) },
      ]);
      expect(JSON.stringify(rejected)).not.toContain(p.split('.')[2] as string);
      expect(replay.headers['www-authenticate']).toMatch(
        /^DPoP realm="tokenward", error="invalid_dpop_proof", error_description="[^"]+", algs="ES256 /,
      );
      // A fresh proof for the next request.
      expect((await get(rs, at, await fresh(at))).status).toBe(200);
    });

    it('§7.2 a copied bound token is useless without its key: as Bearer (invalid_token), with a proof of another key, or without a proof', async () => {
      const at = (await signIn()).body.access_token as string;
      const asBearer = await get(rs, at, undefined, 'Bearer');
      expect(asBearer.status).toBe(401);
      expect(asBearer.body.error).toBe('invalid_token');
      // The challenge says how to send it (RFC 9449 §7.1).
      expect(asBearer.headers['www-authenticate']).toMatch(
        /^Bearer realm="tokenward", error="invalid_token", error_description="[^"]+", DPoP realm="tokenward", algs="ES256 /,
      );
      const otherKey = await get(rs, at, await fresh(at, other));
      expect(otherKey.status).toBe(401);
      expect(otherKey.body.error).toBe('invalid_dpop_proof');
      const noProof = await get(rs, at);
      expect(noProof.status).toBe(401);
      expect(noProof.body.error).toBe('invalid_dpop_proof');
    });

    it('§4.3 proofs that do not match the request: wrong ath, htu, htm, stale iat → 401 invalid_dpop_proof', async () => {
      const at = (await signIn()).body.access_token as string;
      const bad = [
        await fresh(at, key, { accessToken: `${at}x` }),
        await fresh(at, key, { htu: `http://${RS_HOST}/other` }),
        await fresh(at, key, { htu: `https://${RS_HOST}/me` }),
        await fresh(at, key, { htm: 'POST' }),
        await fresh(at, key, { iat: Math.floor(Date.now() / 1000) - 120 }),
      ];
      for (const p of bad) {
        const res = await get(rs, at, p);
        expect(res.status).toBe(401);
        expect(res.body.error).toBe('invalid_dpop_proof');
      }
      // None of them spent the budget of a good one: a fresh proof still works.
      expect((await get(rs, at, await fresh(at))).status).toBe(200);
    });

    it('hostile proofs at a guard: 401 invalid_dpop_proof with an RFC body, never a 500, and nothing stored changes', async () => {
      const at = (await signIn()).body.access_token as string;
      const two = await fresh(at);
      const before = await ts.snapshot();
      const hostile: (string | string[])[] = [
        'x'.repeat(5000),
        '{"alg":"none"}',
        'a.b.c',
        `${Buffer.from('{"typ":"dpop+jwt","alg":"ES256","jwk":{"__proto__":{"kty":"EC"}}}').toString('base64url')}.e30.AA`,
        [two, two],
      ];
      for (const p of hostile) {
        const res = await request(rs)
          .get('/me')
          .set('Host', RS_HOST)
          .set('Authorization', `DPoP ${at}`)
          .set('DPoP', p as never);
        expect(res.status).toBe(401);
        expect(res.body.error).toBe('invalid_dpop_proof');
        expect(res.headers['content-type']).toMatch(/^application\/json/);
      }
      const malformed = await request(rs).get('/me').set('Authorization', 'DPoP a b c');
      expect(malformed.status).toBe(400);
      expect(malformed.body.error).toBe('invalid_request');
      if (mode === 'local') expect(await ts.snapshot()).toBe(before);
      // The good proof that came twice was never admitted, so it still works once.
      expect((await get(rs, at, two)).status).toBe(200);
    });

    it('the query string is not part of htu (§4.3 (9))', async () => {
      const at = (await signIn()).body.access_token as string;
      const res = await request(rs)
        .get('/me?page=2')
        .set('Host', RS_HOST)
        .set('Authorization', `DPoP ${at}`)
        .set('DPoP', await fresh(at));
      expect(res.status).toBe(200);
    });

    it('§7.1 an unbound (Bearer) token sent with the DPoP scheme is refused', async () => {
      const at = (await signIn(null)).body.access_token as string;
      const res = await get(rs, at, await fresh(at));
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_token');
      expect((await get(rs, at, undefined, 'Bearer')).status).toBe(200);
    });

    it("dpop: 'required' refuses Bearer tokens, challenges with DPoP only (§7.1), and serves bound tokens", async () => {
      const bearer = (await signIn(null)).body.access_token as string;
      const res = await get(required, bearer, undefined, 'Bearer');
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_token');
      expect(res.headers['www-authenticate']).toMatch(
        /^DPoP realm="tokenward", error="invalid_token"/,
      );
      const none = await request(required).get('/me');
      expect(none.headers['www-authenticate']).toMatch(/^DPoP realm="tokenward", algs="ES256 /);
      const at = (await signIn()).body.access_token as string;
      expect((await get(required, at, await fresh(at))).status).toBe(200);
    });

    it('§11.1 concurrency: 8 requests at once with one proof, exactly one admitted', async () => {
      const at = (await signIn()).body.access_token as string;
      const p = await fresh(at);
      // Each request from a guard of its own in local mode: the store, not a process, decides.
      const apps = Array.from({ length: 8 }, () =>
        mode === 'local' ? guardedApp(localGuard(live.issuer, ts.store)) : rs,
      );
      const results = await Promise.all(apps.map((a) => get(a, at, p)));
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.status === 401)).toHaveLength(7);
    });

    it('a revoked bound token is refused however good its proof', async () => {
      const signed = (await signIn()).body;
      await request(app)
        .post('/oauth2/revoke')
        .type('form')
        .send({ token: signed.refresh_token, client_id: APP.id });
      const res = await get(rs, signed.access_token, await fresh(signed.access_token));
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_token');
    });
  });

  it('remote mode with replayStore: a proof spent at one instance is refused at another', async () => {
    const a = guardedApp(remoteGuard(live.issuer, {}, { replayStore: ts.store }));
    const b = guardedApp(remoteGuard(live.issuer, {}, { replayStore: ts.store }));
    const at = (await signIn()).body.access_token as string;
    const p = await proof(key, { htm: 'GET', htu: ME, accessToken: at });
    const send = (target: Express) =>
      request(target)
        .get('/me')
        .set('Host', RS_HOST)
        .set('Authorization', `DPoP ${at}`)
        .set('DPoP', p);
    expect((await send(a)).status).toBe(200);
    const there = await send(b);
    expect(there.status).toBe(401);
    expect(there.body.error).toBe('invalid_dpop_proof');
  });
});

describe('§8 server nonces: stateless, valid on every instance sharing the secret', () => {
  let ts: TestStore;
  let servers: LiveAuthServer[];
  let key: DpopKey;
  let t: number;
  beforeAll(async () => {
    ts = await makeStore('redis', 'rfc9449-nonce');
    t = Date.now();
    const clock = () => t;
    const first = await startAuthServer(ts.store, { dpop: { nonce: true }, clock });
    // A second instance of the same deployment: same issuer, same store and secret.
    servers = [
      first,
      await startAuthServer(ts.store, { dpop: { nonce: true }, clock, issuer: first.issuer }),
    ];
    await seed((servers[0] as LiveAuthServer).auth);
    key = await dpopKey();
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    await ts.close();
  });

  // Both servers are one deployment behind one issuer URL: a proof names the first one's.
  const tokenUrl = () => `${(servers[0] as LiveAuthServer).issuer}${TOKEN}`;
  const signIn = async (server: LiveAuthServer, nonce?: string) =>
    request(server.app)
      .post(TOKEN)
      .type('form')
      .set(
        'DPoP',
        await proof(key, {
          htm: 'POST',
          htu: tokenUrl(),
          iat: Math.floor(t / 1000),
          ...(nonce ? { nonce } : {}),
        }),
      )
      .send({ grant_type: 'password', client_id: APP.id, ...ALICE });

  it('§8.1 a proof without a nonce: 400 use_dpop_nonce with DPoP-Nonce; the retry with it succeeds and gets the next nonce', async () => {
    const [a] = servers as [LiveAuthServer];
    const first = await signIn(a);
    expect(first.status).toBe(400);
    expect(first.body.error).toBe('use_dpop_nonce');
    const nonce = first.headers['dpop-nonce'];
    expect(nonce).toEqual(expect.any(String));
    const second = await signIn(a, nonce);
    expect(second.status).toBe(200);
    expect(second.headers['dpop-nonce']).toEqual(expect.any(String));
  });

  it('a nonce from one instance is accepted by another (no store read); a forged or stale one is not', async () => {
    const [a, b] = servers as [LiveAuthServer, LiveAuthServer];
    const nonce = (await signIn(a)).headers['dpop-nonce'] as string;
    expect((await signIn(b, nonce)).status).toBe(200);
    const forged = `${nonce.split('.')[0]}.${'A'.repeat(22)}`;
    expect((await signIn(b, forged)).body.error).toBe('use_dpop_nonce');
    t += 3 * 60_000; // three minutes later
    const stale = await signIn(b, nonce);
    expect(stale.body.error).toBe('use_dpop_nonce');
    expect(stale.headers['dpop-nonce']).not.toBe(nonce);
  });
});

describe('the resource server behind a proxy: htu is the URL the client used', () => {
  let ts: TestStore;
  let live: LiveAuthServer;
  beforeAll(async () => {
    ts = await makeStore('memory', 'rfc9449-proxy');
    live = await startAuthServer(ts.store);
    await seed(live.auth);
  });
  afterAll(async () => {
    await live.close();
    await ts.close();
  });

  it("with trust proxy, X-Forwarded-Proto/Host make the htu https://public.example/me; without it, the forwarded URL's proof is refused", async () => {
    const key = await dpopKey();
    const htu = `${live.issuer}${TOKEN}`;
    const at = (
      await request(live.app)
        .post(TOKEN)
        .type('form')
        .set('DPoP', await proof(key, { htm: 'POST', htu }))
        .send({ grant_type: 'password', client_id: APP.id, ...ALICE })
    ).body.access_token as string;
    const guard = localGuard(live.issuer, ts.store);
    const trusting = guardedApp(guard);
    trusting.set('trust proxy', 1);
    const plain = guardedApp(guard);
    const server = createServer(trusting);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const send = async (target: Express | string) =>
        request(target)
          .get('/me')
          .set('X-Forwarded-Proto', 'https')
          .set('X-Forwarded-Host', 'public.example')
          .set('Authorization', `DPoP ${at}`)
          .set(
            'DPoP',
            await proof(key, { htm: 'GET', htu: 'https://public.example/me', accessToken: at }),
          );
      const port = (server.address() as AddressInfo).port;
      expect((await send(`http://127.0.0.1:${port}`)).status).toBe(200);
      expect((await send(plain)).status).toBe(401);
    } finally {
      server.close();
    }
  });
});

describe('§10 dpop_jkt: an authorization code bound to a key at the authorization request', () => {
  const CB = 'https://app.example/cb';
  let ts: TestStore;
  let live: LiveAuthServer;
  let key: DpopKey;
  let other: DpopKey;
  beforeAll(async () => {
    ts = await makeStore('memory', 'rfc9449-code');
    live = await startAuthServer(ts.store, {
      authorize: {
        authenticate: () => ({ tenantId: 'acme', username: 'alice' }),
        loginUrl: '/login',
      },
    });
    await seed(live.auth);
    await live.auth.admin.upsertClient({
      id: 'spa',
      public: true,
      tenantId: 'acme',
      grants: ['authorization_code', 'refresh_token'],
      redirectUris: [CB],
      scopes: ['print'],
    });
    key = await dpopKey();
    other = await dpopKey();
  });
  afterAll(async () => {
    await live.close();
    await ts.close();
  });

  const code = async (extra: Record<string, string>) => {
    const verifier = randomBytes(32).toString('base64url');
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: 'spa',
      redirect_uri: CB,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      ...extra,
    });
    const res = await request(live.app).get(`/oauth2/authorize?${q}`);
    const location = new URL(res.headers.location as string);
    return { verifier, location, code: location.searchParams.get('code') };
  };
  const redeem = async (c: { code: string | null; verifier: string }, k?: DpopKey) => {
    const req = request(live.app).post(TOKEN).type('form');
    if (k) req.set('DPoP', await proof(k, { htm: 'POST', htu: `${live.issuer}${TOKEN}` }));
    return req.send({
      grant_type: 'authorization_code',
      client_id: 'spa',
      code: c.code ?? '',
      redirect_uri: CB,
      code_verifier: c.verifier,
    });
  };

  it('§10.1 the code is redeemed only with a proof of the key named by dpop_jkt: another key or none is invalid_grant', async () => {
    for (const k of [other, undefined]) {
      const res = await redeem(await code({ dpop_jkt: key.jkt }), k);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
    }
    const ok = await redeem(await code({ dpop_jkt: key.jkt }), key);
    expect(ok.status).toBe(200);
    expect(decodeJwt(ok.body.access_token).cnf).toEqual({ jkt: key.jkt });
  });

  it('a malformed dpop_jkt is an invalid_request error redirect', async () => {
    const { location } = await code({ dpop_jkt: 'not a thumbprint' });
    expect(location.searchParams.get('error')).toBe('invalid_request');
  });
});
