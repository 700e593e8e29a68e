// Cost: Redis bytes per live grant, MemoryStore memory after tokens expire, store round trips per request.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import express from 'express';
import { Redis } from 'ioredis';
import {
  type AuthServer,
  createAuthServer,
  createGuard,
  MemoryStore,
  RedisStore,
  type Store,
} from '../lib';
import { newGrantId } from '../lib/core/grant-id';
import { parseAuthServerOptions } from '../lib/options/auth-server-options';
import { redisKeys } from '../lib/store/keys';
import { grantHorizon } from '../lib/store/ledger';
import { newRefreshToken } from '../lib/tokens/refresh-token';
import { randomId } from '../lib/tokens/secrets';
import {
  ensureRedisInstalled,
  type Standalone,
  startStandalone,
} from '../test/helpers/redis-launcher';
import { KEY_SECRET } from './shared';

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false } },
});
const QUICK = args.quick ?? false;
/** Live grants measured in Redis, and tokens issued then expired on MemoryStore. */
const GRANTS = QUICK ? 20_000 : 100_000;
const IN_FLIGHT = 32;
/** Requests per round-trip measurement. */
const RT_REQUESTS = 1000;
/** client_credentials clients, round-robin (each client's first secret check is one scrypt). */
const CC_CLIENTS = 8;
const PREFIX = 'cost:';
/** The cost targets (bench/README.md, Cost): bytes per grant, round trips per request. */
const TARGET_BYTES = 1024;
const TARGET_GUARD_RT = 1;
const TARGET_ISSUE_RT = 2;
/** Rotations after which one family's bytes are measured (the target holds at any age). */
const FAMILY_AGES = [0, 1000, 10_000] as const;
/** MemoryStore: access-token lifetime (s) of the expiry run; "flat" = heap back within this of start. */
const SHORT_TTL = 5;
const FLAT_SLACK = 2 * 1048576;

