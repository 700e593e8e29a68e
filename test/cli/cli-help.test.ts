// tokenward CLI: --help everywhere, usage errors, missing or unreachable Redis, and the executable entry.
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { runCli } from '../helpers/cli';
import { redisUrl } from '../helpers/redis';

const ROOT = path.join(__dirname, '..', '..');

const SUBCOMMANDS: Record<string, string[]> = {
  tenant: ['list', 'get', 'set', 'delete'],
  client: ['list', 'get', 'set', 'delete'],
  user: ['list', 'get', 'set', 'delete'],
  scope: ['list', 'get', 'set', 'delete'],
  keys: ['rotate'],
  device: ['list', 'revoke', 'revoke-all'],
  token: ['introspect', 'revoke'],
};

/** A loopback port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

describe('--help', () => {
  it('the root lists every command, the environment and the exit codes, without REDIS_URL', async () => {
    const run = await runCli(['--help'], { env: {} });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^Usage: tokenward \[options\] \[command\]/);
    for (const command of Object.keys(SUBCOMMANDS))
      expect(run.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    expect(run.stdout).toContain('REDIS_URL');
    expect(run.stdout).toContain('Redis Cluster or Sentinel URL is out of scope');
    expect(run.stdout).toContain('3 Redis unreachable');
  });

  it.each(Object.entries(SUBCOMMANDS))('%s --help lists its subcommands', async (command, subs) => {
    const run = await runCli([command, '--help'], { env: {} });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Usage: tokenward ${command} `);
    for (const sub of subs) expect(run.stdout).toMatch(new RegExp(`^  ${sub}\\b`, 'm'));
    for (const sub of subs)
      expect((await runCli([command, sub, '--help'], { env: {} })).code).toBe(0);
  });

  it('client set --help documents the secret options and the risk of --secret', async () => {
    const { stdout } = await runCli(['client', 'set', '--help'], { env: {} });
    expect(stdout).toContain('--secret-stdin');
    expect(stdout).toContain('visible in ps and history');
    expect(stdout).toContain('prefer --secret-stdin');
  });

  it('--version prints the package version', async () => {
    const run = await runCli(['--version'], { env: {} });
    expect(run).toMatchObject({ code: 0, stdout: `${require('../../package.json').version}\n` });
  });
});

describe('usage errors and Redis trouble', () => {
  it.each([
    [[]],
    [['bogus']],
    [['tenant']],
    [['tenant', 'get']],
    [['tenant', 'get', 'a', 'b']],
    [['tenant', 'list', '--bogus']],
  ])('%j exits 2 with a message and no stack', async (args) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stderr.length).toBeGreaterThan(0);
  });

  it('a missing or malformed REDIS_URL exits 2', async () => {
    expect(await runCli(['tenant', 'list'], { env: {} })).toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringMatching(/^error: REDIS_URL is not set/),
    });
    expect(
      await runCli(['tenant', 'list'], { env: { REDIS_URL: 'localhost:6379' } }),
    ).toMatchObject({ code: 2, stderr: 'error: REDIS_URL must be a redis:// or rediss:// URL\n' });
  });

  it('an unreachable Redis exits 3 within a few seconds, one line naming REDIS_URL, password masked', async () => {
    const url = `redis://user:hunter2@127.0.0.1:${await closedPort()}`;
    const started = Date.now();
    const run = await runCli(['tenant', 'list'], { env: { REDIS_URL: url } });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(
      /^error: cannot reach Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:\d+\/? \(.*ECONNREFUSED.*\); check REDIS_URL\n$/,
    );
    expect(run.stdout).toBe('');
  });
});

describe('bin', () => {
  it('node lib/cli/bin.ts runs: --help exits 0; a refused command exits 1 with stdin read', () => {
    const bin = (args: string[], input = '') =>
      spawnSync(process.execPath, ['--import', 'tsx', path.join('lib', 'cli', 'bin.ts'), ...args], {
        cwd: ROOT,
        input,
        encoding: 'utf8',
        env: { ...process.env, REDIS_URL: redisUrl() },
        timeout: 20_000,
      });
    const help = bin(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: tokenward');
    const refused = bin(
      ['--prefix', 't-cli-bin:', '--json', 'token', 'introspect', '-'],
      'garbage\n',
    );
    expect(refused.status).toBe(1);
    expect(JSON.parse(refused.stdout)).toEqual({ active: false });
    // An empty store has no server's issuer noted: the CLI says it is guessing, then refuses.
    expect(refused.stderr).toMatch(
      /^warning: no server has noted its issuer in this store yet .*\nerror: token is not active\n$/,
    );
  });
});
