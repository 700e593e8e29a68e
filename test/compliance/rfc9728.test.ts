// RFC 9728 protected-resource metadata: the document guard.router() serves, where it lives, and the
// resource_metadata parameter of a guard's challenges (local and remote mode).
import express, { type Express } from 'express';
import request, { type Response } from 'supertest';
import { ConfigError, type Guard, MemoryStore } from '../../lib';
import { metadataLocation } from '../../lib/guard/resource-metadata';
import { ALICE, post, SVC, seed, signIn, TOKEN } from '../helpers/app';
import { testClock } from '../helpers/clock';
import {
  type LiveAuthServer,
  localGuard,
  remoteGuard,
  seedScopes,
  startAuthServer,
} from '../helpers/guard';

const WELL_KNOWN = '/.well-known/oauth-protected-resource';
const PRINT = 'https://print.example';
const SCAN = 'https://api.example/scan';

let store: MemoryStore;
let live: LiveAuthServer;
const clock = testClock();

beforeAll(async () => {
  store = new MemoryStore();
  live = await startAuthServer(store, { clock });
  await seed(live.auth);
  await seedScopes(live.auth);
  await live.auth.admin.upsertScope({ name: 'print:color', service: 'print', roleCheck: false });
  await live.auth.admin.upsertResource({ uri: PRINT, services: ['print'], name: 'Cloud Print' });
  await live.auth.admin.upsertResource({ uri: SCAN, services: ['scan'] });
});
afterAll(async () => {
  await live.close();
  await store.close();
});

/** A resource server: the guard's router at the root, and a guarded route needing service print. */
function resourceServer(guard: Guard, router = true): Express {
  const app = express();
  if (router) app.use(guard.router());
  app.get('/jobs', guard.authenticate(), guard.requireService('print'), (req, res) => {
    res.json({ client: req.auth?.clientId });
  });
  return app;
}

const local = (audience: string, extra = {}) =>
  localGuard(live.issuer, store, { audience, clock, ...extra });
const remote = (audience: string, extra = {}) =>
  remoteGuard(live.issuer, {}, { audience, clock, ...extra });

/** The auth-params of a Bearer challenge. */
function challenge(res: Response): Record<string, string> {
  const header = res.headers['www-authenticate'] as string | undefined;
  expect(header).toMatch(/^Bearer /);
  const params: Record<string, string> = {};
  for (const m of (header ?? '').matchAll(/([a-z_]+)="([^"]*)"/g))
    if (m[1] !== undefined && m[2] !== undefined) params[m[1]] = m[2];
  return params;
}

/** RFC 9728 §2 with RFC 9449: the proof algorithms guards accept; Bearer tokens too by default. */
const DPOP_FIELDS = {
  dpop_signing_alg_values_supported: [
    'ES256',
    'ES384',
    'ES512',
    'PS256',
    'PS384',
    'PS512',
    'RS256',
    'RS384',
    'RS512',
  ],
  dpop_bound_access_tokens_required: false,
};

