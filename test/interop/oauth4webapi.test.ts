// Interop: oauth4webapi (an independent, spec-strict client) discovers and uses every endpoint.
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import express from 'express';
import { createAuthServer, MemoryStore } from '../../lib';
import { ALICE, RS, SVC, seed } from '../helpers/app';
import { TEST_HASHING } from '../helpers/hashing';

const run = promisify(execFile);

describe('oauth4webapi as a real client', () => {
  const store = new MemoryStore();
  let server: ReturnType<express.Express['listen']>;
  let issuer: string;

  beforeAll(async () => {
    const app = express();
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    // An issuer with a path, as oauth4webapi compares the issuer with URL.href exactly.
    issuer = `http://localhost:${(server.address() as AddressInfo).port}/as`;
    const auth = createAuthServer({
      issuer,
      store,
      rateLimit: false,
      passwordHashing: TEST_HASHING,
    });
    app.use(auth.router());
    await seed(auth);
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await store.close();
  });

  it('discovery, client_credentials + RFC 9068 validation, password, refresh, introspection, revocation', async () => {
    const script = path.join(__dirname, 'oauth4webapi-client.mjs');
    const { stdout } = await run(process.execPath, [
      script,
      issuer,
      SVC.secret,
      RS.secret,
      ALICE.username,
      ALICE.password,
    ]);
    expect(JSON.parse(stdout)).toEqual({
      discovered: `${issuer}/oauth2/token`,
      clientCredentials: { token_type: 'bearer', scope: 'print', expires_in: 600 },
      validated: { sub: 'svc', client_id: 'svc', tenant_id: 'acme' },
      rotated: true,
      introspected: { active: true, username: 'alice', tenant_id: 'acme' },
      afterRevoke: false,
      refreshAfterRevoke: 'invalid_grant',
    });
  });
});
