// Packs tokenward as published and uses the tarball from a fresh project that brings its own express and
// ioredis (peers): CJS require, ESM import, tokenward/client, node16 types for .mts and .cts, the bin;
// then, in the same project, a strict TypeScript app built and run against each supported major of
// express (4, 5) and ioredis (5, 6), and against the lowest versions the peer ranges admit.
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

/**
 * The app has one copy each of express, ioredis and @types/express, at its top level: nothing nested
 * under node_modules/tokenward, and `npm ls` (which fails on an invalid peer) finds no other.
 */
function expectOneCopyEach(app: string): void {
  const nested = path.join(app, 'node_modules', 'tokenward', 'node_modules');
  const own = existsSync(nested) ? readdirSync(nested) : [];
  expect(own.filter((d) => d === 'express' || d === 'ioredis' || d === '@types')).toEqual([]);
  const copies = run(
    'npm',
    ['ls', 'express', 'ioredis', '@types/express', '--all', '--parseable'],
    app,
  )
    .split('\n')
    .filter(Boolean)
    .map((p) => path.relative(app, p))
    .filter((p) => p.startsWith('node_modules'));
  expect([...new Set(copies)].sort()).toEqual([
    path.join('node_modules', '@types', 'express'),
    path.join('node_modules', 'express'),
    path.join('node_modules', 'ioredis'),
  ]);
}

/** The app's own peers for one run: `npm install` specs, a major ("5") or an exact version. */
interface Peers {
  express: string;
  types: string;
  ioredis: string;
}

// Every major of each peer range, then the lowest versions the ranges admit. Ordered so that each
// step changes little in the installed tree; the first matches this repo's own devDependencies.
const PEER_SETS: Peers[] = [
  { express: '5', types: '5', ioredis: '5' },
  { express: '5', types: '5', ioredis: '6' },
  { express: '4', types: '4', ioredis: '6' },
  { express: '4', types: '4', ioredis: '5' },
  { express: '4.21.0', types: '4.17.21', ioredis: '5.9.2' },
  { express: '5.0.0', types: '5.0.0', ioredis: '6.0.0' },
];

/** The lower bound of each `^x.y.z` alternative of a peer range in our package.json. */
function lowerBounds(name: string): string[] {
  const range: string = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
    .peerDependencies[name];
  return range.split('||').map((r) => r.trim().replace(/^\^/, ''));
}

/** Does an installed `version` answer the spec it was installed by (a major, or exact)? */
const answers = (version: string, spec: string): boolean =>
  spec.includes('.') ? version === spec : version.split('.')[0] === spec;

// Under module/moduleResolution node16: an .mts import and a .cts require of tokenward and
// tokenward/client; the published .d.ts files import from 'express', 'ioredis' and 'node:*'.
const ESM_MTS = [
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
].join('\n');
const CJS_CTS = [
  "import tokenward = require('tokenward');",
  "import type { AuthServerOptions } from 'tokenward';",
  "const options: AuthServerOptions = { issuer: 'http://localhost:4000', store: new tokenward.RedisStore({ redis: null as never }) };",
  'export const issuer: string = tokenward.createAuthServer(options).issuer;',
  '// @ts-expect-error unknown option',
  "tokenward.createAuthServer({ issuer: 'http://localhost:4000', bogus: true });",
  "import client = require('tokenward/client');",
  "export const ctm = new client.TokenManager({ issuer: 'http://localhost:4000', clientId: 'app' });",
].join('\n');

