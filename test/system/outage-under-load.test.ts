// Fail closed under load: Redis stopped and restarted under mixed load — only 503s with Retry-After while down, bounded latency, recovery, consistent refresh families.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { type GrantRecord, type Logger, RedisStore, StoreUnavailableError } from '../../lib';
import { newRefreshToken, parseRefreshToken } from '../../lib/tokens/refresh-token';
import { randomId } from '../../lib/tokens/secrets';
import { seed, signIn } from '../helpers/app';
import {
  guardedApp,
  type LiveAuthServer,
  localGuard,
  seedScopes,
  startAuthServer,
} from '../helpers/guard';
import {
  byStatus,
  drive,
  type Family,
  family,
  familyState,
  type Kind,
  Recorder,
  type Sample,
  settle,
  sleep,
} from '../helpers/load';
import { uniquePrefix, waitReady } from '../helpers/redis';
import { Node } from '../helpers/redis-topologies';

const PERSIST = ['--appendonly', 'yes', '--appendfsync', 'always'];
const COMMAND_TIMEOUT = 300;
/** Every response, during the outage or not, within commandTimeout + 1 s. */
const RESPONSE_BOUND_MS = COMMAND_TIMEOUT + 1000;
const STOP_AT_MS = 2000;
const START_AT_MS = 4000;
const RUN_MS = 6000;
const RECOVERY_BOUND_MS = 10_000;
const FAMILIES = 12;
const KINDS: Kind[] = ['issue', 'refresh', 'guarded'];

jest.setTimeout(90_000);

