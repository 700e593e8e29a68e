// tokenward CLI, registry commands (tenant, client, user, scope) against real Redis, read back through the store.
import type { Express } from 'express';
import { buildApp, post, signIn, TOKEN } from '../helpers/app';
import { cliFor } from '../helpers/cli';
import { makeStore, type TestStore } from '../helpers/stores';

let ts: TestStore;
let app: Express;
let cli: ReturnType<typeof cliFor>;

beforeAll(async () => {
  ts = await makeStore('redis', 'cli-registry');
  // clientCacheTtl 0: the server sees client changes made by the CLI at once.
  app = buildApp(ts.store, { clientCacheTtl: 0 }).app;
  cli = cliFor(ts.prefix as string);
});
afterAll(() => ts.close());

const SECRET = 'cli-secret-0123456789';
const PASSWORD = 'alice-password-1';

describe('tenant', () => {
  it('set creates, a second set updates only what it names, get and list show it', async () => {
    const created = await cli([
      'tenant',
      'set',
      'acme',
      '--name',
      'ACME Corp',
      '--local-user-mode',
    ]);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toBe(
      'id:            acme\nname:          ACME Corp\nlocalUserMode: true\n',
    );
    expect(await ts.store.getTenant('acme')).toEqual({
      id: 'acme',
      name: 'ACME Corp',
      localUserMode: true,
    });

    expect((await cli(['tenant', 'set', 'acme', '--no-local-user-mode'])).code).toBe(0);
    expect(await ts.store.getTenant('acme')).toEqual({
      id: 'acme',
      name: 'ACME Corp',
      localUserMode: false,
    });
    await cli(['tenant', 'set', 'beta']);

    const get = await cli(['--json', 'tenant', 'get', 'acme']);
    expect(get.json()).toEqual({ id: 'acme', name: 'ACME Corp', localUserMode: false });
    const list = await cli(['tenant', 'list', '--json']); // global options also after the command
    expect(list.json()).toEqual([
      { id: 'acme', name: 'ACME Corp', localUserMode: false },
      { id: 'beta', localUserMode: false },
    ]);
    expect((await cli(['tenant', 'list'])).stdout).toBe(
      'ID    LOCAL-USER-MODE  NAME\nacme  false            ACME Corp\nbeta  false            -\n',
    );
  });

  it('get of a missing tenant exits 1; an invalid id exits 2 naming the field', async () => {
    expect(await cli(['tenant', 'get', 'nope'])).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'error: tenant "nope" not found\n',
    });
    const bad = await cli(['tenant', 'set', 'bad id']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('error: tenant.id: must match [A-Za-z0-9._-]{1,64}\n');
    expect(await ts.store.getTenant('bad id')).toBeUndefined();
  });

  it('delete removes an empty tenant, is refused (exit 1) while it has clients, exits 1 when missing', async () => {
    await cli(['tenant', 'set', 'gone']);
    await cli(['client', 'set', 'gone-app', '--tenant', 'gone', '--public', '--grant', 'password']);
    const refused = await cli(['tenant', 'delete', 'gone']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('error: tenant: tenant "gone" still has clients\n');
    await cli(['client', 'delete', 'gone-app']);
    expect(await cli(['--json', 'tenant', 'delete', 'gone'])).toMatchObject({ code: 0 });
    expect(await ts.store.getTenant('gone')).toBeUndefined();
    expect((await cli(['tenant', 'delete', 'gone'])).code).toBe(1);
  });
});

