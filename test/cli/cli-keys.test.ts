// tokenward CLI, `keys rotate` and keys at rest: never a clear key where sealed ones exist, never one by accident.

import { buildApp, post, SVC, seed, TOKEN } from '../helpers/app';
import { cliFor } from '../helpers/cli';
import { TEST_KEY_SECRET } from '../helpers/key-secret';
import { redisUrl } from '../helpers/redis';
import { makeStore, type TestStore } from '../helpers/stores';

const withSecret = (secret = TEST_KEY_SECRET) => ({
  REDIS_URL: redisUrl(),
  TOKENWARD_KEY_SECRET: secret,
});

let ts: TestStore;
let cli: ReturnType<typeof cliFor>;
let n = 0;
beforeEach(async () => {
  ts = await makeStore('redis', `cli-keys-${++n}`);
  cli = cliFor(ts.prefix as string);
});
afterEach(() => ts.close());

/** A server sealing with the test secret issues a token, so that the store holds its sealed key. */
async function sealedServer() {
  const t = buildApp(ts.store, { keyEncryptionSecret: TEST_KEY_SECRET });
  await seed(t.auth);
  expect((await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC)).status).toBe(200);
  return t;
}

describe('keys rotate without TOKENWARD_KEY_SECRET', () => {
  it('where sealed keys exist: exits 2 naming TOKENWARD_KEY_SECRET and writes nothing, even with --insecure-clear-keys', async () => {
    await sealedServer();
    const before = await ts.snapshot();
    for (const args of [
      ['keys', 'rotate'],
      ['keys', 'rotate', '--insecure-clear-keys'],
    ]) {
      const run = await cli(args);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^error: .*TOKENWARD_KEY_SECRET/);
      expect(run.stderr).not.toMatch(/^\s+at /m);
    }
    expect(await ts.snapshot()).toBe(before);
  });

  it('where no keys exist yet: exits 2 naming TOKENWARD_KEY_SECRET and --insecure-clear-keys, writes nothing', async () => {
    const run = await cli(['keys', 'rotate']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('TOKENWARD_KEY_SECRET');
    expect(run.stderr).toContain('--insecure-clear-keys');
    expect(await ts.store.getSigningKeys()).toEqual([]);
  });

  it('where no keys exist yet, --insecure-clear-keys writes a clear key (development only)', async () => {
    const run = await cli(['--json', 'keys', 'rotate', '--insecure-clear-keys']);
    expect(run.code).toBe(0);
    const [key] = await ts.store.getSigningKeys();
    expect(key?.kid).toBe(run.json<{ kid: string }>().kid);
    expect(key?.privateJwk).toBeDefined();
  });

  it('commands that only read keys never create one: token introspect on an empty store', async () => {
    const run = await cli(['token', 'introspect', 'not-a-token']);
    expect(run.code).toBe(1);
    expect(await ts.store.getSigningKeys()).toEqual([]);
  });
});

describe('keys rotate with TOKENWARD_KEY_SECRET', () => {
  it('seals the new key, retires the old one without its private part; servers sign with the new key', async () => {
    await sealedServer();
    const [first] = await ts.store.getSigningKeys();
    const run = await cli(['--json', 'keys', 'rotate'], { env: withSecret() });
    expect(run.code).toBe(0);
    const { kid } = run.json<{ kid: string }>();
    const keys = await ts.store.getSigningKeys();
    expect(keys[0]).toMatchObject({ kid, sealedPrivateJwk: expect.stringMatching(/^v1\./) });
    expect(keys[0]?.privateJwk).toBeUndefined();
    const retired = keys.find((k) => k.kid === first?.kid);
    expect(retired?.retiredAt).toEqual(expect.any(Number));
    expect(retired).not.toHaveProperty('sealedPrivateJwk');
    expect(retired).not.toHaveProperty('privateJwk');
    // A fresh server instance (no cached keys) opens the CLI's key and signs with it.
    const other = buildApp(ts.store, { keyEncryptionSecret: TEST_KEY_SECRET });
    const res = await post(other.app, TOKEN, { grant_type: 'client_credentials' }, SVC);
    expect(res.status).toBe(200);
    const header = JSON.parse(
      Buffer.from(res.body.access_token.split('.')[0], 'base64url').toString(),
    );
    expect(header.kid).toBe(kid);
  });

  it('a secret that does not open the active key exits 2 and writes nothing', async () => {
    await sealedServer();
    const before = await ts.snapshot();
    const run = await cli(['keys', 'rotate'], { env: withSecret('x'.repeat(40)) });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/TOKENWARD_KEY_SECRET does not open the active signing key/);
    expect(await ts.snapshot()).toBe(before);
  });

  it('--insecure-clear-keys with TOKENWARD_KEY_SECRET is a usage error', async () => {
    const run = await cli(['keys', 'rotate', '--insecure-clear-keys'], { env: withSecret() });
    expect(run.code).toBe(2);
    expect(await ts.store.getSigningKeys()).toEqual([]);
  });
});

describe('keys rotate --help', () => {
  it('names TOKENWARD_KEY_SECRET and --insecure-clear-keys (development only)', async () => {
    const { code, stdout } = await cli(['keys', 'rotate', '--help'], { env: {} });
    expect(code).toBe(0);
    expect(stdout).toContain('TOKENWARD_KEY_SECRET');
    expect(stdout).toContain('--insecure-clear-keys');
    expect(stdout).toMatch(/development only/);
    const root = await cli(['--help'], { env: {} });
    expect(root.stdout).toContain('TOKENWARD_KEY_SECRET');
  });
});