const TOKEN_PATH = '/oauth2/token';
const CC_SECRET = 'cost-cc-secret-0123456789';
const APP_ID = 'cost-app';
const USER = { username: 'alice', password: 'alice-password' };
/** The user whose one family is measured as it ages (its own device-session hash). */
const AGED_USER = { username: 'carol', password: 'carol-password' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = (n: number) => Math.round((n / 1048576) * 10) / 10;
const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;

// ---- HTTP load: node:http keep-alive agent, IN_FLIGHT requests at a time ----------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

function send(
  port: number,
  method: 'GET' | 'POST',
  urlPath: string,
  headers: Record<string, string>,
  form?: Record<string, string>,
): Promise<Reply> {
  const body = form ? new URLSearchParams(form).toString() : undefined;
  const formHeaders = body
    ? {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(Buffer.byteLength(body)),
      }
    : {};
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        agent,
        headers: { ...headers, ...formHeaders },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: Record<string, unknown>;
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            parsed = { raw: text };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function ok(r: Reply, what: string): Record<string, unknown> {
  if (r.status !== 200) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Runs task(0 … n-1), `inFlight` at a time. */
async function pool(n: number, inFlight: number, task: (i: number) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
}

const basic = (id: string) => `Basic ${Buffer.from(`${id}:${CC_SECRET}`).toString('base64')}`;

/** n client_credentials tokens over HTTP, round-robin over the clients. */
async function issueCc(port: number, n: number, onToken?: (token: string, i: number) => void) {
  await pool(n, IN_FLIGHT, async (i) => {
    const r = await send(
      port,
      'POST',
      TOKEN_PATH,
      { authorization: basic(`cc-${i % CC_CLIENTS}`) },
      { grant_type: 'client_credentials', scope: 'print' },
    );
    onToken?.(String(ok(r, 'client_credentials').access_token), i);
  });
}

async function signIn(port: number, deviceId?: string, user = USER) {
  const r = await send(
    port,
    'POST',
    TOKEN_PATH,
    {},
    {
      grant_type: 'password',
      client_id: APP_ID,
      ...user,
      ...(deviceId ? { device_id: deviceId } : {}),
    },
  );
  const body = ok(r, 'password sign-in');
  return {
    access: String(body.access_token),
    refresh: String(body.refresh_token),
    scope: String(body.scope),
  };
}

async function rotate(port: number, refresh: string): Promise<string> {
  const r = await send(
    port,
    'POST',
    TOKEN_PATH,
    {},
    { grant_type: 'refresh_token', client_id: APP_ID, refresh_token: refresh },
  );
  return String(ok(r, 'refresh rotation').refresh_token);
}

/** The grant id (`gid` claim) of an access token. */
function gidOf(jwt: string): string {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString());
  return String(payload.gid);
}

/** An Express 5 app on 127.0.0.1, port 0; the issuer names that port, so listen first. */
async function listen() {
  const app = express();
  const server = await new Promise<http.Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  // Idle keep-alive sockets must outlive the waits between phases: with Node's default of 5 s the
  // server closes them while the agent reuses them (socket hang up).
  server.keepAliveTimeout = 600_000;
  const port = (server.address() as AddressInfo).port;
  return { app, server, port, issuer: `http://127.0.0.1:${port}` };
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}

/** Tenant, client_credentials clients cc-0 … (one scrypt: copies of cc-0's record), the app and its user. */
async function seed(auth: AuthServer, store: Store, withUser: boolean) {
  const a = auth.admin;
  await a.upsertTenant({ id: 'acme' });
  await a.upsertClient({
    id: 'cc-0',
    secret: CC_SECRET,
    tenantId: 'acme',
    grants: ['client_credentials'],
    scopes: ['print'],
  });
  const template = await store.getClient('cc-0');
  if (!template) throw new Error('cc-0 was not stored');
  for (let i = 1; i < CC_CLIENTS; i++) await store.putClient({ ...template, id: `cc-${i}` });
  if (!withUser) return;
  await a.upsertClient({
    id: APP_ID,
    public: true,
    tenantId: 'acme',
    grants: ['password', 'refresh_token'],
    scopes: ['print'],
  });
  await a.upsertUser({ tenantId: 'acme', ...USER });
  await a.upsertUser({ tenantId: 'acme', ...AGED_USER });
}

// ---- Redis introspection (an admin connection of its own: never counted) -----------------------

async function usedMemory(admin: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1] ?? Number.NaN);
}

interface KeyCost {
  kind: string;
  key: string;
  type: string;
  encoding: string;
  elements: number;
  bytes: number;
}

/** MEMORY USAGE (exact: SAMPLES 0), type, encoding and size of each of a grant's keys that exists. */
async function grantKeys(admin: Redis, gid: string): Promise<KeyCost[]> {
  const k = redisKeys(PREFIX);
  const out: KeyCost[] = [];
  const candidates: [string, string][] = [
    ['grant hash', k.grant(gid)],
    // Only families from before refresh-token generations have one.
    ['old issued-hashes set', k.legacyIssued(gid)],
    ['device sessions (hash, per user)', k.sessionsOfGrant(gid)],
  ];
  for (const [kind, key] of candidates) {
    // A grant without a device is given its own grant key as its sessions key (keys.ts).
    if (out.some((o) => o.key === key)) continue;
    const type = await admin.type(key);
    if (type === 'none') continue;
    const elements = type === 'hash' ? await admin.hlen(key) : await admin.scard(key);
    out.push({
      kind,
      key,
      type,
      encoding: String(await admin.object('ENCODING', key)),
      elements,
      bytes: Number(await admin.memory('USAGE', key, 'SAMPLES', 0)),
    });
  }
  return out;
}

/** Field names of a hash with the device and grant ids generalised, to compare shapes. */
async function fieldShape(
  admin: Redis,
  key: string,
  device: string,
  gid: string,
): Promise<string[]> {
  const fields = await admin.hkeys(key);
  return fields.map((f) => f.replaceAll(device, '<dev>').replaceAll(gid, '<gid>')).sort();
}

