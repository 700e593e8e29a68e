// Interop: express-oauth2-jwt-bearer (an independent resource-server library) in DPoP mode
// (RFC 9449 §7) accepts tokenward's bound access tokens with proofs made by jose, and refuses
// them as Bearer tokens or with a proof of another key; tokenward's own guard agrees.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { auth as jwtBearer } from 'express-oauth2-jwt-bearer';
import { decodeJwt } from 'jose';
import { createGuard, MemoryStore } from '../../lib';
import { ALICE, APP, seed } from '../helpers/app';
import { type DpopKey, dpopKey, proof } from '../helpers/dpop';
import { guardedApp, type LiveAuthServer, startAuthServer } from '../helpers/guard';

const AUDIENCE = 'https://print.example/api';

let live: LiveAuthServer;
let store: MemoryStore;
let rs: { server: Server; url: string };

/**
 * The resource server: express-oauth2-jwt-bearer with DPoP required (/jwt/required/me) and with
 * DPoP accepted beside Bearer (/jwt/allowed/me), strict RFC 9068 checks in both; tokenward's own
 * guards under /tw/required and /tw/allowed.
 */
function resourceServer(): express.Express {
  const app = express();
  const me: express.RequestHandler = (req, res) => {
    // express-oauth2-jwt-bearer's req.auth (tokenward's augmentation names another type).
    const { payload } = (req as unknown as { auth: { payload: Record<string, unknown> } }).auth;
    res.json({ sub: payload.sub, cnf: payload.cnf });
  };
  for (const required of [true, false]) {
    app.get(
      `/jwt/${required ? 'required' : 'allowed'}/me`,
      jwtBearer({
        issuerBaseURL: live.issuer,
        audience: AUDIENCE,
        strict: true,
        dpop: { enabled: true, required },
      }),
      me,
    );
  }
  const onError: express.ErrorRequestHandler = (err, _req, res, _next) => {
    res
      .status(err.status ?? 500)
      .set(err.headers ?? {})
      .json({ error: err.code, message: err.message });
  };
  app.use('/jwt', onError);
  for (const mode of ['required', 'allowed'] as const)
    app.use(
      `/tw/${mode}`,
      guardedApp(createGuard({ issuer: live.issuer, store, audience: AUDIENCE, dpop: mode })),
    );
  return app;
}

beforeAll(async () => {
  store = new MemoryStore();
  live = await startAuthServer(store, { audience: AUDIENCE });
  await seed(live.auth);
  const server = createServer(resourceServer());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  rs = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
});
afterAll(async () => {
  rs.server.closeAllConnections();
  await new Promise((resolve) => rs.server.close(resolve));
  await live.close();
  await store.close();
});

