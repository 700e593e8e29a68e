// Cost: store round trips per token issued and per introspection, counted with Redis MONITOR
// on a dedicated server (commands run inside Lua scripts are not round trips and are not counted).

import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { createGuard, RedisStore } from '../../lib';
import {
  ALICE,
  APP,
  buildApp,
  INTROSPECT,
  ISSUER,
  post,
  RS,
  SVC,
  seed,
  signIn,
  type TestApp,
  TOKEN,
} from '../helpers/app';
import { dpopKey, proof } from '../helpers/dpop';
import { seedScopes } from '../helpers/guard';
import { waitReady } from '../helpers/redis';
import { type Standalone, startStandalone } from '../helpers/redis-launcher';

describe('store round trips (RedisStore, MONITOR)', () => {
  let dir: string;
  let server: Standalone;
  let redis: Redis;
  let monitorBase: Redis;
  let monitor: Redis;
  let seen: string[] = [];
  /** Marker → resolve: see drained(). */
  const marks = new Map<string, () => void>();

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tw-rtt-'));
    server = await startStandalone(dir);
    redis = new Redis(server.port, '127.0.0.1');
    await waitReady(redis);
    monitorBase = new Redis(server.port, '127.0.0.1');
    monitor = await monitorBase.monitor(); // a duplicate connection: both must be closed
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const mark = args[0]?.toLowerCase() === 'echo' ? marks.get(String(args[1])) : undefined;
      if (mark) mark();
      else if (source !== 'lua') seen.push(String(args[0]).toLowerCase());
    });
  });
  afterAll(async () => {
    monitor.disconnect();
    monitorBase.disconnect();
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Resolves once MONITOR has shown every command sent so far on `redis` (the one connection all
   * the stores here use): a marker sent after them runs after them, and MONITOR reports in order.
   */
  async function drained(): Promise<void> {
    const mark = `tw-drained-${marks.size}-${Date.now()}`;
    const shown = new Promise<void>((resolve) => marks.set(mark, resolve));
    await redis.echo(mark);
    await shown;
    marks.delete(mark);
  }

  /** Round trips per request of `run`, averaged over n warm calls. */
  async function count(run: () => Promise<unknown>, n = 10): Promise<number> {
    await run(); // warm: keys loaded, scripts cached on the server
    await drained();
    seen = [];
    for (let i = 0; i < n; i++) await run();
    await drained(); // MONITOR lines arrive asynchronously
    return seen.length / n;
  }

  describe('rate limits off', () => {
    let t: TestApp;
    let session: { access_token: string; refresh_token: string };
    beforeAll(async () => {
      t = buildApp(new RedisStore({ redis, prefix: 'rt1:' }), { clientCacheTtl: 60 });
      await seed(t.auth);
      session = await signIn(t.app);
    });

    it('client_credentials issuance: 2 commands sent together, 1 round-trip wait (the grant and its entry in the client ledger; client record cached for clientCacheTtl)', async () => {
      const n = await count(async () =>
        expect((await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC)).status).toBe(
          200,
        ),
      );
      expect(n).toBe(2);
      expect(new Set(seen)).toEqual(new Set(['evalsha']));
    });

    it('password sign-in: 4 commands, 2 round-trip waits (user ledger generation + user record; grant + client ledger)', async () => {
      const n = await count(async () =>
        expect(
          (await post(t.app, TOKEN, { grant_type: 'password', client_id: APP.id, ...ALICE }))
            .status,
        ).toBe(200),
      );
      expect(n).toBe(4);
      expect(seen.filter((c) => c === 'evalsha')).toHaveLength(2 * 10);
    });

    it('refresh rotation: 1 round trip (one Lua script)', async () => {
      let rt = session.refresh_token;
      const n = await count(async () => {
        const res = await post(t.app, TOKEN, {
          grant_type: 'refresh_token',
          client_id: APP.id,
          refresh_token: rt,
        });
        expect(res.status).toBe(200);
        rt = res.body.refresh_token;
      });
      expect(n).toBe(1);
    });

    it('introspection of a user access token: 3 commands sent together (1 round-trip wait)', async () => {
      // Token state (script), the user's roles and the token's scope definitions (MGET) for the
      // tokenward extension member, issued concurrently.
      const n = await count(async () =>
        expect(
          (await post(t.app, INTROSPECT, { token: session.access_token }, RS)).body.active,
        ).toBe(true),
      );
      expect(n).toBe(3);
      expect(new Set(seen)).toEqual(new Set(['hmget', 'get', 'mget']));
    });

    it('authorization code: the authorization request reads the user ledger generation and record (2 commands, 1 round-trip wait; nothing written); redeeming the code is the grant and its client-ledger entry (2 scripts sent together, 1 wait)', async () => {
      const ta = buildApp(new RedisStore({ redis, prefix: 'rt-code:' }), {
        clientCacheTtl: 60,
        authorize: {
          authenticate: () => ({ tenantId: 'acme', username: 'alice' }),
          loginUrl: '/login',
        },
      });
      await seed(ta.auth);
      await ta.auth.admin.upsertClient({
        id: 'web-app',
        public: true,
        tenantId: 'acme',
        grants: ['authorization_code'],
        redirectUris: ['https://app.example/cb'],
        scopes: ['print'],
      });
      const verifier = 'v'.repeat(43);
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: 'web-app',
        redirect_uri: 'https://app.example/cb',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      });
      const codes: string[] = [];
      const authorize = await count(async () => {
        const res = await request(ta.app).get(`/oauth2/authorize?${query}`);
        expect(res.status).toBe(302);
        codes.push(new URL(res.headers.location as string).searchParams.get('code') as string);
      });
      expect(authorize).toBe(2);
      expect(new Set(seen)).toEqual(new Set(['get', 'zrangebyscore']));
      const redeem = await count(async () => {
        const res = await post(ta.app, TOKEN, {
          grant_type: 'authorization_code',
          client_id: 'web-app',
          code: codes.shift() as string,
          redirect_uri: 'https://app.example/cb',
          code_verifier: verifier,
        });
        expect(res.status).toBe(200);
      }, 5);
      expect(redeem).toBe(2);
      expect(new Set(seen)).toEqual(new Set(['evalsha']));
    });

    it('with clientCacheTtl 0 each request also reads the client ledger generation and record, sent together', async () => {
      const t0 = buildApp(new RedisStore({ redis, prefix: 'rt2:' }), { clientCacheTtl: 0 });
      await seed(t0.auth);
      const n = await count(async () =>
        expect((await post(t0.app, TOKEN, { grant_type: 'client_credentials' }, SVC)).status).toBe(
          200,
        ),
      );
      expect(n).toBe(4);
    });
  });

  it('rate limits on: client_credentials costs nothing more, a password sign-in reads 2 counters, a refresh counts its family', async () => {
    const off = buildApp(new RedisStore({ redis, prefix: 'rt3off:' }), { clientCacheTtl: 60 });
    const on = buildApp(new RedisStore({ redis, prefix: 'rt3:' }), {
      clientCacheTtl: 60,
      rateLimit: { failedPasswordsPerIp: 1e6, failedPasswordsPerUsername: 1e6 },
    });
    const costs = async (t: TestApp) => {
      await seed(t.auth);
      const cc = await count(async () =>
        expect((await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC)).status).toBe(
          200,
        ),
      );
      const pw = await count(async () =>
        expect(
          (await post(t.app, TOKEN, { grant_type: 'password', client_id: APP.id, ...ALICE }))
            .status,
        ).toBe(200),
      );
      let rt = (await signIn(t.app)).refresh_token;
      const refresh = await count(async () => {
        const res = await post(t.app, TOKEN, {
          grant_type: 'refresh_token',
          client_id: APP.id,
          refresh_token: rt,
        });
        expect(res.status).toBe(200);
        rt = res.body.refresh_token;
      });
      return { cc, pw, refresh };
    };
    const base = await costs(off);
    // Only failures count: a client whose secret this instance has verified reads no counter; a
    // sign-in reads its username's and its IP's failures (the old request-counting limiters cost
    // 1 more for client_credentials and 3 more for a sign-in); a rotation counts its family.
    expect(await costs(on)).toEqual({ cc: base.cc, pw: base.pw + 2, refresh: base.refresh + 1 });
  });

  describe('local-mode guard (registryCacheTtl 0)', () => {
    let t: TestApp;
    let rs: express.Express;
    let token: string;
    beforeAll(async () => {
      t = buildApp(new RedisStore({ redis, prefix: 'rt5:' }));
      await seed(t.auth);
      await seedScopes(t.auth);
      const guard = createGuard({
        issuer: ISSUER,
        store: new RedisStore({ redis, prefix: 'rt5:' }),
        registryCacheTtl: 0,
      });
      rs = express();
      const ok: express.RequestHandler = (_req, res) => void res.json({ ok: true });
      rs.get('/auth', guard.authenticate(), ok);
      rs.get('/scan', guard.authenticate(), guard.requireService('scan'), ok);
      token = (await signIn(t.app)).access_token;
    });
    const get = (path: string, bearer: string) =>
      request(rs).get(path).set('Authorization', `Bearer ${bearer}`);

    it('authenticate only: exactly 1 round trip per guarded request', async () => {
      const n = await count(async () => expect((await get('/auth', token)).status).toBe(200));
      expect(n).toBe(1);
      // One HMGET: grant record and revocation flags (device-bound tokens: one script, below).
      expect(new Set(seen)).toEqual(new Set(['hmget']));
    });

    it('a device-bound token (device sessions): still 1 round trip — the same script checks and postpones the session', async () => {
      const bound = (await signIn(t.app, ALICE, { device_id: 'rt-phone' })).access_token;
      const n = await count(async () => expect((await get('/auth', bound)).status).toBe(200));
      expect(n).toBe(1);
      expect(new Set(seen)).toEqual(new Set(['evalsha']));
    });

    it('a DPoP-bound token with its proof (RFC 9449): still 1 round trip — the proof is spent by the script that reads the grant; a DPoP sign-in costs what a Bearer one does', async () => {
      const key = await dpopKey();
      const htu = `${ISSUER}/oauth2/token`;
      const signInWithProof = async () =>
        request(t.app)
          .post('/oauth2/token')
          .type('form')
          .set('DPoP', await proof(key, { htm: 'POST', htu }))
          .send({ grant_type: 'password', client_id: APP.id, ...ALICE });
      const plainSignIn = await count(() => signIn(t.app), 3);
      expect(await count(signInWithProof, 3)).toBe(plainSignIn);
      const bound = (await signInWithProof()).body.access_token as string;
      const n = await count(async () => {
        const res = await request(rs)
          .get('/auth')
          .set('Host', 'rs.example')
          .set('Authorization', `DPoP ${bound}`)
          .set(
            'DPoP',
            await proof(key, { htm: 'GET', htu: 'http://rs.example/auth', accessToken: bound }),
          );
        expect(res.status).toBe(200);
      });
      expect(n).toBe(1);
      expect(new Set(seen)).toEqual(new Set(['evalsha']));
    });

    it("authenticate + requireService('scan'): 1 + one read of the token's scope definitions (no role lookup for roleCheck: false)", async () => {
      // LocalVerifier.scopeDefinitions reads every scope the token holds (here print and scan) in one MGET.
      const both = await count(async () => expect((await get('/scan', token)).status).toBe(200));
      expect(both).toBe(2);
      expect(new Set(seen)).toEqual(new Set(['hmget', 'mget']));
      const scanOnly = (await signIn(t.app, ALICE, { scope: 'scan' })).access_token;
      const one = await count(async () => expect((await get('/scan', scanOnly)).status).toBe(200));
      expect(one).toBe(2);
    });

    /** Commands seen while `run` goes, after one valid request has loaded the guard's keys. */
    async function commandsDuring(run: () => Promise<void>): Promise<string[]> {
      expect((await get('/auth', token)).status).toBe(200);
      await drained();
      seen = [];
      await run();
      await drained(); // MONITOR lines arrive asynchronously
      return seen;
    }

    it('tokens rejected before the store: garbage, a forged signature, a foreign key with our kid: 0 round trips', async () => {
      const [h, p, sig] = token.split('.') as [string, string, string];
      const kid = JSON.parse(Buffer.from(h, 'base64url').toString()).kid as string;
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      const foreign = jwt.sign(claims, privateKey, {
        algorithm: 'ES256',
        keyid: kid,
        header: { alg: 'ES256', typ: 'at+jwt' },
      });
      const flipped = `${h}.${p}.${sig.startsWith('A') ? 'B' : 'A'}${sig.slice(1)}`;
      const commands = await commandsDuring(async () => {
        for (const bad of ['garbage', 'a.b.c', flipped, foreign]) {
          for (let i = 0; i < 5; i++) expect((await get('/auth', bad)).status).toBe(401);
        }
      });
      expect(commands).toEqual([]);
    });

    it("a guard limited to tenants: another tenant's valid token is refused with 0 round trips", async () => {
      const only = createGuard({
        issuer: ISSUER,
        store: new RedisStore({ redis, prefix: 'rt5:' }),
        tenants: ['beta'],
      });
      const app = express();
      app.get('/auth', only.authenticate(), (_req, res) => void res.json({ ok: true }));
      const call = () => request(app).get('/auth').set('Authorization', `Bearer ${token}`);
      expect((await call()).status).toBe(401); // loads this guard's keys
      const commands = await commandsDuring(async () => {
        for (let i = 0; i < 5; i++) expect((await call()).status).toBe(401);
      });
      expect(commands).toEqual([]);
    });

    it('unknown kids: at most one key reload (one GET) for 10 tokens, not one per token', async () => {
      const commands = await commandsDuring(async () => {
        for (let i = 0; i < 10; i++) {
          const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
          const forged = jwt.sign({ sub: 'x' }, privateKey, {
            algorithm: 'ES256',
            keyid: `unknown-${i}`,
            header: { alg: 'ES256', typ: 'at+jwt' },
          });
          expect((await get('/auth', forged)).status).toBe(401);
        }
      });
      expect(commands.length).toBeLessThanOrEqual(1);
      for (const cmd of commands) expect(cmd).toBe('get');
    });
  });
});