describe('client', () => {
  const ccToken = (secret: string, id = 'svc') =>
    post(app, TOKEN, { grant_type: 'client_credentials' }, { id, secret });

  it('set --secret-stdin registers a working confidential client and never echoes the secret', async () => {
    const run = await cli(
      [
        '--json',
        'client',
        'set',
        'svc',
        '--tenant',
        'acme',
        '--secret-stdin',
        '--grant',
        'client_credentials',
        '--scope',
        'print',
        'scan',
        '--local-users',
      ],
      { stdin: `${SECRET}\n` },
    );
    expect(run.code).toBe(0);
    expect(run.stdout + run.stderr).not.toContain(SECRET);
    expect(run.json()).toEqual({
      id: 'svc',
      tenantId: 'acme',
      public: false,
      grants: ['client_credentials'],
      scopes: ['print', 'scan'],
      localUsers: true,
      introspect: false,
      introspectAllTenants: false,
      clientCredentialsRefresh: false,
    });
    expect((await ts.store.getClient('svc'))?.secretHash).toMatch(/^scrypt\$/);
    expect((await ccToken(SECRET)).status).toBe(200);
  });

  it('--redirect-uri registers where an authorization_code client gets codes; a bad one is refused', async () => {
    const run = await cli([
      '--json',
      'client',
      'set',
      'web-app',
      '--tenant',
      'acme',
      '--public',
      '--grant',
      'authorization_code',
      'refresh_token',
      '--redirect-uri',
      'https://app.example.com/cb',
      'http://127.0.0.1/cb',
    ]);
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({
      grants: ['authorization_code', 'refresh_token'],
      redirectUris: ['https://app.example.com/cb', 'http://127.0.0.1/cb'],
    });
    const bad = await cli(['client', 'set', 'web-app', '--redirect-uri', 'javascript:alert(1)']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /^error: client\.redirectUris: "javascript:alert\(1\)" must not use the javascript: scheme/,
    );
    expect((await ts.store.getClient('web-app'))?.redirectUris).toHaveLength(2);
    expect((await cli(['client', 'delete', 'web-app'])).code).toBe(0);
  });

  it('--dpop required makes every token request of the client carry a DPoP proof (RFC 9449); --dpop allowed undoes it; anything else is a usage error', async () => {
    const on = await cli(['--json', 'client', 'set', 'svc', '--dpop', 'required']);
    expect(on.code).toBe(0);
    expect(on.json()).toMatchObject({ dpop: 'required' });
    expect((await ts.store.getClient('svc'))?.dpop).toBe('required');
    expect((await cli(['client', 'get', 'svc'])).stdout).toMatch(/^dpop: +required$/m);
    const bad = await cli(['client', 'set', 'svc', '--dpop', 'maybe']);
    expect(bad.code).toBe(2);
    expect((await ts.store.getClient('svc'))?.dpop).toBe('required');
    // Other options leave it as it is.
    expect((await cli(['client', 'set', 'svc', '--introspect'])).code).toBe(0);
    expect((await ts.store.getClient('svc'))?.dpop).toBe('required');
    expect((await cli(['client', 'set', 'svc', '--dpop', 'allowed', '--no-introspect'])).code).toBe(
      0,
    );
    expect((await ts.store.getClient('svc'))?.dpop).toBeUndefined();
  });

  it('an update keeps the secret and every option it does not name', async () => {
    const before = await ts.store.getClient('svc');
    expect((await cli(['client', 'set', 'svc', '--scope', 'print', '--introspect'])).code).toBe(0);
    const after = await ts.store.getClient('svc');
    expect(after).toEqual({ ...before, scopes: ['print'], introspect: true });
    expect((await ccToken(SECRET)).status).toBe(200);
  });

  it('--introspect-all-tenants needs --introspect; --no-introspect-all-tenants turns it off', async () => {
    expect((await cli(['client', 'set', 'svc', '--introspect-all-tenants'])).code).toBe(0);
    expect(await ts.store.getClient('svc')).toMatchObject({
      introspect: true,
      introspectAllTenants: true,
    });
    expect((await cli(['client', 'get', 'svc'])).stdout).toContain(
      'introspectAllTenants:     true\n',
    );
    const alone = await cli(['client', 'set', 'svc', '--no-introspect']);
    expect(alone).toMatchObject({
      code: 2,
      stderr: 'error: client.introspectAllTenants: needs introspect: true\n',
    });
    expect((await ts.store.getClient('svc'))?.introspect).toBe(true);
    expect((await cli(['client', 'set', 'svc', '--no-introspect-all-tenants'])).code).toBe(0);
    expect((await ts.store.getClient('svc'))?.introspectAllTenants).toBe(false);
  });

  it('--secret works for scripts without echoing it; --public makes a public client', async () => {
    const plain = 'plain-secret-0123456789';
    const run = await cli(['client', 'set', 'svc', '--secret', plain]);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain(plain);
    expect((await ccToken(plain)).status).toBe(200);
    expect((await ccToken(SECRET)).status).toBe(401);

    const pub = await cli([
      '--json',
      'client',
      'set',
      'app',
      '--tenant',
      'acme',
      '--public',
      '--grant',
      'password',
      'refresh_token',
      '--scope',
      'print scan',
    ]);
    expect(pub.json()).toMatchObject({ id: 'app', public: true, scopes: ['print', 'scan'] });
    expect((await ts.store.getClient('app'))?.secretHash).toBeUndefined();
  });

  it('bad input exits 2: conflicting flags, no tenant, an unknown grant, a short secret', async () => {
    const conflict = await cli(['client', 'set', 'x', '--public', '--secret', SECRET]);
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toContain("cannot be used with option '--public'");
    expect(conflict.stderr).not.toContain(SECRET);
    expect((await cli(['client', 'set', 'x', '--grant', 'password'])).stderr).toBe(
      'error: --tenant is required for a new client ("x")\n',
    );
    const grant = await cli([
      'client',
      'set',
      'x',
      '--tenant',
      'acme',
      '--public',
      '--grant',
      'bogus',
    ]);
    expect(grant.code).toBe(2);
    expect(grant.stderr).toMatch(/^error: client\.grants: "bogus" is not one of /);
    const noSecret = await cli(['client', 'set', 'x', '--tenant', 'acme', '--grant', 'password']);
    expect(noSecret.stderr).toBe(
      'error: client.secret: required for a new confidential client (or set public: true)\n',
    );
    const stdinShort = await cli(
      ['client', 'set', 'x', '--tenant', 'acme', '--secret-stdin', '--grant', 'password'],
      { stdin: 'short' },
    );
    expect(stdinShort).toMatchObject({
      code: 2,
      stderr: 'error: client.secret: must be 16-1024 characters\n',
    });
    expect(await ts.store.getClient('x')).toBeUndefined();
  });

  it('get, list and delete', async () => {
    const get = await cli(['client', 'get', 'svc']);
    expect(get.stdout).toContain('type:                     confidential\n');
    expect(get.stdout).toContain('scopes:                   print\n');
    expect((await cli(['client', 'get', 'nope'])).code).toBe(1);
    const list = await cli(['client', 'list']);
    expect(list.stdout.split('\n')[0]).toBe(
      'ID   TENANT  TYPE          GRANTS                  SCOPES      FLAGS',
    );
    expect(list.stdout).toContain('svc  acme    confidential  client_credentials      print');
    expect(
      (await cli(['--json', 'client', 'list'])).json<{ id: string }[]>().map((c) => c.id),
    ).toEqual(['app', 'svc']);
    await cli(['client', 'set', 'tmp', '--tenant', 'beta', '--public', '--grant', 'password']);
    expect((await cli(['--json', 'client', 'delete', 'tmp'])).json()).toEqual({
      deleted: true,
      id: 'tmp',
    });
    expect(await ts.store.getClient('tmp')).toBeUndefined();
    expect((await cli(['client', 'delete', 'tmp'])).code).toBe(1);
  });
});