/** A family's Redis bytes (MEMORY USAGE of its keys) after some number of rotations. */
interface FamilyAge {
  rotations: number;
  /** MEMORY USAGE of the grant hash (and of an old issued-hashes set, if it had one). */
  familyBytes: number;
  /** The same plus its user's device-session hash (this user's only device). */
  withSessionBytes: number;
  fields: number;
}

interface GrantMemory {
  kind: string;
  grants: number;
  how: string;
  usedMemoryBefore: number;
  usedMemoryAfter: number;
  bytesPerGrant: number;
  keysPerGrant: number;
  keys: KeyCost[];
  keyBytesSum: number;
  target: string;
  met: boolean;
}

// ---- Round trips ----------------------------------------------------------------------------

/*
 * How round trips are counted: every command the store's ioredis client sends is counted as it is
 * handed to the connection (Redis#sendCommand wrapped on the instance; pipelines and
 * auto-pipelining also go through it, one call per command). That is one request/reply with
 * Redis the server waits on. An EVALSHA is one, whatever its script runs; a MULTI/EXEC would show
 * as its commands plus MULTI and EXEC (none of the measured paths uses one). The rate limiter
 * (RedisStore.rateLimitStore's script) sends on the same client; its commands are
 * told apart by their key (`<prefix>rl:`) and listed separately.
 * INFO commandstats is the server's view, shown next to it: commands executed, which includes
 * every redis.call() inside a script (checked on Redis 7.0: an EVAL running HSET and HGET adds
 * one call to each of eval, hset and hget), so it is not a count of round trips. INFO itself
 * (the admin connection's reads of these stats) is left out.
 */
function commandTally(redis: Redis, limiterPrefix: string) {
  let store = new Map<string, number>();
  let limiter = new Map<string, number>();
  const original = redis.sendCommand.bind(redis);
  redis.sendCommand = (...a: Parameters<Redis['sendCommand']>) => {
    const [command] = a;
    const name = command.name.toLowerCase();
    const isLimiter = command.args.some((x) => String(x).startsWith(limiterPrefix));
    const m = isLimiter ? limiter : store;
    m.set(name, (m.get(name) ?? 0) + 1);
    return original(...a);
  };
  return {
    reset() {
      store = new Map();
      limiter = new Map();
    },
    read() {
      return { store: Object.fromEntries(store), limiter: Object.fromEntries(limiter) };
    },
  };
}

async function commandStats(admin: Redis): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of (await admin.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    out.set(m[1] as string, Number(m[2]));
  return out;
}

const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
const perRequest = (o: Record<string, number>, n: number) =>
  Object.fromEntries(
    Object.entries(o)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [k, round(v / n)]),
  );

interface RoundTrips {
  label: string;
  requests: number;
  /** Store commands sent per request (the limiter's excluded). */
  roundTrips: number;
  sent: Record<string, number>;
  limiterRoundTrips: number;
  limiterSent: Record<string, number>;
  /** Commands Redis executed per request (INFO commandstats; includes those inside scripts). */
  executed: number;
  executedByCommand: Record<string, number>;
  target?: string;
  met?: boolean;
}

// ---- Part 1 and 3: RedisStore ----------------------------------------------------------------

