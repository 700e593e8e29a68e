// Setup mistakes explain themselves to the operator (the token.rejected event, a debug log line, a
// start-up ConfigError or a 500 with the fix logged), while callers keep the plain RFC 6750 answer.
import express from 'express';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import {
  ConfigError,
  createAuthServer,
  createGuard,
  type Guard,
  type GuardEvents,
  type Logger,
  MemoryStore,
  RedisStore,
} from '../../lib';
import { buildApp, ISSUER, revoke, SVC, seed, signIn, TOKEN } from '../helpers/app';
import { testClock } from '../helpers/clock';
import { TEST_HASHING } from '../helpers/hashing';
import { storedSigningKey } from '../helpers/key-secret';
import { makeStore, type TestStore } from '../helpers/stores';

type Rejected = GuardEvents['token.rejected'];

interface Watched {
  guard: Guard;
  app: express.Express;
  rejected: Rejected[];
  debug: string[];
}

/** A guard whose rejections and debug lines are recorded, on GET /me. */
function watched(make: (logger: Logger) => Guard): Watched {
  const debug: string[] = [];
  const logger: Logger = {
    error: () => undefined,
    warn: () => undefined,
    debug: (fields, message) => void debug.push(`${message} ${JSON.stringify(fields)}`),
  };
  const guard = make(logger);
  const rejected: Rejected[] = [];
  guard.events.on('token.rejected', (e) => void rejected.push(e));
  const app = express();
  app.get('/me', guard.authenticate(), (_req, res) => {
    res.json({ ok: true });
  });
  return { guard, app, rejected, debug };
}