describe('Redis stopped and restarted under mixed load', () => {
  let dir: string;
  let node: Node;
  let redis: Redis;
  let store: RedisStore;
  let prefix: string;
  let live: LiveAuthServer;
  let guardServer: Server;
  let guardUrl: string;
  const logged: string[] = [];
  const logger: Logger = { error: (message) => void logged.push(String(message)) };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tw-outage-load-'));
    node = await Node.start(dir, PERSIST);
    // Fail-fast, as the README recommends.
    redis = new Redis({ host: '127.0.0.1', port: node.port, maxRetriesPerRequest: 1 });
    await waitReady(redis);
    prefix = uniquePrefix('outage-load');
    store = new RedisStore({ redis, prefix, commandTimeout: COMMAND_TIMEOUT });
    live = await startAuthServer(store);
    await seed(live.auth);
    await seedScopes(live.auth);
    guardServer = createServer(guardedApp(localGuard(live.issuer, store, { logger })));
    await new Promise<void>((r) => guardServer.listen(0, '127.0.0.1', r));
    guardUrl = `http://127.0.0.1:${(guardServer.address() as AddressInfo).port}/scan`;
    await runOutage();
  });
  afterAll(async () => {
    guardServer?.closeAllConnections();
    await new Promise<void>((r) => (guardServer ? guardServer.close(() => r()) : r()));
    await live?.close();
    redis?.disconnect();
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const base = () => `http://127.0.0.1:${live.port}`;
  const rec = new Recorder();
  const families: Family[] = [];
  const marks = { started: 0, stop: 0, stopped: 0, start: 0, up: 0 };
  const firstOkAfterRestart = (kind: Kind) =>
    rec.samples.find((s) => s.kind === kind && s.status === 200 && s.sentAt >= marks.up);
  /** Answers to requests sent after Redis had exited and answered before its restart began. */
  const down = () =>
    rec.samples.filter((s) => s.sentAt >= marks.stopped && s.receivedAt <= marks.start);
  const recovery = () =>
    Object.fromEntries(
      KINDS.map((k) => [k, (firstOkAfterRestart(k)?.receivedAt ?? Number.NaN) - marks.up]),
    ) as Record<Kind, number>;

  /** 16 loops for ~6 s: 4 issuing, 6 rotating two families each, 6 calling the guarded app. */
  async function runOutage() {
    for (let i = 0; i < FAMILIES; i++)
      families.push(family((await signIn(live.app)).refresh_token));
    const tokens: string[] = [];
    for (let i = 0; i < 6; i++) {
      const { sample, body } = await new Recorder().issue(base());
      if (sample.status !== 200) throw new Error(`issuance failed: ${sample.status}`);
      tokens.push(String(body.access_token));
    }
    marks.started = Date.now();
    const done = () =>
      marks.up > 0 &&
      Date.now() - marks.started > RUN_MS &&
      (KINDS.every((k) => firstOkAfterRestart(k)) || Date.now() - marks.up > RECOVERY_BOUND_MS);
    const pace = async (s: Sample) => {
      if (s.status !== 200) await sleep(20); // a client backs off a little when refused
    };
    const loops: (() => Promise<unknown>)[] = [];
    for (let i = 0; i < 4; i++) loops.push(async () => pace((await rec.issue(base())).sample));
    for (let i = 0; i < 6; i++) {
      const mine = families.slice(i * 2, i * 2 + 2);
      let n = 0;
      loops.push(async () => pace(await rec.rotate(base(), mine[n++ % mine.length] as Family)));
    }
    for (const token of tokens)
      loops.push(async () => pace((await rec.guarded(guardUrl, token)).sample));
    const outage = (async () => {
      await sleep(STOP_AT_MS - (Date.now() - marks.started));
      marks.stop = Date.now();
      await node.stop(); // SIGTERM: a real shutdown, the port closes
      marks.stopped = Date.now();
      await sleep(START_AT_MS - (Date.now() - marks.started));
      marks.start = Date.now();
      await node.restart(); // same port, same append-only file
      marks.up = Date.now();
    })();
    await drive(loops, done);
    await outage;
    const rel = (t: number) => t - marks.started;
    console.log(
      `outage under load: ${JSON.stringify({
        requests: byStatus(rec.samples),
        beforeStop: byStatus(rec.samples.filter((s) => s.receivedAt < marks.stop)),
        acrossStop: byStatus(
          rec.samples.filter((s) => s.receivedAt >= marks.stop && s.sentAt < marks.stopped),
        ),
        afterRestart: byStatus(rec.samples.filter((s) => s.sentAt >= marks.start)),
        duringOutage: Object.fromEntries(
          KINDS.map((k) => [k, byStatus(down().filter((s) => s.kind === k))]),
        ),
        outageMs: marks.start - marks.stopped,
        slowestMs: Math.max(...rec.samples.map((s) => s.receivedAt - s.sentAt)),
        slowest503Ms: Math.max(
          ...rec.samples.filter((s) => s.status === 503).map((s) => s.receivedAt - s.sentAt),
        ),
        boundMs: RESPONSE_BOUND_MS,
        recoveryMsAfterRedisUp: recovery(),
        redisRestartMs: marks.up - marks.start,
        marksMs: {
          stop: rel(marks.stop),
          stopped: rel(marks.stopped),
          start: rel(marks.start),
          up: rel(marks.up),
        },
        refusedFamilies: families.flatMap((f) => (f.rejected ? [f.rejected.error] : [])),
      })}`,
    );
  }

  it('answers only 200 or 503 — no 500, no 401, no request left hanging', () => {
    const other = rec.samples.filter(
      (s) => s.status !== 200 && s.status !== 503 && !(s.kind === 'refresh' && s.status === 400),
    );
    expect(byStatus(other)).toEqual({});
  });

  it('while Redis is down: 503 temporarily_unavailable with Retry-After, for every kind', () => {
    const during = down();
    for (const k of KINDS) expect(during.filter((s) => s.kind === k).length).toBeGreaterThan(5);
    expect(byStatus(during)).toEqual({ 503: during.length });
    for (const s of rec.samples.filter((x) => x.status === 503)) {
      expect({ retryAfter: s.retryAfter, error: s.error }).toEqual({
        retryAfter: '1',
        error: 'temporarily_unavailable',
      });
    }
  });

  it('admits no guarded request while Redis is down (every 200 was sent before it left or answered after it came back)', () => {
    const ok = rec.samples.filter((s) => s.status === 200);
    expect(ok.filter((s) => s.receivedAt < marks.stop).length).toBeGreaterThan(20);
    const admittedWhileDown = ok.filter(
      (s) => s.sentAt >= marks.stopped && s.receivedAt <= marks.start,
    );
    expect(admittedWhileDown).toEqual([]);
  });

  it(`answers every request within commandTimeout + 1 s (${RESPONSE_BOUND_MS} ms)`, () => {
    const slowest = Math.max(...rec.samples.map((s) => s.receivedAt - s.sentAt));
    expect(slowest).toBeLessThan(RESPONSE_BOUND_MS);
  });

  it('recovers by itself: the first 200 of each kind within 10 s of Redis answering again', () => {
    const r = recovery();
    for (const k of KINDS) {
      if (!(r[k] < RECOVERY_BOUND_MS))
        throw new Error(`${k} did not recover within 10 s: ${JSON.stringify(r)}`);
    }
  });

  it('never leaves a family with two live refresh tokens', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const f of families) {
      let liveTokens = 0;
      for (const token of f.acked) {
        const hash = parseRefreshToken(token)?.hash ?? '';
        if ((await store.getRefreshTokenState(f.grantId, hash, now))?.active) liveTokens++;
      }
      expect(liveTokens).toBeLessThanOrEqual(1);
    }
  });

  it("a refresh cut off by the outage, retried with the same token, succeeds: each family ends with exactly its client's token live", async () => {
    expect(families.flatMap((f) => (f.rejected ? [f.rejected.error] : []))).toEqual([]);
    expect(await settle(rec, base(), families)).toEqual(families.map(() => 200));
    for (const f of families) expect(await familyState(store, redis, prefix, f)).toBe('current');
  });
  // The load above cuts rotations off at random points; these pin down the orderings it found.
  describe('abandoned rotations, whatever order their commands land in', () => {
    const now = () => Math.floor(Date.now() / 1000);
    async function newFamily() {
      const grant: GrantRecord = {
        id: randomId(),
        clientId: 'app',
        tenantId: 'acme',
        grantType: 'password',
        subject: 'alice',
        scope: 'print',
        createdAt: now(),
        maxExpiresAt: now() + 3600,
      };
      const root = newRefreshToken(grant.id);
      await store.createGrant(grant, {
        jti: randomId(16),
        accessExpiresAt: now() + 600,
        refresh: { hash: root.hash, expiresAt: now() + 3600 },
      });
      const rotate = (presented: string, next = newRefreshToken(grant.id)) =>
        store.rotateRefreshToken({
          grantId: grant.id,
          presentedHash: presented,
          clientId: 'app',
          now: now(),
          requestedScope: '',
          leewaySeconds: 0,
          next: {
            jti: randomId(16),
            accessExpiresAt: now() + 600,
            refresh: { hash: next.hash, expiresAt: now() + 3600 },
          },
        });
      const active = async (hash: string) =>
        (await store.getRefreshTokenState(grant.id, hash, now()))?.active ?? false;
      return { grant, root, rotate, active };
    }

    it('a rotation that runs after its abandonment is refused: the presented token stays current', async () => {
      const { grant, root, rotate, active } = await newFamily();
      const late = newRefreshToken(grant.id);
      await store.abandonRotation(grant.id, root.hash, late.hash);
      await expect(rotate(root.hash, late)).rejects.toThrow(StoreUnavailableError);
      expect(await active(root.hash)).toBe(true);
      expect(await active(late.hash)).toBe(false);
      expect(await rotate(root.hash)).toMatchObject({ ok: true, retried: false });
    });

    it('abandoning a rotation that never ran does not spoil the retry of one that ran unanswered', async () => {
      const { grant, root, rotate, active } = await newFamily();
      const ran = newRefreshToken(grant.id);
      expect(await rotate(root.hash, ran)).toMatchObject({ ok: true }); // its answer lost: 503
      await store.abandonRotation(grant.id, root.hash, ran.hash);
      // The client's next tries failed before their rotation was sent; their abandonments land last.
      await store.abandonRotation(grant.id, root.hash, newRefreshToken(grant.id).hash);
      await store.abandonRotation(grant.id, root.hash, newRefreshToken(grant.id).hash);
      const retry = newRefreshToken(grant.id);
      expect(await rotate(root.hash, retry)).toMatchObject({ ok: true, retried: true });
      expect([await active(root.hash), await active(ran.hash), await active(retry.hash)]).toEqual([
        false,
        false,
        true,
      ]);
    });
  });
});