async function redisCosts(redisPort: number) {
  const admin = new Redis(redisPort, '127.0.0.1');
  const client = new Redis(redisPort, '127.0.0.1');
  const tally = commandTally(client, `${PREFIX}rl:`);
  const store = new RedisStore({ redis: client, prefix: PREFIX });
  const srv = await listen();
  const srv2 = await listen();
  try {
    const options = {
      issuer: srv.issuer,
      store,
      rateLimit: false as const,
      accessTokenTtl: 3600,
      keyEncryptionSecret: KEY_SECRET,
    };
    const auth = createAuthServer(options);
    await seed(auth, store, true);
    // Local mode on the authorization server's own store and client (its commands are counted too).
    const guard = createGuard({ issuer: srv.issuer, store });
    srv.app.get('/r', guard.authenticate(), (_req, res) => {
      res.json({ ok: true });
    });
    srv.app.use(auth.router());

    // (1a) client_credentials grants. Warm first: scripts loaded (their memory is not per grant),
    // client records cached, each client's secret checked once (scrypt).
    let sample = '';
    await issueCc(srv.port, 100, (t) => {
      sample = t;
    });
    const cc = await measureGrants(admin, 'client_credentials', async () => {
      await issueCc(srv.port, GRANTS, (t, i) => {
        if (i === 0) sample = t;
      });
    });
    cc.how = `${GRANTS} tokens issued over HTTP (Basic auth, ${IN_FLIGHT} in flight)`;
    cc.keys = await grantKeys(admin, gidOf(sample));

    // (1b) password families with a device session: one real sign-in, then the rest written as
    // issueNewGrant() writes them (each sign-in costs a scrypt by design).
    const real = await signIn(srv.port, 'phone-0');
    const realGid = gidOf(real.access);
    const cfg = parseAuthServerOptions(options);
    let firstGid = '';
    const clientGeneration = await store.getLedgerGeneration({ clientId: APP_ID });
    const family = await measureGrants(admin, 'password + refresh + device session', async () => {
      await pool(GRANTS, IN_FLIGHT, async (i) => {
        const now = Math.floor(Date.now() / 1000);
        const subject = `user-${i}`;
        const grant = {
          id: newGrantId({ tenantId: 'acme', username: subject, device: true }),
          clientId: APP_ID,
          tenantId: 'acme',
          grantType: 'password' as const,
          subject,
          scope: real.scope,
          deviceId: `device-${i}`,
          createdAt: now,
          maxExpiresAt: now + cfg.refreshTokenMaxAge,
        };
        if (i === 0) firstGid = grant.id;
        const refresh = newRefreshToken(grant.id);
        const tokens = {
          jti: randomId(16),
          accessExpiresAt: now + cfg.accessTokenTtl,
          refresh: { hash: refresh.hash, expiresAt: now + cfg.refreshTokenTtl },
        };
        const until = grantHorizon(grant, tokens);
        // The grant with its entry in the user's ledger, and its entry in the client's ledger.
        await Promise.all([
          store.createGrant(
            grant,
            tokens,
            {
              idleTtl: cfg.deviceIdleTtl,
              maxAge: cfg.deviceSessionMaxAge,
              candidateId: randomId(16),
              now,
            },
            { generation: '', until },
          ),
          store.addClientGrant(APP_ID, grant.id, { generation: clientGeneration, until }, now),
        ]);
      });
    });
    family.how = `1 sign-in over HTTP (password, device_id), then ${GRANTS} written with store.createGrant as issueNewGrant does, one user and device each`;
    family.keys = await grantKeys(admin, realGid);
    // The written families must look like the real one: same keys, same hash fields.
    const k = redisKeys(PREFIX);
    const written = { gid: firstGid, device: 'device-0' };
    const shape = async (gid: string, device: string) =>
      JSON.stringify([
        await fieldShape(admin, k.grant(gid), device, gid),
        await fieldShape(admin, k.sessionsOfGrant(gid), device, gid),
        await admin.exists(k.legacyIssued(gid)),
      ]);
    const [realShape, writtenShape] = [
      await shape(realGid, 'phone-0'),
      await shape(written.gid, written.device),
    ];
    if (realShape !== writtenShape)
      throw new Error(`written family differs from the real one: ${writtenShape} vs ${realShape}`);

    // (3) Round trips per request.
    const rts: RoundTrips[] = [];
    const measure = async (
      label: string,
      n: number,
      warm: () => Promise<unknown>,
      run: () => Promise<unknown>,
      target?: number,
    ) => {
      await warm();
      await sleep(50);
      tally.reset();
      const before = await commandStats(admin);
      await run();
      await sleep(50);
      const after = await commandStats(admin);
      const sent = tally.read();
      const executed: Record<string, number> = {};
      for (const [cmd, calls] of after) {
        const d = calls - (before.get(cmd) ?? 0);
        if (d > 0 && cmd !== 'info') executed[cmd] = d;
      }
      const row: RoundTrips = {
        label,
        requests: n,
        roundTrips: round(sum(sent.store) / n),
        sent: perRequest(sent.store, n),
        limiterRoundTrips: round(sum(sent.limiter) / n),
        limiterSent: perRequest(sent.limiter, n),
        executed: round(sum(executed) / n),
        executedByCommand: perRequest(executed, n),
      };
      if (target !== undefined) {
        row.target = `≤ ${target}`;
        row.met = row.roundTrips <= target;
      }
      rts.push(row);
    };
    const guarded = (token: string) =>
      send(srv.port, 'GET', '/r', { authorization: `Bearer ${token}` }).then((r) =>
        ok(r, 'guarded request'),
      );
    const tokens: string[] = [];
    await issueCc(srv.port, RT_REQUESTS + 10, (t) => {
      tokens.push(t);
    });
    const [warmTokens, distinct] = [tokens.slice(0, 10), tokens.slice(10)];
    await measure(
      'guarded request, one token reused',
      RT_REQUESTS,
      () => pool(10, 1, () => guarded(sample)),
      () => pool(RT_REQUESTS, IN_FLIGHT, () => guarded(sample)),
      TARGET_GUARD_RT,
    );
    await measure(
      'guarded request, 1,000 distinct tokens',
      RT_REQUESTS,
      () => pool(10, 1, (i) => guarded(warmTokens[i] as string)),
      () => pool(RT_REQUESTS, IN_FLIGHT, (i) => guarded(distinct[i] as string)),
      TARGET_GUARD_RT,
    );
    await measure(
      'guarded request, device-bound token reused',
      RT_REQUESTS,
      () => pool(10, 1, () => guarded(real.access)),
      () => pool(RT_REQUESTS, IN_FLIGHT, () => guarded(real.access)),
      TARGET_GUARD_RT,
    );
    await measure(
      'client_credentials issuance, rateLimit: false',
      RT_REQUESTS,
      () => issueCc(srv.port, 2 * CC_CLIENTS),
      () => issueCc(srv.port, RT_REQUESTS),
      TARGET_ISSUE_RT,
    );
    // A second authorization server on the same store, default rate limits: only failures count,
    // so a client whose secret this instance has verified reads no counter.
    srv2.app.use(
      createAuthServer({
        issuer: srv2.issuer,
        store,
        accessTokenTtl: 3600,
        keyEncryptionSecret: KEY_SECRET,
      }).router(),
    );
    await measure(
      'client_credentials issuance, default rate limits',
      RT_REQUESTS,
      () => issueCc(srv2.port, 2 * CC_CLIENTS),
      () => issueCc(srv2.port, RT_REQUESTS),
      TARGET_ISSUE_RT,
    );
    // Rotations follow one family each, one after another: each needs the previous answer.
    let rt = (await signIn(srv.port)).refresh;
    await measure(
      'refresh rotation',
      RT_REQUESTS,
      async () => {
        for (let i = 0; i < 5; i++) rt = await rotate(srv.port, rt);
      },
      async () => {
        for (let i = 0; i < RT_REQUESTS; i++) rt = await rotate(srv.port, rt);
      },
      TARGET_ISSUE_RT,
    );
    let drt = real.refresh;
    await measure(
      'refresh rotation, device-bound family',
      RT_REQUESTS,
      async () => {
        for (let i = 0; i < 5; i++) drt = await rotate(srv.port, drt);
      },
      async () => {
        for (let i = 0; i < RT_REQUESTS; i++) drt = await rotate(srv.port, drt);
      },
      TARGET_ISSUE_RT,
    );
    // (4) One family's bytes as it ages: a device-bound sign-in, then rotations one after another.
    const ages: FamilyAge[] = [];
    const aged = await signIn(srv.port, 'phone-aged', AGED_USER);
    const agedGid = gidOf(aged.access);
    let art = aged.refresh;
    let done = 0;
    for (const target of FAMILY_AGES) {
      for (; done < target; done++) art = await rotate(srv.port, art);
      const keys = await grantKeys(admin, agedGid);
      const own = keys.filter((key) => key.kind !== 'device sessions (hash, per user)');
      ages.push({
        rotations: done,
        familyBytes: own.reduce((a, key) => a + key.bytes, 0),
        withSessionBytes: keys.reduce((a, key) => a + key.bytes, 0),
        fields: keys.reduce((a, key) => a + key.elements, 0),
      });
    }
    const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? 'unknown';
    return { redisVersion, grants: [cc, family], roundTrips: rts, ages };
  } finally {
    await Promise.all([close(srv.server), close(srv2.server)]);
    client.disconnect();
    admin.disconnect();
  }
}

