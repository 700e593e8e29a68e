// RedisStore (durability on) on a 3-master cluster with replicas — master failovers and a slot migration under load.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Cluster } from 'ioredis';
import { RedisStore } from '../../lib';
import { redisKeys } from '../../lib/store/keys';
import { newRefreshToken, parseRefreshToken } from '../../lib/tokens/refresh-token';
import { randomId } from '../../lib/tokens/secrets';
import { refresh, seed, signIn } from '../helpers/app';
import { type LiveAuthServer, startAuthServer } from '../helpers/guard';
import {
  byStatus,
  countFailures,
  type FailoverRun,
  type Family,
  failoverUnderLoad,
  sleep,
} from '../helpers/load';
import { uniquePrefix, waitReady } from '../helpers/redis';
import {
  type ClusterNodeInfo,
  cli,
  type ReplicatedCluster,
  startReplicatedCluster,
  until,
} from '../helpers/redis-topologies';

const RECOVERY_BOUND_MS = 20_000;

jest.setTimeout(90_000);

describe('RedisStore with durability on a 3-master cluster with one replica each', () => {
  let dir: string;
  let cluster: ReplicatedCluster;
  let client: Cluster;
  let store: RedisStore;
  let prefix: string;
  let live: LiveAuthServer;
  const clientErrors = new Map<string, number>();
  let refreshes = 0;
  let failures = new Map<string, number>();

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tw-cluster-failover-'));
    cluster = await startReplicatedCluster(dir);
    client = new Cluster(cluster.seeds(), { redisOptions: { maxRetriesPerRequest: 1 } });
    const count = (err: Error) =>
      clientErrors.set(err.message, (clientErrors.get(err.message) ?? 0) + 1);
    client.on('error', count);
    client.on('node error', count);
    client.on('refresh', () => refreshes++);
    await waitReady(client);
    // A prefix whose registry, user and key slots leave one master free (see tokenOnlyShard).
    const topo = await cluster.topology();
    const masters = topo.filter((n) => n.role === 'master' && n.slots.length).length;
    for (;;) {
      prefix = uniquePrefix('cluster-failover');
      const shared = await Promise.all(sharedKeys().map(slotOf));
      if (new Set(shared.map((slot) => ownerOf(topo, slot)?.id)).size < masters) break;
    }
    store = new RedisStore({ redis: client, prefix, durability: { replicas: 1, timeout: 200 } });
    failures = countFailures(store);
    live = await startAuthServer(store);
    await seed(live.auth);
  });
  afterAll(async () => {
    await live?.close();
    client?.disconnect();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const slotOf = async (key: string) =>
    Number((await cli(cluster.nodes[0]?.port ?? 0, 'cluster', 'keyslot', key)).trim());
  const ownerOf = (topo: ClusterNodeInfo[], slot: number) =>
    topo.find(
      (n) =>
        n.role === 'master' &&
        !n.failed &&
        n.slots.some((r) => {
          const [lo, hi = lo] = r.split('-').map(Number);
          return lo !== undefined && hi !== undefined && slot >= lo && slot <= hi;
        }),
    );
  /** Keys of the registry, the seeded tenant's users and the signing keys. */
  const sharedKeys = () => [
    `${prefix}{reg}`,
    `${prefix}{u:acme}`,
    `${prefix}{keys}`,
    redisKeys(prefix).clientLedger('app'),
  ];
  const roleOf = async (port: number) =>
    (await cluster.topology(port)).find((n) => n.port === port)?.role;

  /**
   * A master holding none of the registry, user and key slots and its replica: only token writes
   * (durable pipelines) go to it, so nothing else refreshes ioredis' slot map for it.
   */
  async function tokenOnlyShard(): Promise<{ master: ClusterNodeInfo; replica: ClusterNodeInfo }> {
    const topo = await cluster.topology();
    const shared = await Promise.all(sharedKeys().map(slotOf));
    const busy = new Set(shared.map((s) => ownerOf(topo, s)?.id));
    const master = topo.find((n) => n.role === 'master' && !n.failed && !busy.has(n.id));
    const replica = topo.find((n) => master && n.masterId === master.id);
    if (!master || !replica)
      throw new Error(
        `no master free of the shared slots ${shared}, or no replica: ${JSON.stringify(topo)}`,
      );
    return { master, replica };
  }

  async function scenario(name: string, action: (families: Family[]) => Promise<void>) {
    clientErrors.clear();
    failures.clear();
    refreshes = 0;
    const run = await failoverUnderLoad({
      base: `http://127.0.0.1:${live.port}`,
      signIn: async () => (await signIn(live.app)).refresh_token,
      store,
      redis: client,
      prefix,
      recoveryBoundMs: RECOVERY_BOUND_MS,
      afterRecoveryMs: 1500,
      action,
    });
    console.log(
      `cluster, ${name}: ${JSON.stringify({
        ...run.summary,
        lost: run.lost,
        retryRefused: run.retryRefused,
        slotRefreshes: refreshes,
        clientErrors: Object.fromEntries(clientErrors),
        storeFailures: Object.fromEntries(failures),
      })}`,
    );
    return run;
  }

  /** The checks every scenario makes, each its own test so a failure names what broke. */
  function expectations(get: () => FailoverRun, seamless: boolean) {
    if (seamless) {
      it('no request fails while it happens (ioredis follows MOVED / ASK / TRYAGAIN)', () => {
        const run = get();
        const during = run.samples.filter(
          (s) => s.receivedAt >= run.marks.action && s.sentAt <= run.marks.actionDone,
        );
        expect(during.length).toBeGreaterThan(10);
        expect(byStatus(during)).toEqual({ 200: during.length });
      });
    }

    it('requests keep succeeding once ioredis has followed the change', () => {
      const run = get();
      expect(run.marks.recovered).toBeGreaterThan(0);
      const after = run.samples.filter((s) => s.sentAt > run.marks.recovered);
      expect(after.length).toBeGreaterThan(10);
      expect(byStatus(after)).toEqual({ 200: after.length });
      const other = run.samples.filter(
        (s) => s.status !== 200 && s.status !== 503 && !(s.kind === 'refresh' && s.status === 400),
      );
      expect(byStatus(other)).toEqual({});
    });

    it('nothing acknowledged is lost', () => {
      expect(get().lost).toBe(0);
    });

    it("every family's last acknowledged refresh token still refreshes (a retried 503 is not reuse)", () => {
      const run = get();
      expect(run.retryRefused).toBe(0);
      expect(run.settled).toEqual(run.families.map(() => 200));
    });
  }

  describe('CLUSTER FAILOVER on a replica', () => {
    let run: FailoverRun;
    beforeAll(async () => {
      const { replica } = await tokenOnlyShard();
      run = await scenario('CLUSTER FAILOVER', async () => {
        expect((await cli(replica.port, 'cluster', 'failover')).trim()).toBe('OK');
        await until(
          'the replica to take over',
          async () => (await roleOf(replica.port)) === 'master',
        );
        await cluster.healthy();
      });
    });
    expectations(() => run, true);
  });

  describe('a master SIGKILLed, then restarted', () => {
    let run: FailoverRun;
    beforeAll(async () => {
      const { master, replica } = await tokenOnlyShard();
      const node = cluster.node(master.port);
      run = await scenario('SIGKILL master', async () => {
        await node.kill();
        // Restarted before its replica took over, it would bring its slots back empty.
        await until(
          'its replica to be promoted',
          async () => (await roleOf(replica.port)) === 'master',
        );
        await node.restart(); // its nodes.conf makes it a replica of the promoted node
        await cluster.healthy();
      });
    });
    expectations(() => run, false);
  });

  describe('slots holding live grants migrated to another master', () => {
    let run: FailoverRun;
    beforeAll(async () => {
      run = await scenario('slot migration', async (families) => {
        const masters = (await cluster.topology()).filter(
          (n) => n.role === 'master' && !n.failed && n.slots.length,
        );
        for (const f of families.slice(0, 4)) {
          const slot = String(await slotOf(redisKeys(prefix).grant(f.grantId)));
          const from = ownerOf(await cluster.topology(), Number(slot));
          const to = masters.find((m) => m.id !== from?.id);
          if (!from || !to) throw new Error(`no owner for slot ${slot}`);
          await cli(to.port, 'cluster', 'setslot', slot, 'importing', from.id);
          await cli(from.port, 'cluster', 'setslot', slot, 'migrating', to.id);
          await sleep(200); // requests meet the slot MIGRATING
          const keys = (await cli(from.port, 'cluster', 'getkeysinslot', slot, '1000'))
            .split('\n')
            .filter(Boolean);
          if (keys.length) {
            const port = String(to.port);
            const out = await cli(
              from.port,
              'migrate',
              '127.0.0.1',
              port,
              '',
              '0',
              '5000',
              'keys',
              ...keys,
            );
            expect(out.trim()).toBe('OK');
          }
          await sleep(200); // keys gone from the source: ASK to the importing node
          for (const m of masters) await cli(m.port, 'cluster', 'setslot', slot, 'node', to.id);
        }
        await cluster.healthy();
      });
    });
    expectations(() => run, true);
  });

  describe('a slot left mid-migration, its keys already on the importing node', () => {
    it('calls on its grants are served: durable rotations follow ASK, scripts without durability too', async () => {
      const plain = new RedisStore({ redis: client, prefix }); // no durability: ioredis redirects
      const signedIn = await signIn(live.app);
      const root = parseRefreshToken(signedIn.refresh_token);
      if (!root) throw new Error('not a refresh token');
      const slot = String(await slotOf(redisKeys(prefix).grant(root.grantId)));
      const masters = (await cluster.topology()).filter((n) => n.role === 'master' && !n.failed);
      const from = ownerOf(masters, Number(slot));
      const to = masters.find((m) => m.slots.length && m.id !== from?.id);
      if (!from || !to) throw new Error(`no owner for slot ${slot}`);
      await cli(to.port, 'cluster', 'setslot', slot, 'importing', from.id);
      await cli(from.port, 'cluster', 'setslot', slot, 'migrating', to.id);
      try {
        const keys = (await cli(from.port, 'cluster', 'getkeysinslot', slot, '1000'))
          .split('\n')
          .filter(Boolean);
        const moved = await cli(
          from.port,
          'migrate',
          '127.0.0.1',
          String(to.port),
          '',
          '0',
          '5000',
          'keys',
          ...keys,
        );
        expect(moved.trim()).toBe('OK');
        // Each names the grant's keys only (the sessions key of a grant without a device is its
        // own key): a key missing there would make the importing node answer TRYAGAIN throughout.
        const now = Math.floor(Date.now() / 1000);
        expect((await plain.getRefreshTokenState(root.grantId, root.hash, now))?.active).toBe(true);
        const rotated = await refresh(live.app, signedIn.refresh_token);
        expect(rotated.status).toBe(200);
        const held = parseRefreshToken(rotated.body.refresh_token);
        const next = newRefreshToken(root.grantId);
        const again = await plain.rotateRefreshToken({
          grantId: root.grantId,
          presentedHash: held?.hash ?? '',
          clientId: 'app',
          now,
          requestedScope: '',
          leewaySeconds: 0,
          next: {
            jti: randomId(16),
            accessExpiresAt: now + 600,
            refresh: { hash: next.hash, expiresAt: now + 3600 },
          },
        });
        expect(again).toMatchObject({ ok: true, retried: false });
      } finally {
        for (const m of masters) await cli(m.port, 'cluster', 'setslot', slot, 'node', to.id);
        await cluster.healthy();
      }
    });
  });
});