/** The events run after the response (setImmediate): wait for them. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

const RFC6750 = {
  error: 'invalid_token',
  error_description: 'the access token is invalid, expired or revoked',
};

async function refusedWith(w: Watched, token: string) {
  const res = await request(w.app).get('/me').set('Authorization', `Bearer ${token}`);
  // The caller learns nothing more than RFC 6750 §3.1 says, whatever the cause.
  expect(res.status).toBe(401);
  expect(res.body).toEqual(RFC6750);
  await settle();
  const last = w.rejected.at(-1);
  expect(last?.reason).toBe('invalid');
  return last as Rejected & { detail: string };
}

describe('a refused token says why, to the operator only', () => {
  const clock = testClock();
  const store = new MemoryStore({ now: clock.seconds });
  const { app, auth } = buildApp(store, { clock });
  let token: string;
  beforeAll(async () => {
    await seed(auth);
    token = (await signIn(app)).access_token;
  });

  it('wrong issuer: localhost and 127.0.0.1 differ, and the detail says so', async () => {
    const w = watched((logger) =>
      createGuard({ issuer: 'http://127.0.0.1:4000', store, clock, logger }),
    );
    const r = await refusedWith(w, token);
    expect(r.cause).toBe('wrong_issuer');
    expect(r.detail).toContain('"http://127.0.0.1:4000"');
    expect(r.detail).toContain(`"${ISSUER}"`);
    expect(r.detail).toContain('localhost and 127.0.0.1 differ');
    expect(w.debug.join('\n')).toContain('token rejected: this verifier expects issuer');
  });

  it('wrong audience: the expected value and the token’s', async () => {
    const w = watched((logger) =>
      createGuard({ issuer: ISSUER, audience: 'https://print.example', store, clock, logger }),
    );
    const r = await refusedWith(w, token);
    expect(r.cause).toBe('wrong_audience');
    expect(r.detail).toBe(
      `this verifier expects audience "https://print.example"; the token's aud is "${ISSUER}"`,
    );
  });

  it('unknown key id: a guard on another store hints at the store and key prefix', async () => {
    const w = watched((logger) =>
      createGuard({ issuer: ISSUER, store: new MemoryStore(), clock, logger }),
    );
    const r = await refusedWith(w, token);
    expect(r.cause).toBe('unknown_key');
    expect(r.detail).toMatch(
      /is not in this verifier's key set: is it on the same store and key prefix/,
    );
  });

  it('wrong type: a JWT signed with the server’s own key but typ JWT (an ID token, say)', async () => {
    const key = await storedSigningKey(store);
    const kid = (await store.getSigningKeys())[0]?.kid as string;
    const forged = jwt.sign({ ...jwt.decode(token, { json: true }) }, key, {
      algorithm: 'ES256',
      keyid: kid,
      header: { alg: 'ES256', typ: 'JWT' },
    });
    const w = watched((logger) => createGuard({ issuer: ISSUER, store, clock, logger }));
    const r = await refusedWith(w, forged);
    expect(r.cause).toBe('wrong_type');
    expect(r.detail).toContain('typ is "JWT"');
  });

  it('wrong tenant: a guard serving other tenants names them', async () => {
    const w = watched((logger) =>
      createGuard({ issuer: ISSUER, store, clock, logger, tenants: ['beta'] }),
    );
    const r = await refusedWith(w, token);
    expect(r).toMatchObject({ cause: 'wrong_tenant' });
    expect(r.detail).toBe(`tenant "acme" is not among this guard's tenants (beta)`);
  });

  it('revoked, then expired', async () => {
    const w = watched((logger) => createGuard({ issuer: ISSUER, store, clock, logger }));
    const s = await signIn(app);
    expect(
      (await request(w.app).get('/me').set('Authorization', `Bearer ${s.access_token}`)).status,
    ).toBe(200);
    expect((await revoke(app, s.refresh_token)).status).toBe(200);
    expect((await refusedWith(w, s.access_token)).cause).toBe('revoked');
    const later = await signIn(app);
    clock.advance((later.expires_in + 10) * 1000);
    const r = await refusedWith(w, later.access_token);
    expect(r.cause).toBe('expired');
    expect(r.detail).toMatch(/^the token expired at \d{4}-/);
  });

  it('no line or event carries the token', async () => {
    const w = watched((logger) =>
      createGuard({ issuer: ISSUER, audience: 'x', store, clock, logger }),
    );
    await refusedWith(w, token);
    const all = JSON.stringify(w.rejected) + w.debug.join('\n');
    expect(all).not.toContain(token.split('.')[2] as string);
    expect(all).not.toContain(token);
  });
});

describe('a guard on another key prefix than the server (RedisStore)', () => {
  let ts: TestStore;
  beforeAll(async () => {
    ts = await makeStore('redis', 'setup-mistakes');
  });
  afterAll(() => ts.close());

  it('is told: unknown key id, and why that may be', async () => {
    const { app, auth } = buildApp(ts.store);
    await seed(auth);
    const token = (await signIn(app)).access_token;
    const other = new RedisStore({ redis: ts.redis as never, prefix: `${ts.prefix}other:` });
    const w = watched((logger) => createGuard({ issuer: ISSUER, store: other, logger }));
    const r = await refusedWith(w, token);
    expect(r.cause).toBe('unknown_key');
    expect(r.detail).toContain('key prefix');
    // On the right prefix the same token is admitted.
    const right = watched((logger) => createGuard({ issuer: ISSUER, store: ts.store, logger }));
    expect(
      (await request(right.app).get('/me').set('Authorization', `Bearer ${token}`)).status,
    ).toBe(200);
  });
});

describe('mounting the authorization server', () => {
  const server = () =>
    createAuthServer({ issuer: ISSUER, store: new MemoryStore(), passwordHashing: TEST_HASHING });

  it('at the root: works', async () => {
    const app = express().use(server().router());
    const res = await request(app).get('/.well-known/oauth-authorization-server');
    expect(res.status).toBe(200);
  });

  it('under a path with app.use(path, …): a ConfigError at start-up saying where to mount', () => {
    const app = express();
    const auth = server();
    expect(() => app.use('/auth', auth.router())).toThrow(ConfigError);
    expect(() => express().use('/auth', auth.router())).toThrow(
      /mounted at "\/auth".*Mount it at the application root with app\.use\(auth\.router\(\)\); to serve it under "\/auth", end the issuer with that path \(http:\/\/localhost:4000\/auth\) and still mount it at the root/,
    );
  });

  it('under a path with an issuer that has that path: still refused, the router serves the issuer path itself', () => {
    const auth = createAuthServer({
      issuer: 'http://localhost:4000/auth',
      store: new MemoryStore(),
      passwordHashing: TEST_HASHING,
    });
    expect(() => express().use('/auth', auth.router())).toThrow(
      /serves the issuer's paths itself .*token endpoint at \/auth\/oauth2\/token.*metadata at \/\.well-known\/oauth-authorization-server\/auth/,
    );
    // At the root, the issuer's path works, RFC 8414 §3.1 metadata location included.
    const app = express().use(auth.router());
    return request(app)
      .get('/.well-known/oauth-authorization-server/auth')
      .expect(200)
      .expect((res) =>
        expect(res.body.token_endpoint).toBe('http://localhost:4000/auth/oauth2/token'),
      );
  });

  it('under a path through a Router (no mount event): its endpoints answer 500 with the fix logged, other routes pass through', async () => {
    const lines: string[] = [];
    const auth = createAuthServer({
      issuer: ISSUER,
      store: new MemoryStore(),
      passwordHashing: TEST_HASHING,
      logger: { error: (_f, m) => void lines.push(m) },
    });
    const router = express.Router();
    router.use('/auth', auth.router());
    router.get('/auth/other', (_req, res) => {
      res.send('other');
    });
    const app = express().use(router);
    const res = await request(app).post('/auth/oauth2/token').type('form').send({});
    expect(res.status).toBe(500);
    expect(res.body).toEqual({
      error: 'server_error',
      error_description: 'the server is misconfigured',
    });
    expect(lines.join('\n')).toMatch(/mounted at "\/auth".*app\.use\(auth\.router\(\)\)/);
    expect((await request(app).get('/auth/other')).text).toBe('other');
  });
});

describe('cors option', () => {
  const ORIGIN = 'https://app.example.com';
  const make = (cors?: { origins: string[] }) => {
    const auth = createAuthServer({
      issuer: ISSUER,
      store: new MemoryStore(),
      passwordHashing: TEST_HASHING,
      rateLimit: false,
      ...(cors ? { cors } : {}),
    });
    return { app: express().use(auth.router()), auth };
  };

  it('answers a preflight to the token, revocation and introspection endpoints for a listed origin', async () => {
    const { app } = make({ origins: [ORIGIN] });
    for (const path of ['/oauth2/token', '/oauth2/revoke', '/oauth2/introspect']) {
      const res = await request(app)
        .options(path)
        .set('Origin', ORIGIN)
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'content-type, authorization');
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
      expect(res.headers['access-control-allow-methods']).toBe('POST');
      expect(res.headers['access-control-allow-headers']).toMatch(/Authorization/);
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    }
  });

  it('a token request from a listed origin gets the allow header; an unlisted origin gets none', async () => {
    const { app, auth } = make({ origins: [ORIGIN] });
    await auth.admin.upsertTenant({ id: 'acme' });
    await auth.admin.upsertClient({
      ...SVC,
      tenantId: 'acme',
      grants: ['client_credentials'],
      scopes: [],
    });
    const ok = await request(app)
      .post(TOKEN)
      .set('Origin', ORIGIN)
      .auth(SVC.id, SVC.secret)
      .type('form')
      .send({ grant_type: 'client_credentials' });
    expect(ok.status).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(ok.headers.vary).toMatch(/Origin/);
    const other = await request(app)
      .options(TOKEN)
      .set('Origin', 'https://evil.example')
      .set('Access-Control-Request-Method', 'POST');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const post = await request(app)
      .post(TOKEN)
      .set('Origin', 'https://evil.example')
      .auth(SVC.id, SVC.secret)
      .type('form')
      .send({ grant_type: 'client_credentials' });
    expect(post.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('the metadata and JWKS a browser client reads first answer the listed origins too', async () => {
    const { app } = make({ origins: [ORIGIN] });
    for (const path of ['/.well-known/oauth-authorization-server', '/oauth2/jwks']) {
      const res = await request(app).get(path).set('Origin', ORIGIN);
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
      const other = await request(app).get(path).set('Origin', 'https://evil.example');
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('off by default: OPTIONS is 405 and no CORS header is sent', async () => {
    const { app } = make();
    const res = await request(app)
      .options(TOKEN)
      .set('Origin', ORIGIN)
      .set('Access-Control-Request-Method', 'POST');
    expect(res.status).toBe(405);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it.each([
    [{ origins: ['*'] }, /"\*" is refused/],
    [{ origins: ['https://app.example.com/'] }, /did you mean "https:\/\/app\.example\.com"/],
    [{ origins: [] }, /non-empty array/],
    [{ origins: [ORIGIN], maxAg: 5 }, /maxAg/],
  ])('a bad cors option is a ConfigError: %j', (cors, message) => {
    expect(() =>
      createAuthServer({ issuer: ISSUER, store: new MemoryStore(), cors: cors as never }),
    ).toThrow(message);
  });
});

describe('the redis option', () => {
  it.each([
    [
      'a URL string',
      'redis://localhost:6379',
      /not a URL: pass `new Redis\(url\)`.*redis\.on\('error'/,
    ],
    ['a URL object', new URL('redis://localhost:6379'), /not a URL/],
    ['another client', { get: () => undefined }, /must be an ioredis client/],
  ])('%s is a ConfigError saying to pass an ioredis client', (_name, redis, message) => {
    expect(() => new RedisStore({ redis: redis as never })).toThrow(ConfigError);
    expect(() => new RedisStore({ redis: redis as never })).toThrow(message);
  });
});

describe('store unavailable', () => {
  it('names the Redis it could not reach in the log, and the 503 body keeps its own words', async () => {
    const { Redis } = await import('ioredis');
    const redis = new Redis({
      port: 1,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    redis.on('error', () => undefined);
    const lines: string[] = [];
    const auth = createAuthServer({
      issuer: ISSUER,
      store: new RedisStore({ redis, commandTimeout: 200 }),
      insecureClearKeys: true,
      passwordHashing: TEST_HASHING,
      logger: {
        error: (f, m) => void lines.push(`${m} ${JSON.stringify(f)}`),
        warn: (f, m) => void lines.push(`${m} ${JSON.stringify(f)}`),
      },
    });
    const app = express().use(auth.router());
    const res = await request(app).get('/oauth2/jwks');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'the service is temporarily unavailable; retry later',
    });
    redis.disconnect();
    expect(lines.join('\n')).toMatch(/redis at (localhost|127\.0\.0\.1):1\b/);
  });
});
