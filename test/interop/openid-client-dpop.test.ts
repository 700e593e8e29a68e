// Interop: openid-client 6's own DPoP (RFC 9449) against tokenward: bound tokens from the password
// and code grants with server nonces, refreshes bound to the key, and guards that accept the
// token only with a proof of that key.
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import express from 'express';
import { createAuthServer, createGuard, MemoryStore } from '../../lib';
import { ALICE, seed } from '../helpers/app';
import { guardedApp } from '../helpers/guard';
import { TEST_HASHING } from '../helpers/hashing';

const run = promisify(execFile);
const CODE_CLIENT = 'oc-dpop';
const DPOP_ONLY_CLIENT = 'oc-dpop-only';
const REDIRECT_URI = 'http://127.0.0.1/callback';

async function listen(handler: express.Express): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe('openid-client DPoP against tokenward', () => {
  const store = new MemoryStore();
  const servers: Server[] = [];
  let issuer: string;
  let requiredRs: string;
  let allowedRs: string;

  beforeAll(async () => {
    const app = express();
    const as = await listen(app);
    servers.push(as.server);
    // An issuer with a path: oauth4webapi (under openid-client) compares it with URL.href exactly.
    issuer = `http://localhost:${as.port}/as`;
    const auth = createAuthServer({
      issuer,
      store,
      rateLimit: false,
      passwordHashing: TEST_HASHING,
      dpop: { nonce: true },
      // The browser is always signed in as alice: the authorization request redirects at once.
      authorize: {
        authenticate: () => ({ tenantId: 'acme', username: ALICE.username }),
        loginUrl: '/login',
      },
    });
    app.use(auth.router());
    await seed(auth);
    await auth.admin.upsertClient({
      id: CODE_CLIENT,
      public: true,
      tenantId: 'acme',
      grants: ['authorization_code', 'refresh_token'],
      scopes: ['print'],
      redirectUris: [REDIRECT_URI],
    });
    await auth.admin.upsertClient({
      id: DPOP_ONLY_CLIENT,
      public: true,
      tenantId: 'acme',
      grants: ['password', 'refresh_token'],
      scopes: ['print'],
      dpop: 'required',
    });
    for (const mode of ['required', 'allowed'] as const) {
      const rs = await listen(guardedApp(createGuard({ issuer, store, dpop: mode })));
      servers.push(rs.server);
      const url = `http://127.0.0.1:${rs.port}`;
      if (mode === 'required') requiredRs = url;
      else allowedRs = url;
    }
  });
  afterAll(async () => {
    await Promise.all(servers.map(close));
    await store.close();
  });

  it('gets bound tokens with nonce retries, refreshes with the same key only, and reaches guards with the key only', async () => {
    const script = path.join(__dirname, 'openid-client-dpop.mjs');
    const { stdout } = await run(process.execPath, [
      script,
      issuer,
      ALICE.username,
      ALICE.password,
      CODE_CLIENT,
      REDIRECT_URI,
      DPOP_ONLY_CLIENT,
      requiredRs,
      allowedRs,
    ]);
    // Token-endpoint calls as openid-client made them: `proof` says whether its proof had a nonce.
    const nonceRound = [
      { status: 400, proof: 'no nonce', error: 'use_dpop_nonce', nonceHeader: true },
      { status: 200, proof: 'nonce', nonceHeader: true },
    ];
    const served = { status: 200, subject: 'alice', clientId: 'app' };
    const refused = (scheme: 'dpop' | 'bearer', error: string) => ({
      status: 401,
      challenges: [{ scheme, error }],
    });
    expect(JSON.parse(stdout)).toEqual({
      algs: true,
      password: { token_type: 'dpop', boundToA: true, calls: nonceRound },
      fetchRequired: served,
      fetchAllowed: served,
      // RFC 9449 §7.1: a bound token is worth nothing without a proof of its key.
      stolen: {
        bearerRequired: refused('dpop', 'invalid_token'),
        // Where both schemes are accepted, the DPoP challenge follows, saying how to send it.
        bearerAllowed: {
          status: 401,
          challenges: [{ scheme: 'bearer', error: 'invalid_token' }, { scheme: 'dpop' }],
        },
        otherKeyRequired: refused('dpop', 'invalid_dpop_proof'),
        otherKeyAllowed: refused('dpop', 'invalid_dpop_proof'),
      },
      // RFC 9449 §5: a public client's refresh token is bound to the key too.
      refreshOtherKey: 'invalid_grant',
      refreshNoProof: 'invalid_grant',
      refusedCalls: [
        { status: 400, proof: 'no nonce', error: 'use_dpop_nonce', nonceHeader: true },
        { status: 400, proof: 'nonce', error: 'invalid_grant', nonceHeader: true },
        { status: 400, proof: 'none', error: 'invalid_grant', nonceHeader: true },
      ],
      // Key A's handle kept the nonce from its last answer: one call, no retry.
      refresh: {
        token_type: 'dpop',
        rotated: true,
        boundToA: true,
        calls: [{ status: 200, proof: 'nonce', nonceHeader: true }],
      },
      fetchRotated: served,
      code: {
        token_type: 'dpop',
        boundToC: true,
        refreshedBoundToC: true,
        calls: [...nonceRound, { status: 200, proof: 'nonce', nonceHeader: true }],
      },
      fetchCode: { ...served, clientId: CODE_CLIENT },
      codeStolen: refused('dpop', 'invalid_token'),
      dpopOnly: {
        withoutProof: 'invalid_dpop_proof',
        withProof: 'dpop',
        // The new handle has no nonce yet: one more nonce round.
        calls: [
          { status: 400, proof: 'none', error: 'invalid_dpop_proof', nonceHeader: true },
          ...nonceRound,
        ],
      },
    });
  });
});