// A consumer's app under `strict` and `noUncheckedIndexedAccess`, with skipLibCheck off so that our
// .d.ts files are checked against the app's own express, @types/express and ioredis. It serves the
// auth server and a guarded route on a RedisStore, standalone then Cluster, and prints what it saw.
const STRICT_TSCONFIG = {
  compilerOptions: {
    module: 'node16',
    moduleResolution: 'node16',
    target: 'ES2022',
    strict: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: false,
    types: ['node'],
    outDir: 'strict-out',
  },
  files: ['esm.mts', 'cjs.cts', 'strict-app.mts'],
};
const STRICT_APP = `
import { once } from 'node:events';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import { Cluster, Redis } from 'ioredis';
import { type AuthContext, createAuthServer, createGuard, RedisStore } from 'tokenward';

const issuer = 'http://localhost:4000';
const keyEncryptionSecret = 'pack-test-key-encryption-secret-0123456789';
const svc = { id: 'svc', secret: 'svc-secret-0123456789' };
const prefix = process.env.PREFIX ?? 'app:';

export const typed = () =>
  // @ts-expect-error the redis option is an ioredis client, not a URL (so it is typed, not any)
  new RedisStore({ redis: 'redis://127.0.0.1:6379' });

async function check(redis: Redis | Cluster) {
  const store = new RedisStore({ redis, prefix });
  // A low scrypt cost for the client secret keeps this quick (it logs a warning saying so).
  const auth = createAuthServer({ issuer, store, keyEncryptionSecret, passwordHashing: { scryptCost: 14 } });
  const guard = createGuard({ issuer, store });
  const app = express();
  app.use(auth.router());
  app.get('/x', guard.authenticate(), guard.requireScope('x'), (req, res) => {
    const ctx: AuthContext | undefined = req.auth;
    const scope: string | undefined = ctx?.scopes[0];
    res.json({ subject: ctx?.subject, scope });
  });
  await auth.admin.upsertTenant({ id: 'acme' });
  await auth.admin.upsertClient({ ...svc, tenantId: 'acme', grants: ['client_credentials'], scopes: ['x', 'y'] });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = 'http://127.0.0.1:' + (server.address() as AddressInfo).port;
  const basic = 'Basic ' + Buffer.from(svc.id + ':' + svc.secret).toString('base64');
  const token = async (scope: string): Promise<string> => {
    const res = await fetch(base + '/oauth2/token', {
      method: 'POST',
      headers: { authorization: basic },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
    });
    const body = (await res.json()) as { access_token?: string };
    if (res.status !== 200 || !body.access_token) throw new Error('token: ' + res.status + ' ' + JSON.stringify(body));
    return body.access_token;
  };
  const call = async (bearer?: string) => {
    const res = await fetch(base + '/x', bearer ? { headers: { authorization: 'Bearer ' + bearer } } : {});
    return { status: res.status, body: res.status === 200 ? await res.json() : undefined };
  };
  const result = {
    scopeX: await call(await token('x')),
    scopeY: (await call(await token('y'))).status,
    anonymous: (await call()).status,
  };
  server.close();
  return result;
}

const redis = new Redis(process.env.REDIS_URL ?? '', { maxRetriesPerRequest: 1 });
const ports = (process.env.CLUSTER_PORTS ?? '').split(',').map(Number);
const cluster = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })), {
  redisOptions: { maxRetriesPerRequest: 1 },
});
const standalone = await check(redis);
const clustered = await check(cluster);
// Every loaded file of express and ioredis, as node_modules/<name>: one copy each, the app's.
const require = createRequire(import.meta.url);
const copies = Object.keys(require.cache)
  .map((f) => path.relative(process.cwd(), f).split(path.sep))
  .map((p) => p.slice(0, p.findIndex((d, i) => p[i - 1] === 'node_modules' && (d === 'express' || d === 'ioredis')) + 1))
  .filter((p) => p.length > 0)
  .map((p) => p.join('/'));
const version = (name: string): string => (require(name + '/package.json') as { version: string }).version;
console.log(JSON.stringify({
  standalone,
  cluster: clustered,
  loaded: { express: version('express'), ioredis: version('ioredis') },
  copies: [...new Set(copies)].sort(),
}));
redis.disconnect();
cluster.disconnect();
`;

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
    expectOneCopyEach(app);
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

  it('the peer sets below cover every major and every lower bound of the peer ranges', () => {
    for (const [name, key] of [
      ['express', 'express'],
      ['@types/express', 'types'],
      ['ioredis', 'ioredis'],
    ] as const) {
      const specs = PEER_SETS.map((p) => p[key]);
      const lows = lowerBounds(name);
      expect(specs).toEqual(expect.arrayContaining(lows));
      expect(specs).toEqual(expect.arrayContaining(lows.map((v) => v.split('.')[0])));
    }
  });

  describe.each(PEER_SETS)(
    'on express $express, @types/express $types, ioredis $ioredis',
    (peers) => {
      const specs = [
        `express@${peers.express}`,
        `@types/express@${peers.types}`,
        `ioredis@${peers.ioredis}`,
      ];

      beforeAll(() => {
        // No --prefer-offline: a major resolves to its newest release, as for a user; tarballs come
        // from the npm cache once fetched.
        run('npm', ['install', '--no-audit', '--no-fund', ...specs], app);
      });

      it('installs them once, at the app level: none nested under tokenward', () => {
        const installed = (name: string): string =>
          JSON.parse(readFileSync(path.join(app, 'node_modules', name, 'package.json'), 'utf8'))
            .version;
        expect(answers(installed('express'), peers.express)).toBe(true);
        expect(answers(installed('@types/express'), peers.types)).toBe(true);
        expect(answers(installed('ioredis'), peers.ioredis)).toBe(true);
        expectOneCopyEach(app);
      });

      it('a strict TypeScript app, an .mts import and a .cts require type-check against them and our .d.ts', () => {
        writeFileSync(path.join(app, 'tsconfig.strict.json'), JSON.stringify(STRICT_TSCONFIG));
        writeFileSync(path.join(app, 'esm.mts'), ESM_MTS);
        writeFileSync(path.join(app, 'cjs.cts'), CJS_CTS);
        writeFileSync(path.join(app, 'strict-app.mts'), STRICT_APP);
        rmSync(path.join(app, 'strict-out'), { recursive: true, force: true });
        run(
          'node',
          [
            path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
            '-p',
            'tsconfig.strict.json',
          ],
          app,
        );
        expect(readdirSync(path.join(app, 'strict-out')).sort()).toEqual([
          'cjs.cjs',
          'esm.mjs',
          'strict-app.mjs',
        ]);
      });

      it('the app runs: a client_credentials token passes the guard chain, on Redis and on Cluster', () => {
        const out = run('node', [path.join('strict-out', 'strict-app.mjs')], app, {
          REDIS_URL: redisUrl(),
          CLUSTER_PORTS: process.env.TW_CLUSTER_PORTS ?? '',
          PREFIX: uniquePrefix('pack-peers'),
        });
        const seen = JSON.parse(out.trim().split('\n').pop() ?? '');
        const served = {
          scopeX: { status: 200, body: { subject: 'svc', scope: 'x' } },
          scopeY: 403,
          anonymous: 401,
        };
        expect(seen).toEqual({
          standalone: served,
          cluster: served,
          loaded: { express: expect.any(String), ioredis: expect.any(String) },
          copies: ['node_modules/express', 'node_modules/ioredis'],
        });
        expect(answers(seen.loaded.express, peers.express)).toBe(true);
        expect(answers(seen.loaded.ioredis, peers.ioredis)).toBe(true);
      });
    },
  );
});