/** Password sign-in through the public `app` client with a jose-made proof of `key`. */
async function boundToken(key: DpopKey): Promise<string> {
  const url = `${live.issuer}/oauth2/token`;
  const res = await fetch(url, {
    method: 'POST',
    headers: { DPoP: await proof(key, { htm: 'POST', htu: url }) },
    body: new URLSearchParams({ grant_type: 'password', client_id: APP.id, ...ALICE }),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(body)}`);
  expect(body.token_type).toBe('DPoP');
  return body.access_token;
}

/** GET `path` of the resource server with the token as DPoP (a fresh proof of `key`) or Bearer. */
async function get(path: string, token: string, key?: DpopKey) {
  const url = `${rs.url}${path}`;
  const headers: Record<string, string> = key
    ? {
        Authorization: `DPoP ${token}`,
        DPoP: await proof(key, { htm: 'GET', htu: url, accessToken: token }),
      }
    : { Authorization: `Bearer ${token}` };
  const res = await fetch(url, { headers });
  return {
    status: res.status,
    body: await res.json(),
    challenge: res.headers.get('www-authenticate'),
  };
}

// Proof keys of each kind tokenward accepts: its RFC 7638 thumbprint (cnf.jkt) must be jose's.
describe.each(['ES256', 'ES384', 'ES512', 'PS256', 'RS256'])('proofs signed %s', (alg) => {
  let key: DpopKey;
  let token: string;
  beforeAll(async () => {
    key = await dpopKey(alg);
    token = await boundToken(key);
    expect(decodeJwt(token).cnf).toEqual({ jkt: key.jkt });
  });

  it.each(['required', 'allowed'])(
    'express-oauth2-jwt-bearer, DPoP %s: accepts the bound token with a jose proof of its key',
    async (mode) => {
      const res = await get(`/jwt/${mode}/me`, token, key);
      expect(res).toMatchObject({
        status: 200,
        body: { sub: ALICE.username, cnf: { jkt: key.jkt } },
      });
    },
  );

  it.each(['required', 'allowed'])(
    'tokenward guard, DPoP %s: accepts the same token with a jose proof',
    async (mode) => {
      const res = await get(`/tw/${mode}/me`, token, key);
      expect(res).toMatchObject({ status: 200, body: { subject: ALICE.username } });
    },
  );

  it('both refuse the bound token as a Bearer token (RFC 9449 §7.2)', async () => {
    // express-oauth2-jwt-bearer requiring DPoP refuses any Bearer request as invalid_request
    // (400); accepting both, it names the downgrade: invalid_token.
    expect(await get('/jwt/required/me', token)).toMatchObject({
      status: 400,
      challenge: expect.stringMatching(/^DPoP algs="/),
    });
    expect(await get('/jwt/allowed/me', token)).toMatchObject({
      status: 401,
      body: { error: 'invalid_token' },
      challenge: expect.stringMatching(/^Bearer .*error="invalid_token"/),
    });
    expect(await get('/tw/required/me', token)).toMatchObject({
      status: 401,
      body: { error: 'invalid_token' },
      challenge: expect.stringMatching(/^DPoP .*error="invalid_token"/),
    });
    expect(await get('/tw/allowed/me', token)).toMatchObject({
      status: 401,
      body: { error: 'invalid_token' },
      challenge: expect.stringMatching(/^Bearer .*error="invalid_token"/),
    });
  });

  it('both refuse the bound token with a proof of another key', async () => {
    const other = await dpopKey(alg);
    for (const mode of ['required', 'allowed']) {
      // express-oauth2-jwt-bearer calls a key mismatch invalid_token, tokenward invalid_dpop_proof.
      expect(await get(`/jwt/${mode}/me`, token, other)).toMatchObject({
        status: 401,
        body: { error: 'invalid_token', message: expect.stringMatching(/confirmation mismatch/) },
      });
      expect(await get(`/tw/${mode}/me`, token, other)).toMatchObject({
        status: 401,
        body: { error: 'invalid_dpop_proof' },
        challenge: expect.stringMatching(/^DPoP .*error="invalid_dpop_proof"/),
      });
    }
  });
});

describe('proof edge cases, the same proof sent to both', () => {
  let key: DpopKey;
  let token: string;
  beforeAll(async () => {
    key = await dpopKey();
    token = await boundToken(key);
  });

  /** One request per resource server, each with its own proof of `key` made by `claims(url)`. */
  async function both(claims: (url: string) => Parameters<typeof proof>[1]) {
    const answers: Record<string, { status: number; error?: string }> = {};
    for (const path of ['/jwt/required/me', '/tw/required/me']) {
      const url = `${rs.url}${path}`;
      const res = await fetch(url, {
        headers: { Authorization: `DPoP ${token}`, DPoP: await proof(key, claims(url)) },
      });
      const body = await res.json();
      answers[path.split('/')[1] as string] = { status: res.status, error: body.error };
    }
    return answers;
  }
  const ok = (url: string) => ({ htm: 'GET', htu: url, accessToken: token });
  const bothRefuse = {
    // express-oauth2-jwt-bearer answers a bad proof 400, tokenward 401 with a DPoP challenge.
    jwt: { status: 400, error: 'invalid_dpop_proof' },
    tw: { status: 401, error: 'invalid_dpop_proof' },
  };

  it('both compare htu without query and fragment, the scheme case-insensitively (RFC 9449 §4.3, RFC 3986 §6.2.2.1)', async () => {
    const accepted = { jwt: { status: 200 }, tw: { status: 200 } };
    expect(await both((url) => ({ ...ok(url), htu: `${url}?page=2#top` }))).toEqual(accepted);
    expect(await both((url) => ({ ...ok(url), htu: url.replace('http://', 'HTTP://') }))).toEqual(
      accepted,
    );
  });

  it('both refuse a proof for another URL, an old proof, no jti, ath of another token, a private jwk', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await both((url) => ({ ...ok(url), htu: `${url}/other` }))).toEqual(bothRefuse);
    // Older than either library's limit (tokenward 60 s by default, express-oauth2-jwt-bearer 300 s).
    expect(await both((url) => ({ ...ok(url), iat: now - 400 }))).toEqual(bothRefuse);
    expect(await both((url) => ({ ...ok(url), extra: { jti: undefined } }))).toEqual(bothRefuse);
    expect(await both((url) => ({ ...ok(url), accessToken: `${token}x` }))).toEqual(bothRefuse);
    expect(
      await both((url) => ({ ...ok(url), header: { jwk: { ...key.publicJwk, d: 'AAAA' } } })),
    ).toEqual(bothRefuse);
  });
});
