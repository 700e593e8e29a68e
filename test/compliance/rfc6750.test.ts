// RFC 6750 bearer token usage at guarded routes, each section checked against a local-mode and a remote-mode guard.
import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import request, { type Response } from 'supertest';
import { type Guard, MemoryStore } from '../../lib';
import { APP, BOB, post, REVOKE, seed, signIn } from '../helpers/app';
import {
  guardedApp,
  type LiveAuthServer,
  localGuard,
  remoteGuard,
  seedScopes,
  startAuthServer,
} from '../helpers/guard';

const MODES = ['local', 'remote'] as const;
type Mode = (typeof MODES)[number];
const ACCESS_TOKEN_TTL = 300;
/** RFC 9449 §7.1: where Bearer and DPoP are both accepted, a request without credentials is offered both. */
const DPOP_ALGS = 'ES256 ES384 ES512 PS256 PS384 PS512 RS256 RS384 RS512';
const bareChallenge = (realm: string) =>
  `Bearer realm="${realm}", DPoP realm="${realm}", algs="${DPOP_ALGS}"`;
const BARE = bareChallenge('tokenward');

let store: MemoryStore;
let live: LiveAuthServer;
/** Alice's token with scopes print and scan (she holds role printer). */
let full: string;
/** Alice's token with scope scan only. */
let scanOnly: string;
/** Bob's token with print and scan, but Bob holds no role. */
let bobs: string;
const guards = {} as Record<Mode, Guard>;
const apps = {} as Record<Mode, Express>;
const servers: Server[] = [];

beforeAll(async () => {
  store = new MemoryStore();
  live = await startAuthServer(store, { accessTokenTtl: ACCESS_TOKEN_TTL });
  await seed(live.auth);
  await seedScopes(live.auth);
  full = (await signIn(live.app)).access_token;
  scanOnly = (await signIn(live.app, undefined, { scope: 'scan' })).access_token;
  bobs = (await signIn(live.app, BOB)).access_token;
  guards.local = localGuard(live.issuer, store);
  guards.remote = remoteGuard(live.issuer);
  for (const mode of MODES) apps[mode] = guardedApp(guards[mode]);
});

afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  await live.close();
  await store.close();
});

const guardFor = (mode: Mode, extra: { realm?: string } = {}) =>
  mode === 'local' ? localGuard(live.issuer, store, extra) : remoteGuard(live.issuer, {}, extra);

/** GET `path` on the mode's guarded app with `authorization` (none when undefined). */
function get(mode: Mode, path: string, authorization?: string): PromiseLike<Response> {
  const req = request(apps[mode]).get(path);
  if (authorization !== undefined) req.set('Authorization', authorization);
  return req;
}

/** The auth-params of a Bearer challenge. */
function challenge(header: string | undefined): Record<string, string> {
  expect(header).toMatch(/^Bearer /);
  const params: Record<string, string> = {};
  for (const m of (header ?? '').matchAll(/([a-z_]+)="([^"]*)"/g))
    if (m[1] !== undefined && m[2] !== undefined) params[m[1]] = m[2];
  return params;
}

/** A non-bare guard error: status, a challenge with `error`, and the JSON body RFC 6749 §5.2 style. */
function expectError(res: Response, status: number, error: string): Record<string, string> {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body).toEqual({ error, error_description: expect.any(String) });
  expect(res.body.error_description.length).toBeGreaterThan(0);
  expect(res.headers['cache-control']).toBe('no-store');
  const params = challenge(res.headers['www-authenticate']);
  expect(params.realm).toBe('tokenward');
  expect(params.error).toBe(error);
  return params;
}

/** The bare 401 of §3.1 for a request without authentication information. */
function expectBare(res: Response, realm = 'tokenward'): void {
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toBe(bareChallenge(realm));
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body).not.toHaveProperty('error');
  expect(res.headers['cache-control']).toBe('no-store');
}

function expectOk(res: Response): void {
  expect(res.status).toBe(200);
  expect(res.body.token).toEqual(expect.any(String));
  expect(res.headers['www-authenticate']).toBeUndefined();
}

