// Packs tokenward as published and uses the tarball from a fresh project that brings its own express and
// ioredis (peers): CJS require, ESM import, tokenward/client, node16 types for .mts and .cts, the bin.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { redisUrl, uniquePrefix } from '../helpers/redis';

jest.setTimeout(240_000);

const ROOT = path.join(__dirname, '..', '..');
// Without the npm_* variables of an enclosing `npm test`, which would point nested npm runs at this repo.
const ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'INIT_CWD'),
);

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): string {
  try {
    return execFileSync(cmd, args, {
      cwd,
      env: { ...ENV, ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 180_000,
    });
  } catch (e) {
    const err = e as { message: string; stdout?: string; stderr?: string };
    throw new Error(
      `${cmd} ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`,
    );
  }
}

const INSTALL = ['install', '--no-audit', '--no-fund', '--prefer-offline'];
const versionOf = (pkg: string): string =>
  JSON.parse(readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;

describe('npm pack', () => {
  let tmp = '';
  let app = '';
  let tarball = '';

  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'tokenward-pack-'));
    run('npm', ['pack', '--pack-destination', tmp], ROOT); // prepack builds dist/
    const name = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    if (!name) throw new Error(`npm pack wrote no tarball into ${tmp}`);
    tarball = path.join(tmp, name);
    app = path.join(tmp, 'consumer');
    mkdirSync(app);
    // The app brings its own express and ioredis (tokenward's peers), and the types a TypeScript
    // + Express app has anyway; the versions this repo uses, so the npm cache serves them.
    writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({
        name: 'consumer',
        version: '1.0.0',
        private: true,
        dependencies: {
          express: versionOf('express'),
          ioredis: versionOf('ioredis'),
          tokenward: `file:${tarball}`,
        },
        devDependencies: {
          '@types/express': versionOf('@types/express'),
          '@types/node': versionOf('@types/node'),
        },
      }),
    );
    run('npm', INSTALL, app);
  });

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('holds only dist/, package.json, README.md and LICENSE', () => {
    const entries = run('tar', ['-tzf', tarball], tmp).split('\n').filter(Boolean);
    const stray = entries.filter(
      (e) => !/^package\/(dist\/.+|package\.json|README\.md|LICENSE(\.md)?)$/.test(e),
    );
    expect(stray).toEqual([]);
    for (const f of ['index.js', 'index.d.ts', 'client.mjs', 'client.d.mts', 'cli/bin.js'])
      expect(entries).toContain(`package/dist/${f}`);
  });

  it('express and ioredis are peers: the app has one copy of each, tokenward none of its own', () => {
    const pkg = JSON.parse(
      readFileSync(path.join(app, 'node_modules', 'tokenward', 'package.json'), 'utf8'),
    );
    expect(Object.keys(pkg.dependencies)).not.toEqual(
      expect.arrayContaining([expect.stringMatching(/^(express|ioredis|@types\/express)$/)]),
    );
    expect(Object.keys(pkg.peerDependencies)).toEqual(
      expect.arrayContaining(['express', 'ioredis']),
    );
    const nested = path.join(app, 'node_modules', 'tokenward', 'node_modules');
    const own = existsSync(nested) ? readdirSync(nested) : [];
    expect(own.filter((d) => d === 'express' || d === 'ioredis' || d === '@types')).toEqual([]);
    const copies = run('npm', ['ls', 'express', 'ioredis', '--all', '--parseable'], app)
      .split('\n')
      .filter(Boolean)
      .map((p) => path.relative(app, p))
      .filter((p) => p.startsWith('node_modules'));
    expect([...new Set(copies)].sort()).toEqual([
      path.join('node_modules', 'express'),
      path.join('node_modules', 'ioredis'),
    ]);
  });

  it("require('tokenward') gives the classes and functions", () => {
    const out = run(
      'node',
      [
        '-e',
        "const t = require('tokenward'); console.log(JSON.stringify([t.createAuthServer, t.MemoryStore, t.RedisStore].map((f) => typeof f)))",
      ],
      app,
    );
    expect(JSON.parse(out)).toEqual(['function', 'function', 'function']);
  });

  it("import { createAuthServer, RedisStore } from 'tokenward' serves on the app's express with the app's ioredis", () => {
    writeFileSync(
      path.join(app, 'check.mjs'),
      [
        "import { once } from 'node:events';",
        "import { createRequire } from 'node:module';",
        "import path from 'node:path';",
        "import express from 'express';",
        "import { Redis } from 'ioredis';",
        "import tokenward, { createAuthServer, MemoryStore, OAuthError, RedisStore } from 'tokenward';",
        'const require = createRequire(import.meta.url);',
        "const cjs = require('tokenward');",
        'const redis = new Redis(process.env.REDIS_URL);',
        'const store = new RedisStore({ redis, prefix: process.env.PREFIX });',
        "const keyEncryptionSecret = 'pack-test-key-encryption-secret-0123456789';",
        "const auth = createAuthServer({ issuer: 'http://localhost:4000', store, keyEncryptionSecret });",
        'const app = express();',
        'app.use(auth.router());',
        "const server = app.listen(0, '127.0.0.1');",
        "await once(server, 'listening');",
        "const res = await fetch('http://127.0.0.1:' + server.address().port + '/oauth2/jwks');",
        'const jwks = await res.json();',
        "// Every loaded file of express and ioredis, as node_modules/<name>: one copy each, the app's.",
        'const copies = Object.keys(require.cache)',
        '  .map((f) => path.relative(process.cwd(), f).split(path.sep))',
        "  .filter((p) => p[0] === 'node_modules' && p.slice(1).some((d) => d === 'express' || d === 'ioredis'))",
        "  .map((p) => p.slice(0, p.lastIndexOf('node_modules') + 2).join('/'));",
        'console.log(JSON.stringify({',
        '  status: res.status,',
        '  keys: jwks.keys.length,',
        '  memory: typeof new MemoryStore().close,',
        '  sameModule: tokenward === cjs && OAuthError === cjs.OAuthError,',
        '  copies: [...new Set(copies)].sort(),',
        '}));',
        'server.close();',
        'redis.disconnect();',
        'process.exit(0);',
      ].join('\n'),
    );
    const out = run('node', ['check.mjs'], app, {
      REDIS_URL: redisUrl(),
      PREFIX: uniquePrefix('pack'),
    });
    expect(JSON.parse(out)).toEqual({
      status: 200,
      keys: 1,
      memory: 'function',
      sameModule: true,
      copies: ['node_modules/express', 'node_modules/ioredis'],
    });
  });

  it("import … from 'tokenward/client' gives the browser bundle; require gives the CJS build", () => {
    writeFileSync(
      path.join(app, 'client.mjs'),
      [
        "import { LocalStorage, MemoryStorage, TokenManager } from 'tokenward/client';",
        "import { createRequire } from 'node:module';",
        "import { fileURLToPath } from 'node:url';",
        "const tm = new TokenManager({ issuer: 'http://localhost:4000', clientId: 'app', storage: new MemoryStorage() });",
        "const cjs = createRequire(import.meta.url)('tokenward/client');",
        'console.log(JSON.stringify({',
        '  types: [TokenManager, MemoryStorage, LocalStorage].map((f) => typeof f),',
        '  tokens: tm.tokens(),',
        "  bundle: fileURLToPath(import.meta.resolve('tokenward/client')).endsWith('dist/client.mjs'),",
        '  cjs: [cjs.TokenManager, cjs.MemoryStorage, cjs.LocalStorage, cjs.FileStorage].map((f) => typeof f),',
        '}));',
      ].join('\n'),
    );
    expect(JSON.parse(run('node', ['client.mjs'], app))).toEqual({
      types: ['function', 'function', 'function'],
      tokens: [],
      bundle: true,
      cjs: ['function', 'function', 'function', 'undefined'],
    });
  });

  it('installs the tokenward bin: npx tokenward --help exits 0', () => {
    expect(run('npx', ['tokenward', '--help'], app)).toMatch(
      /^Usage: tokenward \[options\] \[command\]/,
    );
  });

  it('type-checks an .mts import and a .cts require under module/moduleResolution node16', () => {
    // The published .d.ts files import from 'express', 'ioredis' and 'node:*': the app's copies.
    const compilerOptions = {
      module: 'node16',
      moduleResolution: 'node16',
      target: 'ES2022',
      strict: true,
      noEmit: true,
      types: ['node'],
    };
    writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions, files: ['esm.mts', 'cjs.cts'] }),
    );
    writeFileSync(
      path.join(app, 'esm.mts'),
      [
        "import tokenward, { createAuthServer, MemoryStore, OAuthError, type AuthServer, type TokenResponse } from 'tokenward';",
        "const auth: AuthServer = createAuthServer({ issuer: 'http://localhost:4000', store: new MemoryStore() });",
        'export const issuer: string = auth.metadata().issuer;',
        'export const same: typeof createAuthServer = tokenward.createAuthServer;',
        'export type T = TokenResponse | OAuthError;',
        '// @ts-expect-error issuer must be a string (proves the types are not any)',
        'createAuthServer({ issuer: 1 });',
        "import { FileStorage, TokenManager as NodeTokenManager } from 'tokenward';",
        "import { LocalStorage, TokenManager, type TokenManagerOptions } from 'tokenward/client';",
        "const options: TokenManagerOptions = { issuer: 'http://localhost:4000', clientId: 'app' };",
        'export const tm: TokenManager = new TokenManager({ ...options, storage: new LocalStorage({ storage: {} as never }) });',
        "export const nodeTm = new NodeTokenManager({ ...options, storage: new FileStorage('/tmp/t.json') });",
        'export const token: Promise<string> = tm.getAccessToken();',
        '// @ts-expect-error clientId is required',
        "new TokenManager({ issuer: 'http://localhost:4000' });",
        "import express from 'express';",
        "import { Redis } from 'ioredis';",
        "import { RedisStore } from 'tokenward';",
        'const app = express();',
        "const store = new RedisStore({ redis: new Redis({ lazyConnect: true }), prefix: 'app:' });",
        "app.use(createAuthServer({ issuer: 'http://localhost:4000', store }).router());",
      ].join('\n'),
    );
    writeFileSync(
      path.join(app, 'cjs.cts'),
      [
        "import tokenward = require('tokenward');",
        "import type { AuthServerOptions } from 'tokenward';",
        "const options: AuthServerOptions = { issuer: 'http://localhost:4000', store: new tokenward.RedisStore({ redis: null as never }) };",
        'export const issuer: string = tokenward.createAuthServer(options).issuer;',
        '// @ts-expect-error unknown option',
        "tokenward.createAuthServer({ issuer: 'http://localhost:4000', bogus: true });",
        "import client = require('tokenward/client');",
        "export const ctm = new client.TokenManager({ issuer: 'http://localhost:4000', clientId: 'app' });",
      ].join('\n'),
    );
    run(
      'node',
      [
        path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '--noEmit',
        '-p',
        'tsconfig.json',
      ],
      app,
    );
  });
});