async function measureGrants(
  admin: Redis,
  kind: string,
  create: () => Promise<void>,
): Promise<GrantMemory> {
  // Pauses let serverCron finish any incremental rehash of the main and expires dicts (while one
  // runs, both tables are allocated).
  await sleep(1000);
  const [mem0, db0] = [await usedMemory(admin), await admin.dbsize()];
  await create();
  await sleep(1000);
  const [mem1, db1] = [await usedMemory(admin), await admin.dbsize()];
  const bytesPerGrant = Math.round((mem1 - mem0) / GRANTS);
  return {
    kind,
    grants: GRANTS,
    how: '',
    usedMemoryBefore: mem0,
    usedMemoryAfter: mem1,
    bytesPerGrant,
    keysPerGrant: round((db1 - db0) / GRANTS),
    keys: [],
    keyBytesSum: 0,
    target: `≤ ${TARGET_BYTES} B`,
    met: bytesPerGrant <= TARGET_BYTES,
  };
}

// ---- Part 2: MemoryStore after tokens expire ------------------------------------------------

interface MemorySnap {
  at: string;
  rss: number;
  heapUsed: number;
  /** Memory of C++ objects bound to JS ones (buffers, sockets), outside the V8 heap. */
  external: number;
  /** MemoryStore#size: grants held. */
  grants: number;
}

