// Every command in README.md runs: the curl tour against a fresh sample, the CLI block against real Redis.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import express from 'express';
import { createAuthServer, RedisStore } from '../../lib';
import { startSample } from '../../sample-app/sample';
import { post } from '../helpers/app';
import { TEST_KEY_SECRET } from '../helpers/key-secret';
import { newRedis, redisUrl, uniquePrefix, waitReady } from '../helpers/redis';

const ROOT = path.join(__dirname, '..', '..');
const run = promisify(execFile);

/** The ```sh blocks of the README, in order. */
function shellBlocks(): string[] {
  const text = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  return [...text.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) => m[1] as string);
}

const bash = (script: string, env: Record<string, string> = {}) =>
  run('bash', ['-e', '-o', 'pipefail', '-c', script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    timeout: 60_000,
  });

describe('README commands', () => {
  const blocks = shellBlocks();

  it('has exactly the blocks this test knows how to check (add a check when adding a block)', () => {
    expect(blocks).toHaveLength(3);
    // Block 1: `npm install && npm start`, `npm run demo`, `npm test` — run by
    // test/system/sample-start.test.ts, test/system/demo.test.ts and .ci/run.
    expect(
      blocks[0]
        ?.split('\n')
        .filter(Boolean)
        .map((l) => l.split('#')[0]?.trim()),
    ).toEqual(['npm install && npm start', 'npm run demo', 'npm test']);
  });

  it('the curl tour runs against a fresh sample and shows what it says', async () => {
    const sample = await startSample({ authPort: 0, printPort: 0 });
    try {
      const tour = (blocks[1] as string)
        .replaceAll('http://localhost:4000', sample.issuer)
        .replaceAll('http://localhost:4100', sample.printUrl);
      const { stdout } = await bash(tour);
      const lines = stdout.split('\n');
      const lineAfter = (marker: string) => lines[lines.findIndex((l) => l.startsWith(marker)) + 1];
      expect(lineAfter('Renewal hints:')).toMatch(/^200 Token-Expires-In: \d+$/);
      expect(lineAfter('Refresh-token families: rotate twice')).toMatch(/^200 /);
      expect(stdout).toContain('revoke: 200');
      expect(lineAfter('revoke: 200')).toContain('"error":"invalid_grant"');
      expect(stdout).toMatch(/401 Token-Expires-In: \n/);
      const reuse = lines.slice(lines.findIndex((l) => l.startsWith('Reuse detection:')) + 1);
      expect(reuse[0]).toContain('invalid_grant');
      expect(reuse[1]).toContain('invalid_grant');
      const devices = lines.slice(lines.findIndex((l) => l.startsWith('Device sessions:')) + 1);
      expect(devices[0]).toMatch(/^200 Token-Expires-In: 300$/);
      expect(devices[1]).toMatch(/^200 Token-Expires-In: 300$/);
      expect(stdout).toContain(
        '{"kind":"local_user","id":"front-desk-7","tenantId":"acme","clientId":"print-service"}',
      );
      expect(stdout).toContain('{"kind":"client","id":"kiosk","tenantId":"globex"}');
      expect(stdout).toContain('alice: 201');
      expect(stdout).toMatch(/^HTTP\/1\.1 403/m);
      expect(stdout).toMatch(/^www-authenticate: .*error="insufficient_scope".*scope="print"/im);
      expect(stdout).toContain('"active":true');
    } finally {
      await sample.close();
    }
  }, 60_000);

  it('the CLI block runs against real Redis (npx tokenward → the bin from source)', async () => {
    const prefix = uniquePrefix('readme-cli');
    const redis = newRedis();
    await waitReady(redis);
    // What the block assumes exists: alice signed in on phone-1, whose token it introspects.
    const auth = createAuthServer({
      issuer: 'http://localhost:4000',
      store: new RedisStore({ redis, prefix }),
      rateLimit: false,
      clientCacheTtl: 0,
      keyEncryptionSecret: TEST_KEY_SECRET,
    });
    await auth.admin.upsertTenant({ id: 'acme' });
    await auth.admin.upsertClient({
      id: 'mobile-app',
      public: true,
      tenantId: 'acme',
      grants: ['password', 'refresh_token'],
      scopes: ['print'],
    });
    await auth.admin.upsertUser({
      tenantId: 'acme',
      username: 'alice',
      password: 'alice-password',
    });
    const app = express().use(auth.router());
    const signIn = await post(app, '/oauth2/token', {
      grant_type: 'password',
      client_id: 'mobile-app',
      username: 'alice',
      password: 'alice-password',
      device_id: 'phone-1',
    });
    expect(signIn.status).toBe(200);
    try {
      const script = (blocks[2] as string)
        .replace(/^export REDIS_URL=.*$/m, '')
        .replaceAll('npx tokenward', `node --import tsx lib/cli/bin.ts --prefix ${prefix}`);
      const { stdout } = await bash(script, {
        REDIS_URL: redisUrl(),
        SVC_SECRET: 'svc-secret-0123456789',
        // The password alice has: a new one would end her grants, and the token with them.
        ALICE_PASSWORD: 'alice-password',
        TOKEN: signIn.body.access_token,
        // `keys rotate` seals the new key with the servers' secret (and refuses without it).
        TOKENWARD_KEY_SECRET: TEST_KEY_SECRET,
      });
      expect(stdout).toContain('"id": "svc"');
      expect(stdout).toContain('phone-1');
      expect(stdout).toMatch(/active:\s+true/);
      expect(stdout).toContain('ended 1 grant of alice');
      expect(await auth.admin.introspectToken(signIn.body.access_token)).toEqual({ active: false });
      expect((await auth.admin.getClient('svc'))?.localUsers).toBe(true);
      expect(await auth.admin.listDeviceSessions('acme', 'alice')).toEqual([]);
      expect((await auth.admin.getUser('acme', 'alice'))?.roles).toEqual(['printer']);
    } finally {
      await redis.quit();
    }
  }, 60_000);
});