describe('RFC 9728 §2 the metadata document', () => {
  it('§2 local mode, registered resource: resource, authorization_servers, scopes_supported of its services, bearer_methods_supported, resource_name', async () => {
    const res = await request(resourceServer(local(PRINT))).get(WELL_KNOWN);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toStrictEqual({
      resource: PRINT,
      authorization_servers: [live.issuer],
      scopes_supported: ['print', 'print:color'],
      bearer_methods_supported: ['header'],
      resource_name: 'Cloud Print',
      ...DPOP_FIELDS,
    });
  });

  it('§2 "scopes_supported" (RECOMMENDED) is left out when the guard cannot know it: an unregistered resource, and remote mode by default', async () => {
    const unregistered = await request(resourceServer(local('https://fax.example'))).get(
      WELL_KNOWN,
    );
    expect(unregistered.body).toStrictEqual({
      resource: 'https://fax.example',
      authorization_servers: [live.issuer],
      bearer_methods_supported: ['header'],
      ...DPOP_FIELDS,
    });
    const viaIntrospection = await request(resourceServer(remote(PRINT))).get(WELL_KNOWN);
    expect(viaIntrospection.body).toStrictEqual({
      resource: PRINT,
      authorization_servers: [live.issuer],
      bearer_methods_supported: ['header'],
      ...DPOP_FIELDS,
    });
  });

  it('§2 the resourceMetadata option gives scopes_supported and resource_name in either mode, over the registry', async () => {
    const resourceMetadata = { scopesSupported: ['print'], resourceName: 'Print (EU)' };
    for (const guard of [local(PRINT, { resourceMetadata }), remote(PRINT, { resourceMetadata })]) {
      const res = await request(resourceServer(guard)).get(WELL_KNOWN);
      expect(res.body).toMatchObject({ scopes_supported: ['print'], resource_name: 'Print (EU)' });
    }
  });

  it('§2 "bearer_methods_supported": header only — the guard refuses a token in the query (RFC 6750 §2.3)', async () => {
    const app = resourceServer(local(PRINT));
    expect((await request(app).get(WELL_KNOWN)).body.bearer_methods_supported).toEqual(['header']);
    const token = (await post(live.app, TOKEN, { grant_type: 'client_credentials' }, SVC)).body
      .access_token as string;
    expect((await request(app).get('/jobs').query({ access_token: token })).status).toBe(400);
  });

  it('§2 local mode reads the registry again once its copy is a minute old', async () => {
    const uri = 'https://fresh.example';
    await live.auth.admin.upsertResource({ uri, services: ['scan'] });
    const app = resourceServer(local(uri));
    expect((await request(app).get(WELL_KNOWN)).body.scopes_supported).toEqual(['scan']);
    await live.auth.admin.upsertResource({ uri, services: ['print'], name: 'Fresh' });
    expect((await request(app).get(WELL_KNOWN)).body.scopes_supported).toEqual(['scan']);
    clock.advance(61_000);
    const later = await request(app).get(WELL_KNOWN);
    expect(later.body.scopes_supported).toEqual(['print', 'print:color']);
    expect(later.body.resource_name).toBe('Fresh');
    expect(later.headers['cache-control']).toBe('public, max-age=60');
  });
});

describe('RFC 9728 §3 where the document lives', () => {
  it('§3 a resource without a path: GET /.well-known/oauth-protected-resource', () => {
    expect(metadataLocation(PRINT)).toEqual({
      url: `${PRINT}${WELL_KNOWN}`,
      paths: [WELL_KNOWN],
    });
    // §3.1: a terminating slash after the host is removed before the well-known path goes in.
    expect(metadataLocation(`${PRINT}/`)?.url).toBe(`${PRINT}${WELL_KNOWN}`);
    expect(metadataLocation('http://localhost:4100')?.url).toBe(
      `http://localhost:4100${WELL_KNOWN}`,
    );
  });

  it('§3.1 a resource with a path: the well-known path goes between the host and the path', async () => {
    expect(metadataLocation(SCAN)?.url).toBe(`https://api.example${WELL_KNOWN}/scan`);
    const app = resourceServer(local(SCAN));
    const res = await request(app).get(`${WELL_KNOWN}/scan`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ resource: SCAN, scopes_supported: ['scan'] });
    // The bare well-known path answers too, for clients that only know the host.
    expect((await request(app).get(WELL_KNOWN)).body.resource).toBe(SCAN);
    expect((await request(app).get(`${WELL_KNOWN}/other`)).status).toBe(404);
  });

  it('§3.3 "resource" is identical to the resource identifier the metadata URL was built from', async () => {
    for (const uri of [PRINT, SCAN, 'https://api.example/a/b%20c', 'http://localhost:4100/x']) {
      const where = metadataLocation(uri);
      expect(where).toBeDefined();
      const path = new URL(where?.url ?? '').pathname;
      const res = await request(resourceServer(local(uri))).get(path);
      expect(res.status).toBe(200);
      expect(res.body.resource).toBe(uri);
    }
  });

  it('§3.1 "MUST be queried using an HTTP GET": other methods → 405 with Allow', async () => {
    const res = await request(resourceServer(local(PRINT))).post(WELL_KNOWN);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(res.body.error).toBe('invalid_request');
    expect((await request(resourceServer(local(PRINT))).head(WELL_KNOWN)).status).toBe(200);
  });

  it('§1.2 a guard whose audience is not a resource identifier (https URL, no query or fragment) has no router: ConfigError at start-up', () => {
    for (const audience of [
      'print-api',
      'ftp://print.example',
      `${PRINT}?a=1`,
      `${PRINT}#x`,
      'http://print.example',
    ])
      expect(() => local(audience).router()).toThrow(ConfigError);
    expect(() => local(PRINT).router()).not.toThrow();
  });

  it('the router serves nothing when mounted under a path: the document lives at the root', async () => {
    const app = express();
    app.use('/api', local(PRINT).router());
    expect((await request(app).get(`/api${WELL_KNOWN}`)).status).toBe(404);
  });
});