async function memoryStoreExpiry() {
  const gc = globalThis.gc;
  if (!gc) throw new Error('run with node --expose-gc (npm run bench:cost)');
  // The store's own default sweep (every 60 s): what a deployment gets.
  const store = new MemoryStore();
  const sweepS = 60;
  const srv = await listen();
  const snap = (at: string): MemorySnap => {
    gc();
    gc();
    const m = process.memoryUsage();
    return { at, rss: m.rss, heapUsed: m.heapUsed, external: m.external, grants: store.size };
  };
  try {
    const auth = createAuthServer({
      issuer: srv.issuer,
      store,
      rateLimit: false,
      accessTokenTtl: SHORT_TTL,
    });
    await seed(auth, store, false);
    srv.app.use(auth.router());
    // Warm-up (JIT, caches, sockets), then let those grants expire and sweep them (set-up).
    await issueCc(srv.port, 2000);
    await sleep((SHORT_TTL + 1) * 1000);
    store.sweep();
    const start = snap('start (after set-up)');
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, store.size);
    }, 250);
    const t0 = Date.now();
    await issueCc(srv.port, GRANTS);
    const issueS = (Date.now() - t0) / 1000;
    clearInterval(sampler);
    peak = Math.max(peak, store.size);
    const issued = snap('right after issuing');
    // Bounded: every token expires SHORT_TTL s after issue, and the timer sweeps within sweepS.
    const deadline = Date.now() + (sweepS + SHORT_TTL + 10) * 1000;
    while (store.size > 0 && Date.now() < deadline) await sleep(500);
    const waitedS = round((Date.now() - t0) / 1000 - issueS, 1);
    const expired = snap('after expiry + sweep');
    const residual = expired.heapUsed - start.heapUsed;
    // What a grant held (live, or expired and not yet swept) costs on the heap.
    const heapPerHeldGrant = issued.grants ? (issued.heapUsed - start.heapUsed) / issued.grants : 0;
    return {
      tokens: GRANTS,
      accessTokenTtl: SHORT_TTL,
      sweepIntervalSeconds: sweepS,
      issueSeconds: round(issueS, 1),
      waitedSecondsAfterIssuing: waitedS,
      swept: expired.grants === 0,
      peakGrants: peak,
      heapPerHeldGrant: Math.round(heapPerHeldGrant),
      snapshots: [start, issued, expired],
      residualHeap: residual,
      residualHeapPerToken: round(residual / GRANTS, 1),
      flatCriterion: `heapUsed after expiry within ${MiB(FLAT_SLACK)} MiB of start`,
      flat: expired.grants === 0 && residual <= FLAT_SLACK,
    };
  } finally {
    await close(srv.server);
    await store.close();
  }
}