/** Listen on a free loopback port; closed in afterAll. */
async function listen(app: Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** GET with headers set through node:http, so a header may be sent several times. */
function rawGet(
  url: string,
  headers: Record<string, string | string[]>,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', agent: false });
    for (const [name, value] of Object.entries(headers)) req.setHeader(name, value);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('§2.1 Authorization Request Header Field', () => {
  describe.each(MODES)('%s guard', (mode) => {
    it('credentials = "Bearer" 1*SP b64token: a valid token is admitted', async () => {
      expectOk(await get(mode, '/me', `Bearer ${full}`));
    });

    it('the auth-scheme is case-insensitive (RFC 7235 §2.1): "bearer" and "BEARER" work', async () => {
      expectOk(await get(mode, '/me', `bearer ${full}`));
      expectOk(await get(mode, '/me', `BEARER ${full}`));
    });

    it('1*SP: several spaces between "Bearer" and the token are allowed', async () => {
      const res = await get(mode, '/me', `Bearer    ${full}`);
      expectOk(res);
      expect(res.body.token).toBe(full);
    });

    it('b64token allows trailing "=" padding: a padded unknown token is invalid_token (401), not malformed', async () => {
      expectError(await get(mode, '/me', 'Bearer bm90LWEtdG9rZW4=='), 401, 'invalid_token');
      expectError(await get(mode, '/me', 'Bearer A-._~+/z='), 401, 'invalid_token');
    });

    it('b64token allows "=" only at the end: "=" inside the token is malformed (400)', async () => {
      expectError(await get(mode, '/me', 'Bearer abc=def'), 400, 'invalid_request');
    });

    it('b64token = 1*( … ): an empty token ("Bearer" alone) is malformed → 400 invalid_request', async () => {
      expectError(await get(mode, '/me', 'Bearer'), 400, 'invalid_request');
      expectError(await get(mode, '/me', 'Bearer '), 400, 'invalid_request');
    });

    it.each([
      ['a space', (t: string) => `${t.slice(0, 20)} ${t.slice(20)}`],
      ['a comma', (t: string) => `${t},x`],
      ['a double quote', (t: string) => `"${t}"`],
      ['a percent escape', (t: string) => `${t}%3D`],
      ['an auth-param', (t: string) => `token="${t}"`],
      ['a Latin-1 letter', (t: string) => `${t}é`],
    ])('a token with %s (outside b64token) → 400 invalid_request', async (_name, mangle) => {
      expectError(await get(mode, '/me', `Bearer ${mangle(full)}`), 400, 'invalid_request');
    });

    it('§3.1 invalid_request "repeats the same parameter": two Authorization headers → 400', async () => {
      const url = await listen(apps[mode]);
      const res = await rawGet(`${url}/me`, {
        Authorization: [`Bearer ${full}`, `Bearer ${full}`],
      });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toEqual({
        error: 'invalid_request',
        error_description: expect.any(String),
      });
      expect(challenge(res.headers['www-authenticate']).error).toBe('invalid_request');
      expect(res.headers['cache-control']).toBe('no-store');
      const mixed = await rawGet(`${url}/me`, {
        Authorization: ['Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=', `Bearer ${full}`],
      });
      expect(mixed.status).toBe(400);
      // Control: the same token in one header is admitted through the same path.
      expect((await rawGet(`${url}/me`, { Authorization: `Bearer ${full}` })).status).toBe(200);
    });
  });
});

describe('§2.2 Form-Encoded Body Parameter (not supported: Authorization header only)', () => {
  describe.each(MODES)('%s guard', (mode) => {
    it('§3.1 invalid_request "uses more than one method": access_token in a form body beside a valid header → 400', async () => {
      const res = await request(apps[mode])
        .post('/me')
        .set('Authorization', `Bearer ${full}`)
        .type('form')
        .send({ access_token: full });
      expectError(res, 400, 'invalid_request');
    });

    it('"resource servers MAY support this method"; tokenward does not: a form-body access_token alone → 400 invalid_request, not a bare 401', async () => {
      const res = await request(apps[mode]).post('/me').type('form').send({ access_token: full });
      expectError(res, 400, 'invalid_request');
    });

    it('"the entity-body is single-part" form only; a JSON body access_token beside a valid header is refused too → 400 invalid_request', async () => {
      const res = await request(apps[mode])
        .post('/me')
        .set('Authorization', `Bearer ${full}`)
        .send({ access_token: full });
      expectError(res, 400, 'invalid_request');
    });

    it('only the access_token parameter is refused: the same POST with other body members is admitted', async () => {
      const res = await request(apps[mode])
        .post('/me')
        .set('Authorization', `Bearer ${full}`)
        .type('form')
        .send({ note: 'hello' });
      expectOk(res);
    });
  });
});

describe('§2.3 URI Query Parameter (not supported: Authorization header only)', () => {
  describe.each(MODES)('%s guard', (mode) => {
    it('§3.1 invalid_request "uses more than one method": ?access_token= beside a valid header → 400', async () => {
      expectError(
        await get(mode, `/me?access_token=${full}`, `Bearer ${full}`),
        400,
        'invalid_request',
      );
    });

    it('"resource servers MAY support this method"; tokenward does not: ?access_token= alone → 400 invalid_request', async () => {
      expectError(await get(mode, `/me?access_token=${full}`), 400, 'invalid_request');
    });

    it('only the access_token query parameter is refused: other parameters are admitted', async () => {
      expectOk(await get(mode, '/me?page=2&token_hint=x', `Bearer ${full}`));
    });
  });
});

describe('§3 The WWW-Authenticate Response Header Field', () => {
  describe.each(MODES)('%s guard', (mode) => {
    it('§3.1 "if the request lacks any authentication information … SHOULD NOT include an error code": no credentials → 401, exactly Bearer realm="tokenward"', async () => {
      const res = await get(mode, '/me');
      expectBare(res);
      expect(res.headers['www-authenticate']).toBe(BARE);
    });

    it('§3.1 "attempted using an unsupported authentication method": Basic → the same bare 401', async () => {
      expectBare(await get(mode, '/me', 'Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ='));
      expectBare(await get(mode, '/me', 'Digest username="alice"'));
    });

    it('§3 "the resource server MUST include the HTTP WWW-Authenticate response header field": every guarded route challenges', async () => {
      for (const path of ['/print', '/scan', '/scope/print', '/scope/print-scan'])
        expectBare(await get(mode, path));
    });

    it('§3.1 invalid_token "expired, revoked, malformed, or invalid for other reasons" → 401 error="invalid_token"', async () => {
      const res = await get(mode, '/me', 'Bearer not-a-jwt');
      const params = expectError(res, 401, 'invalid_token');
      expect(params.error_description).toBe(res.body.error_description);
      expect(params.scope).toBeUndefined();
    });

    it('§3 the challenge is readable cross-origin: WWW-Authenticate is in Access-Control-Expose-Headers', async () => {
      for (const res of [await get(mode, '/me', 'Bearer not-a-jwt'), await get(mode, '/me')])
        expect(res.headers['access-control-expose-headers']).toBe('WWW-Authenticate');
    });

    it('§3.1 invalid_token: a revoked token → 401 error="invalid_token"', async () => {
      const token = (await signIn(live.app)).access_token;
      expectOk(await get(mode, '/me', `Bearer ${token}`));
      const rev = await post(live.app, REVOKE, { token, client_id: APP.id });
      expect(rev.status).toBe(200);
      expectError(await get(mode, '/me', `Bearer ${token}`), 401, 'invalid_token');
    });

    it('§3.1 invalid_request "otherwise malformed" → 400 error="invalid_request"', async () => {
      const params = expectError(await get(mode, '/me', 'Bearer a b'), 400, 'invalid_request');
      expect(params.scope).toBeUndefined();
    });

    it('§3.1 insufficient_scope → 403 with scope="..." naming the scope needed (requireScope)', async () => {
      const one = expectError(
        await get(mode, '/scope/print', `Bearer ${scanOnly}`),
        403,
        'insufficient_scope',
      );
      expect(one.scope).toBe('print');
      const two = expectError(
        await get(mode, '/scope/print-scan', `Bearer ${scanOnly}`),
        403,
        'insufficient_scope',
      );
      expect(two.scope).toBe('print scan');
      expectOk(await get(mode, '/scope/print-scan', `Bearer ${full}`));
    });

    it('§3.1 insufficient_scope with scope="..." for requireService: no scope for the service, or no role for it', async () => {
      const noScope = expectError(
        await get(mode, '/print', `Bearer ${scanOnly}`),
        403,
        'insufficient_scope',
      );
      expect(noScope.scope).toBe('print');
      const noRole = expectError(
        await get(mode, '/print', `Bearer ${bobs}`),
        403,
        'insufficient_scope',
      );
      expect(noRole.scope).toBe('print');
      expectOk(await get(mode, '/print', `Bearer ${full}`));
      expectOk(await get(mode, '/scan', `Bearer ${bobs}`));
    });

    it('§3 "auth-param attributes MUST NOT appear more than once"; the challenge is realm first, then error', async () => {
      const res = await get(mode, '/scope/print', `Bearer ${scanOnly}`);
      const header = res.headers['www-authenticate'] as string;
      expect(header).toMatch(/^Bearer realm="tokenward", error="insufficient_scope"/);
      for (const name of ['realm', 'error', 'error_description', 'scope'])
        expect(header.split(`${name}="`).length).toBe(2);
    });

    it('§3 "a realm attribute MAY be included": the realm option changes it in every challenge', async () => {
      const app = guardedApp(guardFor(mode, { realm: 'Cloud Print (acme)' }));
      const bare = await request(app).get('/me');
      expectBare(bare, 'Cloud Print (acme)');
      const bad = await request(app).get('/me').set('Authorization', 'Bearer not-a-jwt');
      expect(bad.status).toBe(401);
      expect(bad.headers['www-authenticate']).toMatch(
        /^Bearer realm="Cloud Print \(acme\)", error="invalid_token"/,
      );
      const scope = await request(app)
        .get('/scope/print')
        .set('Authorization', `Bearer ${scanOnly}`);
      expect(scope.status).toBe(403);
      expect(challenge(scope.headers['www-authenticate']).realm).toBe('Cloud Print (acme)');
    });

    it('§3.1 every error that is not the bare challenge has a JSON body with error and error_description', async () => {
      const cases: [string, string | undefined, number, string][] = [
        ['/me', 'Bearer not-a-jwt', 401, 'invalid_token'],
        ['/me', 'Bearer', 400, 'invalid_request'],
        ['/me?access_token=x', undefined, 400, 'invalid_request'],
        ['/scope/print', `Bearer ${scanOnly}`, 403, 'insufficient_scope'],
        ['/print', `Bearer ${bobs}`, 403, 'insufficient_scope'],
      ];
      for (const [path, authorization, status, error] of cases) {
        const res = await get(mode, path, authorization);
        expectError(res, status, error);
        expect(Object.keys(res.body).sort()).toEqual(['error', 'error_description']);
      }
    });

    it('§3 error responses are not cached (Cache-Control: no-store, as RFC 6749 §5.1 token responses): 400, 401 (bare too), 403', async () => {
      const answers = await Promise.all([
        get(mode, '/me'),
        get(mode, '/me', 'Bearer'),
        get(mode, '/me', 'Bearer not-a-jwt'),
        get(mode, '/scope/print', `Bearer ${scanOnly}`),
      ]);
      expect(answers.map((r) => r.status)).toEqual([401, 400, 401, 403]);
      for (const res of answers) expect(res.headers['cache-control']).toBe('no-store');
    });
  });
});

describe('renewal hint: Token-Expires-In on every guarded response', () => {
  describe.each(MODES)('%s guard', (mode) => {
    it('present on success, whole seconds, at most accessTokenTtl and close to it for a fresh token', async () => {
      const token = (await signIn(live.app)).access_token;
      for (const path of ['/me', '/scan', '/scope/print']) {
        const res = await get(mode, path, `Bearer ${token}`);
        expectOk(res);
        const value = res.headers['token-expires-in'] as string;
        expect(value).toMatch(/^\d+$/);
        expect(Number(value)).toBeLessThanOrEqual(ACCESS_TOKEN_TTL);
        expect(Number(value)).toBeGreaterThan(ACCESS_TOKEN_TTL - 30);
        expect(res.body.expiresAt - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(
          Number(value) + 1,
        );
      }
    });

    it('listed in Access-Control-Expose-Headers so cross-origin callers can read it', async () => {
      const res = await get(mode, '/me', `Bearer ${full}`);
      expectOk(res);
      const exposed = String(res.headers['access-control-expose-headers'])
        .split(/\s*,\s*/)
        .map((h) => h.toLowerCase());
      expect(exposed).toContain('token-expires-in');
    });

    it('merged with an expose list set by an earlier middleware', async () => {
      const guard = guards[mode];
      const app = express();
      app.use((_req, res, next) => {
        res.setHeader('Access-Control-Expose-Headers', 'X-Foo');
        next();
      });
      app.get('/me', guard.authenticate(), (_req, res) => {
        res.json({ ok: true });
      });
      const res = await request(app).get('/me').set('Authorization', `Bearer ${full}`);
      expect(res.status).toBe(200);
      expect(res.headers['access-control-expose-headers']).toBe('X-Foo, Token-Expires-In');
      expect(res.headers['token-expires-in']).toMatch(/^\d+$/);
    });

    it('not listed twice, and "*" left alone', async () => {
      const guard = guards[mode];
      const app = express();
      app.get(
        '/listed',
        (_req, res, next) => {
          res.setHeader('Access-Control-Expose-Headers', 'token-expires-in, X-Foo');
          next();
        },
        guard.authenticate(),
        (_req, res) => {
          res.json({ ok: true });
        },
      );
      app.get(
        '/star',
        (_req, res, next) => {
          res.setHeader('Access-Control-Expose-Headers', '*');
          next();
        },
        guard.authenticate(),
        (_req, res) => {
          res.json({ ok: true });
        },
      );
      const listed = await request(app).get('/listed').set('Authorization', `Bearer ${full}`);
      expect(listed.headers['access-control-expose-headers']).toBe('token-expires-in, X-Foo');
      const star = await request(app).get('/star').set('Authorization', `Bearer ${full}`);
      expect(star.headers['access-control-expose-headers']).toBe('*');
      expect(star.headers['token-expires-in']).toMatch(/^\d+$/);
    });
  });
});