describe.each(['local', 'remote'] as const)(
  'RFC 9728 §5.1 resource_metadata in WWW-Authenticate (%s mode)',
  (mode) => {
    const URL_OF_PRINT = `${PRINT}${WELL_KNOWN}`;
    let app: Express;
    let withoutRouter: Express;
    beforeAll(() => {
      const make = mode === 'local' ? local : remote;
      app = resourceServer(make(PRINT));
      withoutRouter = resourceServer(make(PRINT), false);
    });

    it('§5.1 a request without a token: 401 Bearer realm=…, resource_metadata="<URL of the document>"', async () => {
      const res = await request(app).get('/jobs');
      expect(res.status).toBe(401);
      // Bearer (RFC 6750) and DPoP (RFC 9449 §7.1) are both accepted: both are offered.
      expect(res.headers['www-authenticate']).toBe(
        `Bearer realm="tokenward", resource_metadata="${URL_OF_PRINT}", DPoP realm="tokenward", resource_metadata="${URL_OF_PRINT}", algs="ES256 ES384 ES512 PS256 PS384 PS512 RS256 RS384 RS512"`,
      );
    });

    it('§5.1 invalid_token (here: a token for another audience) names it too', async () => {
      const other = (await post(live.app, TOKEN, { grant_type: 'client_credentials' }, SVC)).body
        .access_token as string;
      const res = await request(app).get('/jobs').set('Authorization', `Bearer ${other}`);
      expect(res.status).toBe(401);
      expect(challenge(res)).toMatchObject({
        error: 'invalid_token',
        resource_metadata: URL_OF_PRINT,
      });
    });

    it('§5.1 insufficient_scope (403) and invalid_request (400) name it too', async () => {
      // Bob holds no role: his print token fails the role check.
      const bob = await signIn(
        live.app,
        { username: 'bob', password: 'bob-password' },
        {
          resource: PRINT,
        },
      );
      const denied = await request(app)
        .get('/jobs')
        .set('Authorization', `Bearer ${bob.access_token}`);
      expect(denied.status).toBe(403);
      expect(challenge(denied)).toMatchObject({
        error: 'insufficient_scope',
        resource_metadata: URL_OF_PRINT,
      });
      const malformed = await request(app).get('/jobs').set('Authorization', 'Bearer a b');
      expect(malformed.status).toBe(400);
      expect(challenge(malformed).resource_metadata).toBe(URL_OF_PRINT);
    });

    it('§5.1 the client follows it: the document names the authorization server, where a token for this resource admits', async () => {
      const first = await request(app).get('/jobs');
      const where = new URL(challenge(first).resource_metadata ?? '');
      const doc = (await request(app).get(where.pathname)).body;
      expect(doc.resource).toBe(PRINT);
      expect(doc.authorization_servers).toEqual([live.issuer]);
      const s = await signIn(live.app, ALICE, { resource: doc.resource });
      const ok = await request(app).get('/jobs').set('Authorization', `Bearer ${s.access_token}`);
      expect(ok.status).toBe(200);
    });

    it('a guard that serves no metadata (no router) names none: its challenges are plain RFC 6750', async () => {
      const res = await request(withoutRouter).get('/jobs');
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="tokenward", DPoP realm="tokenward", algs="ES256 ES384 ES512 PS256 PS384 PS512 RS256 RS384 RS512"',
      );
    });
  },
);

describe('bad input at the metadata location', () => {
  it('hostile paths and queries change nothing and never 500', async () => {
    const app = resourceServer(local(PRINT));
    for (const path of [
      `${WELL_KNOWN}?resource=https://evil.example`,
      `${WELL_KNOWN}/..%2f..%2fetc`,
      `${WELL_KNOWN}%00`,
      `${WELL_KNOWN}/${'a'.repeat(4000)}`,
    ]) {
      const res = await request(app).get(path);
      expect(res.status).toBeLessThan(500);
      if (res.status === 200) expect(res.body.resource).toBe(PRINT);
    }
  });
});