describe('user', () => {
  it('set --password-stdin creates a user who can sign in; the password is never echoed', async () => {
    // A user without a password signs in only through the host's login (authorization code).
    const passwordless = await cli(['--json', 'user', 'set', 'acme', 'carol', '--role', 'printer']);
    expect(passwordless.code).toBe(0);
    expect(await ts.store.getUser('acme', 'carol')).toEqual({
      tenantId: 'acme',
      username: 'carol',
      roles: ['printer'],
    });
    expect((await cli(['user', 'delete', 'acme', 'carol'])).code).toBe(0);
    const run = await cli(
      ['--json', 'user', 'set', 'acme', 'alice', '--password-stdin', '--role', 'printer,admin'],
      { stdin: `${PASSWORD}\n` },
    );
    expect(run.code).toBe(0);
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
    expect(run.json()).toEqual({
      tenantId: 'acme',
      username: 'alice',
      roles: ['printer', 'admin'],
    });
    await signIn(app, { username: 'alice', password: PASSWORD });
  });

  it('an update without --password-stdin keeps the password', async () => {
    expect((await cli(['user', 'set', 'acme', 'alice', '--role', 'admin'])).code).toBe(0);
    expect((await ts.store.getUser('acme', 'alice'))?.roles).toEqual(['admin']);
    await signIn(app, { username: 'alice', password: PASSWORD });
  });

  it('list, get and delete', async () => {
    await cli(['user', 'set', 'acme', 'bob', '--password-stdin'], { stdin: 'bob-password' });
    expect((await cli(['--json', 'user', 'list', '--tenant', 'acme'])).json()).toEqual([
      { tenantId: 'acme', username: 'alice', roles: ['admin'] },
      { tenantId: 'acme', username: 'bob', roles: [] },
    ]);
    expect((await cli(['user', 'list', '--tenant', 'acme'])).stdout).toBe(
      'USERNAME  ROLES\nalice     admin\nbob       -\n',
    );
    expect((await cli(['user', 'list', '--tenant', 'nope'])).code).toBe(1);
    expect((await cli(['user', 'list'])).code).toBe(2);
    expect((await cli(['user', 'get', 'acme', 'bob'])).stdout).toBe(
      'tenantId: acme\nusername: bob\nroles:    -\n',
    );
    expect((await cli(['user', 'get', 'acme', 'carol'])).code).toBe(1);
    expect((await cli(['user', 'delete', 'acme', 'bob'])).code).toBe(0);
    expect(await ts.store.getUser('acme', 'bob')).toBeUndefined();
    expect((await cli(['user', 'delete', 'acme', 'bob'])).code).toBe(1);
  });

  it('revoke ends every grant of the user at once; client revoke every grant of the client', async () => {
    const t = await signIn(app, { username: 'alice', password: PASSWORD });
    const refresh = (token: string) =>
      post(app, TOKEN, { grant_type: 'refresh_token', client_id: 'app', refresh_token: token });
    expect((await cli(['--json', 'user', 'revoke', 'acme', 'alice'])).json()).toEqual({
      tenantId: 'acme',
      username: 'alice',
      grantsEnded: 3, // one sign-in per test of this block
    });
    expect((await refresh(t.refresh_token)).body.error).toBe('invalid_grant');

    const u = await signIn(app, { username: 'alice', password: PASSWORD });
    const run = await cli(['client', 'revoke', 'app']);
    expect(run).toMatchObject({ code: 0, stdout: 'ended 1 grant of client app\n' });
    expect((await refresh(u.refresh_token)).body.error).toBe('invalid_grant');
    expect((await cli(['user', 'revoke', '--help'])).stdout).toContain('end every grant of a user');
  });
});

