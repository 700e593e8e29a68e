// tokenward CLI, resource servers (RFC 8707) against real Redis: set/get/list/delete, read back
// through the store, and what a token request naming the resource gets afterwards.
import type { Express } from 'express';
import { decodeJwt } from 'jose';
import { buildApp, post, SVC, seed, TOKEN } from '../helpers/app';
import { cliFor, runCli } from '../helpers/cli';
import { makeStore, type TestStore } from '../helpers/stores';

let ts: TestStore;
let app: Express;
let cli: ReturnType<typeof cliFor>;

const PRINT = 'https://print.example';
const SCAN = 'https://api.example/scan';

beforeAll(async () => {
  ts = await makeStore('redis', 'cli-resources');
  const built = buildApp(ts.store, { clientCacheTtl: 0 });
  app = built.app;
  await seed(built.auth);
  await built.auth.admin.upsertScope({ name: 'print', service: 'print' });
  await built.auth.admin.upsertScope({ name: 'scan', service: 'scan' });
  cli = cliFor(ts.prefix as string);
});
afterAll(() => ts.close());

const issue = (resource: string) =>
  post(app, TOKEN, { grant_type: 'client_credentials', resource }, SVC);

describe('resource --help', () => {
  it('the root lists the resource command; it and each subcommand have --help, without REDIS_URL', async () => {
    expect((await runCli(['--help'], { env: {} })).stdout).toMatch(/^ {2}resource /m);
    const help = await runCli(['resource', '--help'], { env: {} });
    expect(help.code).toBe(0);
    for (const sub of ['list', 'get', 'set', 'delete'])
      expect(help.stdout).toMatch(new RegExp(`^ {2}${sub}\\b`, 'm'));
    expect(help.stdout).toContain('compared exactly');
    expect(help.stdout).toContain('tokenward resource set https://print.example --service print');
    for (const sub of ['list', 'get', 'set', 'delete'])
      expect((await runCli(['resource', sub, '--help'], { env: {} })).code).toBe(0);
    const set = await runCli(['resource', 'set', '--help'], { env: {} });
    expect(set.stdout).toContain('--service <service...>');
    expect(set.stdout).toContain('--name <name>');
  });
});

describe('resource', () => {
  it('set creates; a second set changes only what it names; get, list and --json show it', async () => {
    const created = await cli([
      'resource',
      'set',
      PRINT,
      '--service',
      'print',
      '--name',
      'Cloud Print',
    ]);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toBe(`uri:      ${PRINT}\nservices: print\nname:     Cloud Print\n`);
    expect(await ts.store.getResource(PRINT)).toEqual({
      uri: PRINT,
      services: ['print'],
      name: 'Cloud Print',
    });

    // Repeatable and comma-separated services; the name is kept.
    await cli(['resource', 'set', PRINT, '--service', 'print', '--service', 'fax,scan']);
    expect(await ts.store.getResource(PRINT)).toEqual({
      uri: PRINT,
      services: ['print', 'fax', 'scan'],
      name: 'Cloud Print',
    });
    // '' clears the name; the services are kept.
    await cli(['resource', 'set', PRINT, '--name', '']);
    expect(await ts.store.getResource(PRINT)).toEqual({
      uri: PRINT,
      services: ['print', 'fax', 'scan'],
    });
    await cli(['resource', 'set', SCAN, '--service', 'scan']);

    const get = await cli(['--json', 'resource', 'get', SCAN]);
    expect(get.json()).toEqual({ uri: SCAN, services: ['scan'] });
    expect((await cli(['resource', 'list', '--json'])).json()).toEqual([
      { uri: SCAN, services: ['scan'] },
      { uri: PRINT, services: ['print', 'fax', 'scan'] },
    ]);
    expect((await cli(['resource', 'list'])).stdout).toBe(
      `URI                       SERVICES        NAME\n${SCAN}  scan            -\n${PRINT}     print,fax,scan  -\n`,
    );
  });

  it('invalid input exits 2 naming the field, and stores nothing', async () => {
    const cases: [string[], string][] = [
      [
        ['resource', 'set', 'https://new.example'],
        'resource.services: must name at least one service',
      ],
      [
        ['resource', 'set', 'print.example', '--service', 'print'],
        'resource.uri: is not an absolute URL',
      ],
      [
        ['resource', 'set', 'http://print.example', '--service', 'print'],
        'resource.uri: must use https (http only for localhost)',
      ],
      [
        ['resource', 'set', 'https://print.example/#x', '--service', 'print'],
        'resource.uri: must have no query or fragment (RFC 8707 §2, RFC 9728 §1.2)',
      ],
      [
        ['resource', 'set', 'https://print.example', '--service', 'bad/service'],
        'resource.services: "bad/service" is not a valid service name',
      ],
    ];
    const before = await ts.snapshot();
    for (const [args, message] of cases)
      expect(await cli(args)).toMatchObject({ code: 2, stderr: `error: ${message}\n` });
    expect(await ts.snapshot()).toBe(before);
  });

  it('a registered resource sets the audience of tokens asked for it; deleted, it is invalid_target', async () => {
    await cli(['resource', 'set', 'https://cli.example', '--service', 'scan']);
    const res = await issue('https://cli.example');
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).aud).toBe('https://cli.example');
    expect(res.body.scope).toBe('scan');

    expect(await cli(['resource', 'delete', 'https://cli.example'])).toMatchObject({
      code: 0,
      stdout: 'deleted resource https://cli.example\n',
    });
    expect(await ts.store.getResource('https://cli.example')).toBeUndefined();
    expect((await issue('https://cli.example')).body.error).toBe('invalid_target');
  });

  it('get and delete of an unknown resource exit 1', async () => {
    expect(await cli(['resource', 'get', 'https://nope.example'])).toMatchObject({
      code: 1,
      stderr: 'error: resource "https://nope.example" not found\n',
    });
    expect((await cli(['resource', 'delete', 'https://nope.example'])).code).toBe(1);
    expect((await cli(['--json', 'resource', 'delete', SCAN])).json()).toEqual({
      deleted: true,
      uri: SCAN,
    });
    expect((await cli(['resource', 'delete', SCAN])).code).toBe(1);
  });
});
