// RFC 8414 compliance of the metadata document: its members, its location (also for an issuer with a path), and that every endpoint it names answers.
import express, { type Express } from 'express';
import request from 'supertest';
import { type AuthServer, createAuthServer } from '../../lib';
import { buildApp, ISSUER, post, RS, SVC, seed, signIn, type TestApp } from '../helpers/app';
import { TEST_HASHING } from '../helpers/hashing';
import { makeStore, type TestStore } from '../helpers/stores';

const WELL_KNOWN = '/.well-known/oauth-authorization-server';

/** The path of `url` on the test app, after checking it lives at the issuer's origin. */
function pathOf(url: string): string {
  const u = new URL(url);
  expect(u.origin).toBe(new URL(ISSUER).origin);
  return u.pathname;
}

/** Call every endpoint named by `meta` and expect each to answer as documented. */
async function expectEndpointsAnswer(app: Express, meta: Record<string, unknown>): Promise<void> {
  const token = await post(
    app,
    pathOf(meta.token_endpoint as string),
    { grant_type: 'client_credentials' },
    SVC,
  );
  expect(token.status).toBe(200);
  const at = token.body.access_token as string;

  const intro = await post(app, pathOf(meta.introspection_endpoint as string), { token: at }, RS);
  expect(intro.status).toBe(200);
  expect(intro.body).toMatchObject({ active: true, client_id: SVC.id, iss: meta.issuer });

  const revoked = await post(app, pathOf(meta.revocation_endpoint as string), { token: at }, SVC);
  expect(revoked.status).toBe(200);
  expect(
    (await post(app, pathOf(meta.introspection_endpoint as string), { token: at }, RS)).body,
  ).toEqual({ active: false });

  const jwks = await request(app).get(pathOf(meta.jwks_uri as string));
  expect(jwks.status).toBe(200);
  expect(jwks.headers['content-type']).toMatch(/^application\/(jwk-set\+)?json/);
  const keys = JSON.parse(jwks.text).keys as Record<string, unknown>[];
  expect(keys.length).toBeGreaterThan(0);
  const [header] = at.split('.');
  const kid = JSON.parse(Buffer.from(header as string, 'base64url').toString()).kid;
  expect(keys.map((k) => k.kid)).toContain(kid);
}