describe('scope', () => {
  it('set, update, get, list and delete', async () => {
    const set = await cli([
      '--json',
      'scope',
      'set',
      'print',
      '--service',
      'print',
      '--role-check',
      '--role',
      'printer',
      '--role',
      'admin',
    ]);
    expect(set.json()).toEqual({
      name: 'print',
      service: 'print',
      roleCheck: true,
      roles: ['printer', 'admin'],
    });
    expect(await cli(['scope', 'set', 'scan', '--role-check'])).toMatchObject({
      code: 2,
      stderr: 'error: scope.roles: roleCheck: true needs at least one role\n',
    });
    await cli(['scope', 'set', 'print', '--no-role-check']);
    expect(await ts.store.getScope('print')).toEqual({
      name: 'print',
      service: 'print',
      roleCheck: false,
      roles: ['printer', 'admin'],
    });
    await cli(['scope', 'set', 'scan']);
    expect((await cli(['scope', 'list'])).stdout).toBe(
      'NAME   SERVICE  ROLE-CHECK  ROLES\nprint  print    false       printer,admin\nscan   -        false       -\n',
    );
    expect((await cli(['scope', 'get', 'scan'])).stdout).toContain('roleCheck: false\n');
    expect((await cli(['scope', 'get', 'nope'])).code).toBe(1);
    expect((await cli(['scope', 'delete', 'scan'])).code).toBe(0);
    expect(await ts.store.getScope('scan')).toBeUndefined();
    expect((await cli(['scope', 'delete', 'scan'])).code).toBe(1);
  });
});
