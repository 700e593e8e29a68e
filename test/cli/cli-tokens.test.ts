// tokenward CLI, keys / device / token commands against real Redis, with tokens issued over HTTP on the same prefix.

import type { Express } from 'express';
import request from 'supertest';
import type { AuthServer } from '../../lib';
import {
  ALICE,
  buildApp,
  ISSUER,
  introspect,
  post,
  refresh,
  SVC,
  seed,
  signIn,
  TOKEN,
  WEB,
} from '../helpers/app';
import { cliFor } from '../helpers/cli';
import { dpopKey, proof } from '../helpers/dpop';
import { TEST_KEY_SECRET } from '../helpers/key-secret';
import { redisUrl } from '../helpers/redis';
import { makeStore, type TestStore } from '../helpers/stores';

let ts: TestStore;
let app: Express;
let auth: AuthServer;
let cli: ReturnType<typeof cliFor>;

beforeAll(async () => {
  ts = await makeStore('redis', 'cli-tokens');
  ({ app, auth } = buildApp(ts.store));
  await seed(auth);
  cli = cliFor(ts.prefix as string);
});
afterAll(() => ts.close());

async function ccToken(): Promise<string> {
  const res = await post(app, TOKEN, { grant_type: 'client_credentials', scope: 'print' }, SVC);
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

describe('keys rotate', () => {
  // The servers seal their keys with the test secret; the CLI is given the same one.
  const env = () => ({ REDIS_URL: redisUrl(), TOKENWARD_KEY_SECRET: TEST_KEY_SECRET });

  it('stores a new signing key and retires the previous one', async () => {
    await ccToken(); // the server generates its first key
    const [first] = await ts.store.getSigningKeys();
    const run = await cli(['--json', 'keys', 'rotate'], { env: env() });
    expect(run.code).toBe(0);
    const { kid } = run.json<{ kid: string }>();
    const keys = await ts.store.getSigningKeys();
    expect(keys.find((k) => k.kid === kid)?.retiredAt).toBeUndefined();
    expect(keys.find((k) => k.kid === first?.kid)?.retiredAt).toEqual(expect.any(Number));
    expect((await cli(['keys', 'rotate'], { env: env() })).stdout).toMatch(/^kid: [\w-]+\n$/);
  });
});

describe('token', () => {
  it('introspect shows an access token; revoke - (stdin) revokes it; then it is inactive', async () => {
    const token = await ccToken();
    const shown = await cli(['--json', 'token', 'introspect', token]);
    expect(shown.code).toBe(0);
    expect(shown.json()).toMatchObject({
      active: true,
      client_id: 'svc',
      token_type: 'Bearer',
      scope: 'print',
      tenant_id: 'acme',
    });
    const human = await cli(['token', 'introspect', '-'], { stdin: `${token}\n` });
    expect(human.stdout).toMatch(/^active: +true$/m);
    expect(human.stdout).toMatch(/^exp: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);

    expect(await cli(['token', 'revoke', '-'], { stdin: token })).toMatchObject({
      code: 0,
      stdout: 'revoked\n',
    });
    const after = await cli(['--json', 'token', 'introspect', token]);
    expect(after).toMatchObject({ code: 1, stderr: 'error: token is not active\n' });
    expect(after.json()).toEqual({ active: false });
    expect((await introspect(app, token)).active).toBe(false);
  });

  it('revoke of a refresh token ends its family; garbage exits 1', async () => {
    const s = await signIn(app);
    const run = await cli(['--json', 'token', 'revoke', s.refresh_token]);
    expect(run).toMatchObject({ code: 0 });
    expect(run.json()).toEqual({ revoked: true });
    expect((await refresh(app, s.refresh_token)).status).toBe(400);
    expect((await introspect(app, s.access_token)).active).toBe(false);
    // Revoking again is idempotent (RFC 7009 §2.2), as long as the family is known.
    expect((await cli(['token', 'revoke', s.refresh_token])).code).toBe(0);
    expect(await cli(['token', 'revoke', 'not-a-token'])).toMatchObject({
      code: 1,
      stderr: 'error: not a token of this server, or expired (nothing revoked)\n',
    });
    expect((await cli(['token', 'introspect', 'garbage'])).code).toBe(1);
  });

  it('access tokens are checked against --issuer; empty stdin is a usage error', async () => {
    const token = await ccToken();
    const other = await cli(['--issuer', 'https://other.example', 'token', 'introspect', token]);
    expect(other.code).toBe(1);
    expect((await cli(['--issuer', 'ftp://nope', 'token', 'introspect', token])).stderr).toMatch(
      /^error: .*issuer/,
    );
    expect(await cli(['token', 'introspect', '-'], { stdin: '' })).toMatchObject({
      code: 2,
      stderr: 'error: no token on stdin\n',
    });
  });
});

describe('device', () => {
  it('list shows whether a session is bound to a DPoP key (RFC 9449): the key thumbprint', async () => {
    const key = await dpopKey();
    const res = await request(app)
      .post(TOKEN)
      .type('form')
      .set('DPoP', await proof(key, { htm: 'POST', htu: `${ISSUER}${TOKEN}` }))
      .send({ grant_type: 'password', client_id: 'app', ...ALICE, device_id: 'laptop-k' });
    expect(res.status).toBe(200);
    const sessions = (await cli(['--json', 'device', 'list', 'acme', 'alice'])).json<
      { deviceId: string; jkt?: string }[]
    >();
    expect(sessions.find((x) => x.deviceId === 'laptop-k')?.jkt).toBe(key.jkt);
    const human = await cli(['device', 'list', 'acme', 'alice']);
    expect(human.stdout).toMatch(new RegExp(`^laptop-k +app +${key.jkt} +\\d{4}-`, 'm'));
    expect((await cli(['device', 'revoke', 'acme', 'alice', 'laptop-k'])).code).toBe(0);
  });

  it('list shows a device-bound sign-in from two apps; revoke ends it for both', async () => {
    const a = await signIn(app, ALICE, { device_id: 'phone-1' });
    const web = await post(
      app,
      TOKEN,
      { grant_type: 'password', ...ALICE, device_id: 'phone-1' },
      WEB,
    );
    expect(web.status).toBe(200);

    const list = await cli(['--json', 'device', 'list', 'acme', 'alice']);
    expect(list.code).toBe(0);
    const sessions = list.json<{ deviceId: string; apps: { clientId: string }[] }[]>();
    expect(sessions).toEqual([
      expect.objectContaining({
        deviceId: 'phone-1',
        sessionId: expect.any(String),
        deadline: expect.any(Number),
        expiresAt: expect.any(Number),
      }),
    ]);
    expect(sessions[0]?.apps.map((x) => x.clientId).sort()).toEqual(['app', 'web']);
    const human = await cli(['device', 'list', 'acme', 'alice']);
    expect(human.stdout.split('\n')[0]).toMatch(
      /^DEVICE +APPS +KEY-BOUND +LAST-SEEN +IDLE-DEADLINE +EXPIRES +SESSION$/,
    );
    expect(human.stdout).toMatch(/^phone-1 +(app,web|web,app) +no +\d{4}-/m);

    expect(await cli(['device', 'revoke', 'acme', 'alice', 'phone-1'])).toMatchObject({
      code: 0,
      stdout: 'ended the session on device phone-1\n',
    });
    expect((await introspect(app, a.access_token)).active).toBe(false);
    expect((await introspect(app, web.body.access_token)).active).toBe(false);
    expect((await cli(['--json', 'device', 'list', 'acme', 'alice'])).json()).toEqual([]);
    expect((await cli(['device', 'list', 'acme', 'alice'])).stdout).toBe('(no device sessions)\n');
    expect((await cli(['device', 'revoke', 'acme', 'alice', 'phone-1'])).code).toBe(1);
  });

  it('revoke-all ends every session of the user; list of an unknown user exits 1', async () => {
    const a = await signIn(app, ALICE, { device_id: 'tablet-1' });
    await signIn(app, ALICE, { device_id: 'tablet-2' });
    expect((await cli(['--json', 'device', 'revoke-all', 'acme', 'alice'])).json()).toEqual({
      revoked: 2,
    });
    expect(await auth.admin.listDeviceSessions('acme', 'alice')).toEqual([]);
    expect((await introspect(app, a.access_token)).active).toBe(false);
    expect((await cli(['device', 'list', 'acme', 'nobody'])).code).toBe(1);
  });
});

describe('the issuer tokens are checked against', () => {
  // A store of its own, so the deployments noted are exactly this block's.
  let own: TestStore;
  let ownCli: ReturnType<typeof cliFor>;
  beforeAll(async () => {
    own = await makeStore('redis', 'cli-issuer');
    ownCli = cliFor(own.prefix as string);
  });
  afterAll(() => own.close());

  it('with no server noted in the store: the default, with a warning saying so', async () => {
    const run = await ownCli(['token', 'introspect', 'not-a-token']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^warning: no server has noted its issuer in this store yet .*checking access tokens against http:\/\/localhost:4000; pass --issuer/,
    );
  });

  it('is the one a server noted when its router was built: no --issuer needed, no default that lies', async () => {
    const server = buildApp(own.store, {
      issuer: 'https://auth.example.com',
      audience: 'https://api.example.com',
    });
    await seed(server.auth);
    const res = await post(server.app, TOKEN, { grant_type: 'client_credentials' }, SVC);
    expect(res.status).toBe(200);
    const token = res.body.access_token as string;
    const run = await ownCli(['--json', 'token', 'introspect', token]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.json<{ active: boolean; iss: string }>()).toMatchObject({
      active: true,
      iss: 'https://auth.example.com',
    });
    // A wrong --issuer is questioned up front, and the refusal says which issuer the token has.
    const wrong = await ownCli(['--issuer', 'http://localhost:4000', 'token', 'introspect', token]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(
      'warning: --issuer http://localhost:4000 is not an issuer the servers on this store noted (https://auth.example.com)',
    );
    expect(wrong.stderr).toContain(
      `error: token is not active (the token's iss is "https://auth.example.com", not "http://localhost:4000": pass --issuer https://auth.example.com)`,
    );
    const revoke = await ownCli(['--issuer', 'http://localhost:4000', 'token', 'revoke', token]);
    expect(revoke.code).toBe(1);
    expect(revoke.stderr).toContain(
      'error: nothing revoked: the token\'s iss is "https://auth.example.com"',
    );
    expect((await introspect(server.app, token)).active).toBe(true);
  });

  it('with several servers on the store: refuses to guess and lists them', async () => {
    buildApp(own.store, { issuer: 'https://other.example.com' });
    // The note is written in the background when the router is built.
    for (let i = 0; i < 1000 && (await own.store.listDeployments()).length < 2; i++)
      await new Promise((resolve) => setImmediate(resolve));
    expect((await own.store.listDeployments()).map((d) => d.issuer).sort()).toEqual([
      'https://auth.example.com',
      'https://other.example.com',
    ]);
    const run = await ownCli(['token', 'introspect', 'not-a-token']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^error: servers with several issuers use this store \((https:\/\/other\.example\.com, https:\/\/auth\.example\.com|https:\/\/auth\.example\.com, https:\/\/other\.example\.com)\): pass --issuer <url>/,
    );
    const chosen = await ownCli([
      '--issuer',
      'https://other.example.com',
      'token',
      'introspect',
      'x',
    ]);
    expect(chosen.stderr).not.toMatch(/warning/);
  });
});