describe('RFC 8414 authorization server metadata (MemoryStore)', () => {
  let ts: TestStore;
  let t: TestApp;
  let meta: Record<string, unknown>;

  beforeAll(async () => {
    ts = await makeStore('memory', 'rfc8414');
    t = buildApp(ts.store);
    await seed(t.auth);
    const res = await request(t.app).get(WELL_KNOWN);
    expect(res.status).toBe(200);
    meta = res.body;
  });
  afterAll(() => ts.close());

  it('§3 the metadata is served at /.well-known/oauth-authorization-server as application/json', async () => {
    const res = await request(t.app).get(WELL_KNOWN);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(res.text)).toEqual(meta);
  });

  it('§3.2 the response is a JSON object and matches auth.metadata()', () => {
    expect(typeof meta).toBe('object');
    expect(Array.isArray(meta)).toBe(false);
    expect(meta).toEqual(JSON.parse(JSON.stringify(t.auth.metadata())));
  });

  it('§2 issuer: the issuer identifier, https or localhost http, no query or fragment', () => {
    expect(meta.issuer).toBe(ISSUER);
    const u = new URL(meta.issuer as string);
    expect(u.search).toBe('');
    expect(u.hash).toBe('');
    expect(u.protocol === 'https:' || u.hostname === 'localhost').toBe(true);
  });

  it('§3.3 the issuer in the document is identical to the one the well-known URL was built from', () => {
    expect(meta.issuer).toBe(t.auth.issuer);
  });

  it('§2 REQUIRED members: issuer, token_endpoint, response_types_supported (and jwks_uri, since tokens are signed)', () => {
    expect(typeof meta.issuer).toBe('string');
    expect(typeof meta.token_endpoint).toBe('string');
    expect(Array.isArray(meta.response_types_supported)).toBe(true);
    expect(typeof meta.jwks_uri).toBe('string');
  });

  it('§2 grant_types_supported lists password, client_credentials and refresh_token', () => {
    expect([...(meta.grant_types_supported as string[])].sort()).toEqual([
      'client_credentials',
      'password',
      'refresh_token',
    ]);
  });

  it('§2 token_endpoint_auth_methods_supported: client_secret_basic, client_secret_post, none', () => {
    expect([...(meta.token_endpoint_auth_methods_supported as string[])].sort()).toEqual([
      'client_secret_basic',
      'client_secret_post',
      'none',
    ]);
  });

  it('§2 revocation_endpoint and revocation_endpoint_auth_methods_supported (RFC 7009)', () => {
    expect(typeof meta.revocation_endpoint).toBe('string');
    expect(meta.revocation_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['client_secret_basic', 'client_secret_post', 'none']),
    );
  });

  it('§2 introspection_endpoint and its auth methods (RFC 7662): no "none", callers must authenticate', () => {
    expect(typeof meta.introspection_endpoint).toBe('string');
    expect(meta.introspection_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['client_secret_basic', 'client_secret_post']),
    );
    expect(meta.introspection_endpoint_auth_methods_supported).not.toContain('none');
  });

  it('§2 every endpoint URL is an absolute URL under the issuer', () => {
    for (const key of [
      'token_endpoint',
      'revocation_endpoint',
      'introspection_endpoint',
      'jwks_uri',
    ]) {
      const url = meta[key] as string;
      expect(new URL(url).href).toBe(url);
      expect(url.startsWith(`${ISSUER}/`)).toBe(true);
    }
  });

  it('§2 every endpoint in the metadata actually answers (token, introspection, revocation, jwks)', async () => {
    await expectEndpointsAnswer(t.app, meta);
  });

  it('§2 jwks_uri publishes public keys only', async () => {
    await signIn(t.app);
    const res = await request(t.app).get(pathOf(meta.jwks_uri as string));
    for (const key of JSON.parse(res.text).keys as Record<string, unknown>[]) {
      expect(typeof key.kid).toBe('string');
      expect(typeof key.kty).toBe('string');
      for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key[priv]).toBeUndefined();
    }
  });

  it('§3 the metadata document is only answered to GET (POST → 405)', async () => {
    const res = await request(t.app).post(WELL_KNOWN).type('form').send('a=b');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET');
  });

  describe('§3.1 issuer with a path component', () => {
    const PATH_ISSUER = 'http://localhost:4000/tenant-a';
    let ps: TestStore;
    let auth: AuthServer;
    let app: Express;

    beforeAll(async () => {
      ps = await makeStore('memory', 'rfc8414-path');
      auth = createAuthServer({
        issuer: PATH_ISSUER,
        store: ps.store,
        rateLimit: false,
        passwordHashing: TEST_HASHING,
      });
      app = express();
      app.use(auth.router());
      await seed(auth);
    });
    afterAll(() => ps.close());

    it('§3.1 metadata at /.well-known/oauth-authorization-server/tenant-a (well-known segment before the path)', async () => {
      const res = await request(app).get(`${WELL_KNOWN}/tenant-a`);
      expect(res.status).toBe(200);
      expect(res.body.issuer).toBe(PATH_ISSUER);
    });

    it('§3.1 metadata also at /tenant-a/.well-known/oauth-authorization-server, the same document', async () => {
      const a = await request(app).get(`${WELL_KNOWN}/tenant-a`);
      const b = await request(app).get(`/tenant-a${WELL_KNOWN}`);
      expect(b.status).toBe(200);
      expect(b.body).toEqual(a.body);
    });

    it('§3.1 the path-less well-known URL does not serve this issuer', async () => {
      const res = await request(app).get(WELL_KNOWN);
      expect(res.status).not.toBe(200);
    });

    it('§2 endpoints live under the issuer path: token endpoint at /tenant-a/oauth2/token', async () => {
      const res = await request(app).get(`${WELL_KNOWN}/tenant-a`);
      expect(res.body.token_endpoint).toBe(`${PATH_ISSUER}/oauth2/token`);
      for (const key of [
        'token_endpoint',
        'revocation_endpoint',
        'introspection_endpoint',
        'jwks_uri',
      ]) {
        expect((res.body[key] as string).startsWith(`${PATH_ISSUER}/`)).toBe(true);
      }
      const token = await post(
        app,
        '/tenant-a/oauth2/token',
        { grant_type: 'client_credentials' },
        SVC,
      );
      expect(token.status).toBe(200);
      const claims = JSON.parse(
        Buffer.from(token.body.access_token.split('.')[1], 'base64url').toString(),
      );
      expect(claims.iss).toBe(PATH_ISSUER);
      expect(claims.aud).toBe(PATH_ISSUER);
      expect(
        (await post(app, '/oauth2/token', { grant_type: 'client_credentials' }, SVC)).status,
      ).toBe(404);
    });

    it('§2 every endpoint in the path issuer’s metadata actually answers', async () => {
      const res = await request(app).get(`/tenant-a${WELL_KNOWN}`);
      await expectEndpointsAnswer(app, res.body);
    });
  });
});
