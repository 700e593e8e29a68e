// RedisStore behind Sentinel — replication stalls, the master is SIGKILLed under load and fails over, issuance resumes; with `durability` no acknowledged refresh token is lost, without it some are.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisStore } from '../../lib';
import { seed, signIn } from '../helpers/app';
import { type LiveAuthServer, startAuthServer } from '../helpers/guard';
import {
  byStatus,
  countFailures,
  type FailoverRun,
  failoverUnderLoad,
  sleep,
} from '../helpers/load';
import { uniquePrefix, waitReady } from '../helpers/redis';
import { cli, type SentinelSetup, startSentinelSetup, until } from '../helpers/redis-topologies';

const FAMILIES = 8;
/** Generous bound on the failover: detection (down-after 1 s), election, promotion, resync. */
const RESUME_BOUND_MS = 20_000;
/**
 * Replication stalls this long before the master dies: on loopback the replica is otherwise a
 * fraction of a millisecond behind, and a failover loses nothing with durability on or off.
 */
const STALL_MS = 500;

jest.setTimeout(90_000);

describe.each([
  ['on', { replicas: 1, timeout: 200 }],
  ['off', undefined],
] as const)(
  'RedisStore behind Sentinel, durability %s: master SIGKILLed under load',
  (mode, durability) => {
    let dir: string;
    let setup: SentinelSetup;
    let redis: Redis;
    let live: LiveAuthServer;
    let run: FailoverRun;
    /** From the last issuance answered 200 sent before the kill to the first sent after it. */
    let issuanceGapMs = Number.NaN;
    const clientErrors = new Map<string, number>();

    beforeAll(async () => {
      dir = mkdtempSync(path.join(tmpdir(), `tw-sentinel-${mode}-`));
      setup = await startSentinelSetup(dir);
      redis = new Redis({ sentinels: setup.sentinels, name: setup.name, maxRetriesPerRequest: 1 });
      redis.on('error', (err: Error) =>
        clientErrors.set(err.message, (clientErrors.get(err.message) ?? 0) + 1),
      );
      await waitReady(redis);
      const prefix = uniquePrefix(`sentinel-${mode}`);
      const store = new RedisStore({ redis, prefix, ...(durability ? { durability } : {}) });
      const failures = countFailures(store);
      live = await startAuthServer(store);
      await seed(live.auth);
      const timing = { stalledAt: 0, killedAt: 0, promotedMs: 0 };
      run = await failoverUnderLoad({
        base: `http://127.0.0.1:${live.port}`,
        signIn: async () => (await signIn(live.app)).refresh_token,
        store,
        redis,
        prefix,
        families: FAMILIES,
        actionAtMs: 1500,
        recoveryBoundMs: RESUME_BOUND_MS,
        action: async () => {
          // The replica is frozen and its link cut: from now on what the master acknowledges
          // exists only there (Redis replication is asynchronous) until it dies. Frozen, the
          // replica cannot reconnect and catch up; it is thawed once the master is gone.
          const replicaPid = setup.replica.pid;
          if (replicaPid === undefined) throw new Error('the replica is not running');
          process.kill(replicaPid, 'SIGSTOP');
          try {
            const cut = await cli(setup.master.port, 'client', 'kill', 'type', 'replica');
            if (cut.trim() !== '1') throw new Error(`replica link not cut: ${cut}`);
            timing.stalledAt = Date.now();
            await sleep(STALL_MS);
            timing.killedAt = Date.now();
            await setup.master.kill();
          } finally {
            process.kill(replicaPid, 'SIGCONT');
          }
          const { killedAt } = timing;
          const oldPort = setup.master.port;
          const promoted = await until(
            'Sentinel to promote the replica',
            async () => {
              const port = await setup.masterPort();
              return port !== undefined && port !== oldPort && port;
            },
            RESUME_BOUND_MS,
          );
          timing.promotedMs = Date.now() - killedAt;
          // With one replica, durable writes need the old master back as a replica. It is restarted
          // as one, as an operator would (Sentinel would demote it too, ~8 s after it reappears).
          await setup.master.restart(['--replicaof', '127.0.0.1', String(promoted)]);
          await until('the old master to sync as a replica', async () => {
            const info = await redis.info('replication').catch(() => '');
            return /connected_slaves:1/.test(info) && /state=online/.test(info);
          });
        },
      });
      const issues = run.samples.filter((x) => x.kind === 'issue' && x.status === 200);
      const lastOk = Math.max(
        ...issues.filter((x) => x.sentAt < timing.killedAt).map((x) => x.receivedAt),
      );
      const firstOk = issues.find((x) => x.sentAt > timing.killedAt)?.receivedAt ?? Number.NaN;
      issuanceGapMs = firstOk - lastOk;
      // Sent while replication stalled (answered then, or when the master died).
      const stalled = run.samples.filter(
        (x) => x.sentAt >= timing.stalledAt && x.sentAt < timing.killedAt,
      );
      console.log(
        `sentinel failover, durability ${mode}: ${JSON.stringify({
          ...run.summary,
          whileReplicationStalled: byStatus(stalled),
          issuanceGapAcrossKillMs: issuanceGapMs,
          promotedAfterKillMs: timing.promotedMs,
          lost: run.lost,
          retryRefused: run.retryRefused,
          clientErrors: Object.fromEntries(clientErrors),
          storeFailures: Object.fromEntries(failures),
        })}`,
      );
    });
    afterAll(async () => {
      await live?.close();
      redis?.disconnect();
      await setup?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('issuance resumes after the failover; nothing but 200 and 503 on the way (and 400 only for refused families)', () => {
      expect(run.marks.recovered).toBeGreaterThan(0);
      expect(issuanceGapMs).toBeLessThan(RESUME_BOUND_MS);
      const other = run.samples.filter(
        (s) => s.status !== 200 && s.status !== 503 && !(s.kind === 'refresh' && s.status === 400),
      );
      expect(byStatus(other)).toEqual({});
    });

    if (mode === 'on') {
      it('no refresh token whose issuance was acknowledged is lost across the failover', () => {
        expect(run.lost).toBe(0);
      });

      it("every family's last acknowledged refresh token still refreshes (a retried 503 is not reuse)", () => {
        expect(run.retryRefused).toBe(0);
        expect(run.settled).toEqual(run.families.map(() => 200));
      });
    } else {
      it('without durability the same failover loses acknowledged refresh tokens (so the test above shows something)', () => {
        console.log(
          `durability off: ${run.lost} of ${FAMILIES} families lost their last acknowledged refresh token`,
        );
        expect(run.lost).toBeGreaterThan(0);
      });
    }
  },
);
