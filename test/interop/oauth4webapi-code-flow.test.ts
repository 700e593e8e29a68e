// Interop: oauth4webapi completes the authorization-code flow with PKCE through a host app's own
// login form (a cookie session the host keeps), against a real server on a real port.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import express from 'express';
import { createAuthServer, MemoryStore } from '../../lib';
import { ALICE, seed } from '../helpers/app';
import { TEST_HASHING } from '../helpers/hashing';

const run = promisify(execFile);

describe('oauth4webapi: authorization code + PKCE through the host login', () => {
  const store = new MemoryStore();
  let server: ReturnType<express.Express['listen']>;
  let issuer: string;
  let redirectUri: string;

  beforeAll(async () => {
    const app = express();
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const origin = `http://localhost:${(server.address() as AddressInfo).port}`;
    issuer = `${origin}/as`;
    redirectUri = 'http://127.0.0.1/cb';
    // The host's sessions: a cookie naming a signed-in user (a real app would use express-session).
    const sessions = new Map<string, string>();
    const sessionOf = (req: express.Request) =>
      sessions.get(/(?:^|;\s*)sid=([^;]+)/.exec(req.get('cookie') ?? '')?.[1] ?? '');
    const auth = createAuthServer({
      issuer,
      store,
      rateLimit: false,
      passwordHashing: TEST_HASHING,
      authorize: {
        authenticate: (req) => {
          const username = sessionOf(req);
          return username ? { tenantId: 'acme', username } : null;
        },
        loginUrl: '/login',
      },
    });
    app.use(auth.router());
    app.get('/login', (req, res) => {
      res
        .type('html')
        .send(
          `<form method="post" action="/login"><input name="username"><input name="password" type="password"></form>`,
        );
      void req;
    });
    app.post('/login', express.urlencoded({ extended: false }), (req, res) => {
      // The host checks its own credentials; here, the demo user's.
      if (req.body.username !== ALICE.username || req.body.password !== ALICE.password) {
        res.status(401).send('wrong');
        return;
      }
      const sid = randomBytes(16).toString('hex');
      sessions.set(sid, req.body.username);
      res.setHeader('Set-Cookie', `sid=${sid}; HttpOnly; Path=/`);
      res.redirect(302, auth.safeReturnTo(req.body.return_to) ?? '/');
    });
    await seed(auth);
    await auth.admin.upsertClient({
      id: 'web-app',
      public: true,
      tenantId: 'acme',
      grants: ['authorization_code', 'refresh_token'],
      redirectUris: [redirectUri],
      scopes: ['print', 'scan'],
    });
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await store.close();
  });

  it('login form, callback with state and iss, code exchange, RFC 9068 validation, refresh; a replayed code is refused', async () => {
    const script = path.join(__dirname, 'oauth4webapi-code-flow.mjs');
    const { stdout } = await run(process.execPath, [
      script,
      issuer,
      redirectUri,
      ALICE.username,
      ALICE.password,
    ]);
    expect(JSON.parse(stdout)).toEqual({
      authorizationEndpoint: `${issuer}/oauth2/authorize`,
      hops: ['/login', 'form', '/as/oauth2/authorize', '/cb'],
      tokens: { token_type: 'bearer', scope: 'print', refresh: 'string' },
      claims: { sub: 'alice', gty: 'authorization_code', tenant_id: 'acme' },
      refreshed: 'string',
      replay: 'invalid_grant',
    });
  });
});