// ---- Report ---------------------------------------------------------------------------------

function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    line(cells[0] as string[]),
    line(widths.map((w) => '-'.repeat(w))),
    ...cells.slice(1).map(line),
  ].join('\n');
}

const list = (o: Record<string, number>) =>
  Object.entries(o)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || '—';

function gitState(): { commit: string; libDirty: boolean } | undefined {
  const git = (...a: string[]) => spawnSync('git', a, { cwd: path.join(__dirname, '..') });
  const head = git('rev-parse', 'HEAD');
  if (head.status !== 0) return undefined;
  const dirty = git('status', '--porcelain', '--', 'lib').stdout.toString().trim() !== '';
  return { commit: head.stdout.toString().trim(), libDirty: dirty };
}

let redis: Standalone | undefined;
let dir: string | undefined;

async function main() {
  ensureRedisInstalled();
  const git = gitState();
  const at = git ? ` at ${git.commit.slice(0, 9)}${git.libDirty ? ' (lib/ modified)' : ''}` : '';
  console.log(`tokenward cost${QUICK ? ' --quick' : ''}${at}: node ${process.version}`);

  console.log(`MemoryStore: ${GRANTS} tokens, accessTokenTtl ${SHORT_TTL} s, then expiry + sweep…`);
  const memory = await memoryStoreExpiry();

  dir = mkdtempSync(path.join(os.tmpdir(), 'tokenward-cost-'));
  let costs: Awaited<ReturnType<typeof redisCosts>>;
  try {
    redis = await startStandalone(dir);
    console.log(`RedisStore: ${GRANTS} live grants of each kind, then round trips…`);
    costs = await redisCosts(redis.port);
  } finally {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  agent.destroy();
  for (const g of costs.grants) g.keyBytesSum = g.keys.reduce((a, k) => a + k.bytes, 0);

  console.log(
    `\nRedis ${costs.redisVersion}: memory per live grant (INFO memory used_memory, DBSIZE)\n`,
  );
  console.log(
    table(
      [
        'grant',
        'grants',
        'used_memory before',
        'after',
        'bytes/grant',
        'keys/grant',
        'MEMORY USAGE sum',
        'keyspace overhead',
        'target',
        'result',
      ],
      costs.grants.map((g) => [
        g.kind,
        g.grants,
        `${MiB(g.usedMemoryBefore)} MiB`,
        `${MiB(g.usedMemoryAfter)} MiB`,
        g.bytesPerGrant,
        g.keysPerGrant,
        g.keyBytesSum,
        g.bytesPerGrant - g.keyBytesSum,
        g.target,
        g.met ? 'met' : 'MISSED',
      ]),
    ),
  );
  console.log('\nMEMORY USAGE (SAMPLES 0) of one grant’s keys\n');
  console.log(
    table(
      ['grant', 'key', 'type/encoding', 'elements', 'bytes'],
      costs.grants.flatMap((g) => [
        ...g.keys.map((k) => [g.kind, k.kind, `${k.type}/${k.encoding}`, k.elements, k.bytes]),
        [g.kind, 'sum', '', '', g.keyBytesSum],
      ]),
    ),
  );
  for (const g of costs.grants) console.log(`  ${g.kind}: ${g.how}`);
  console.log(
    '\nOne password family with a device session as it ages (MEMORY USAGE, SAMPLES 0; rotations over HTTP)\n',
  );
  console.log(
    table(
      ['rotations', 'family keys bytes', 'with the device-session hash', 'elements', 'target'],
      costs.ages.map((a) => [
        a.rotations.toLocaleString('en'),
        a.familyBytes,
        a.withSessionBytes,
        a.fields,
        a.withSessionBytes <= TARGET_BYTES ? 'met' : 'MISSED',
      ]),
    ),
  );

  const m = memory;
  console.log(
    `\nMemoryStore: ${m.tokens} client_credentials tokens issued in ${m.issueSeconds} s (accessTokenTtl ${m.accessTokenTtl} s, default sweep every ${m.sweepIntervalSeconds} s), gc() twice before each snapshot\n`,
  );
  console.log(
    table(
      ['at', 'rss', 'heapUsed', 'external', 'grants held (MemoryStore#size)'],
      m.snapshots.map((s) => [
        s.at,
        `${MiB(s.rss)} MiB`,
        `${MiB(s.heapUsed)} MiB`,
        `${MiB(s.external)} MiB`,
        s.grants,
      ]),
    ),
  );
  console.log(
    `  heap per grant held right after issuing: ${m.heapPerHeldGrant} B (grants expire after ${m.accessTokenTtl} s but are held until the next sweep)`,
  );
  console.log(
    `  peak grants held while issuing ${m.peakGrants}; ${m.swept ? 'swept' : 'NOT swept'} ${m.waitedSecondsAfterIssuing} s after issuing ended; heapUsed after expiry − start: ${MiB(m.residualHeap)} MiB (${m.residualHeapPerToken} B per token issued): ${m.flat ? 'flat' : 'NOT FLAT'} (${m.flatCriterion})`,
  );

  console.log(
    `\nStore round trips per request, ${RT_REQUESTS} requests each (RedisStore, ${IN_FLIGHT} in flight; rotations one after another)\n`,
  );
  console.log(
    table(
      ['measured', 'round trips/req', 'limiter', 'redis executed/req', 'target', 'result'],
      costs.roundTrips.map((r) => [
        r.label,
        r.roundTrips,
        r.limiterRoundTrips || '—',
        r.executed,
        r.target ?? '',
        r.met === undefined ? '' : r.met ? 'met' : 'MISSED',
      ]),
    ),
  );
  for (const r of costs.roundTrips) {
    console.log(`  ${r.label}`);
    console.log(
      `    sent: ${list(r.sent)}${r.limiterRoundTrips ? `; limiter: ${list(r.limiterSent)}` : ''}`,
    );
    console.log(`    executed (commandstats): ${list(r.executedByCommand)}`);
  }
  console.log(
    '\nround trips: commands the store’s ioredis client sent per request (EVALSHA = 1; the limiter’s apart);',
  );
  console.log(
    'executed: INFO commandstats calls per request, commands run inside scripts included.',
  );
  console.log(
    'bytes/grant: used_memory delta over the grants created; keyspace overhead: that minus the MEMORY USAGE sum (dict and expires entries).',
  );

  const cpus = os.cpus();
  const file = path.join(__dirname, 'results', 'cost.json');
  mkdirSync(path.dirname(file), { recursive: true });
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    redis: costs.redisVersion,
    cpu: { model: cpus[0]?.model ?? 'unknown', count: cpus.length },
    quick: QUICK,
    git,
    redisGrantMemory: costs.grants,
    familyByAge: costs.ages,
    memoryStore: memory,
    roundTrips: costs.roundTrips,
  };
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}

process.once('SIGINT', () => {
  void (redis?.stop() ?? Promise.resolve()).finally(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  });
});

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
