// Multi-process Redis topologies for failover tests: master + replica + Sentinels, and a cluster with replicas.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, ping, type Standalone, startStandalone } from './redis-launcher';

const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Last resort for aborted runs: every process started here is SIGKILLed when the worker exits.
const live = new Set<number>();
process.once('exit', () => {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Flags for every data node: no persistence, full syncs start at once (no diskless delay). */
const NODE_ARGS = ['--repl-diskless-sync-delay', '0', '--appendonly', 'no'];

/** `redis-cli -p <port> ...args`; resolves with stdout, or '' when the server does not answer. */
export async function cli(port: number, ...args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync('redis-cli', ['-p', String(port), ...args], {
      timeout: 5000,
    });
    return stdout;
  } catch {
    return '';
  }
}

/** Poll `check` every 100 ms until it returns a value other than undefined/false; throw after `ms`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** One redis-server data node that can be killed (SIGKILL) and started again on its port. */
export class Node {
  private server: Standalone | undefined;
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly args: string[],
  ) {}

  static async start(dir: string, args: string[] = [], port?: number): Promise<Node> {
    const node = new Node(port ?? (await freePort()), dir, [...NODE_ARGS, ...args]);
    await node.restart();
    return node;
  }

  get pid(): number | undefined {
    return this.server?.pid;
  }

  /** Start it (again) on the same port, directory and flags, plus `extra` flags this time. */
  async restart(extra: string[] = []): Promise<void> {
    if (this.server) throw new Error(`node ${this.port} is running`);
    const args = [...this.args, ...extra];
    this.server = await startStandalone(this.dir, { port: this.port, args });
    live.add(this.server.pid);
  }

  /** SIGKILL: no shutdown, no last replies; resolves once it has exited. */
  async kill(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    try {
      process.kill(server.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await server.stop();
    live.delete(server.pid);
  }

  /** SIGTERM (graceful shutdown); resolves once it has exited. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await server.stop();
    live.delete(server.pid);
  }
}

function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

export interface SentinelSetup {
  master: Node;
  replica: Node;
  /** Sentinel ports, for ioredis `sentinels`. */
  sentinels: { host: string; port: number }[];
  name: string;
  /** The master address the Sentinels currently agree on (asks the first that answers). */
  masterPort(): Promise<number | undefined>;
  /** Stop every Sentinel and data node; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * A master, one replica and `count` Sentinels (`redis-server <conf> --sentinel`) on loopback,
 * monitoring `mymaster` with quorum 2, down-after 1000 ms and failover-timeout 3000 ms. Resolves
 * once the replica is in sync and every Sentinel knows the replica and the other Sentinels.
 */
export async function startSentinelSetup(dir: string, count = 3): Promise<SentinelSetup> {
  const name = 'mymaster';
  const procs: ChildProcess[] = [];
  const nodes: Node[] = [];
  const sentinelPorts: number[] = [];
  const stop = async () => {
    await Promise.all(procs.map(stopChild));
    for (const p of procs) if (p.pid) live.delete(p.pid);
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    const master = await Node.start(path.join(dir, 'master'));
    nodes.push(master);
    const replica = await Node.start(path.join(dir, 'replica'), [
      '--replicaof',
      '127.0.0.1',
      String(master.port),
    ]);
    nodes.push(replica);
    await until('the replica to sync', async () =>
      /master_link_status:up/.test(await cli(replica.port, 'info', 'replication')),
    );
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const sdir = path.join(dir, `sentinel-${port}`);
      mkdirSync(sdir, { recursive: true });
      const conf = path.join(sdir, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'protected-mode no',
          `dir ${sdir}`,
          `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 3000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      const proc = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
      procs.push(proc);
      if (proc.pid) live.add(proc.pid);
      await until(`sentinel ${port} to answer`, () => ping(port), 10_000);
      sentinelPorts.push(port);
    }
    // Failover needs each Sentinel to know the replica and a majority of its peers.
    await until('the Sentinels to discover the replica and each other', async () => {
      for (const port of sentinelPorts) {
        const replicas = await cli(port, 'sentinel', 'replicas', name);
        const peers = (await cli(port, 'sentinel', 'sentinels', name)).match(/^runid$/gm) ?? [];
        if (!replicas.includes(String(replica.port)) || peers.length < count - 1) return false;
      }
      return true;
    });
    const masterPort = async () => {
      for (const port of sentinelPorts) {
        const out = (await cli(port, 'sentinel', 'get-master-addr-by-name', name)).split('\n');
        if (out[1]) return Number(out[1]);
      }
      return undefined;
    };
    return {
      master,
      replica,
      sentinels: sentinelPorts.map((port) => ({ host: '127.0.0.1', port })),
      name,
      masterPort,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface ClusterNodeInfo {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** For replicas, the id of their master. */
  masterId?: string;
  slots: string[];
  failed: boolean;
}

export interface ReplicatedCluster {
  nodes: Node[];
  /** Every node's address, as startup nodes for ioredis. */
  seeds(): { host: string; port: number }[];
  /** CLUSTER NODES as seen by the node on `port` (or the first live one). */
  topology(port?: number): Promise<ClusterNodeInfo[]>;
  /**
   * Resolves when every live node reports cluster_state:ok and sees every master with its slots
   * and its replica, and every master has a synced replica.
   */
  healthy(ms?: number): Promise<void>;
  node(port: number): Node;
  stop(): Promise<void>;
}

function parseNodes(out: string): ClusterNodeInfo[] {
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id = '', addr = '', flags = '', master = '', , , , , ...slots] = line.split(' ');
      return {
        id,
        port: Number(/:(\d+)@/.exec(addr)?.[1]),
        role: flags.includes('master') ? 'master' : 'replica',
        ...(master !== '-' ? { masterId: master } : {}),
        slots,
        failed: /fail/.test(flags),
      };
    });
}

/**
 * `masters` masters with one replica each (`redis-cli --cluster create --cluster-replicas 1`),
 * cluster-node-timeout 2000 ms, nodes.conf kept in `dir` so a killed node restarts into the cluster.
 */
export async function startReplicatedCluster(dir: string, masters = 3): Promise<ReplicatedCluster> {
  const nodes: Node[] = [];
  const stop = async () => void (await Promise.all(nodes.map((n) => n.stop())));
  try {
    const ports: number[] = [];
    for (let i = 0; i < masters * 2; i++) ports.push(await freePort());
    nodes.push(
      ...(await Promise.all(
        ports.map((port) =>
          Node.start(
            path.join(dir, `node-${port}`),
            [
              '--cluster-enabled',
              'yes',
              '--cluster-config-file',
              path.join(dir, `nodes-${port}.conf`),
              '--cluster-node-timeout',
              '2000',
            ],
            port,
          ),
        ),
      )),
    );
    await execFileAsync('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ]);
    const topology = async (port?: number) => {
      for (const p of port ? [port] : nodes.map((n) => n.port)) {
        const out = await cli(p, 'cluster', 'nodes');
        if (out) return parseNodes(out);
      }
      return [];
    };
    const healthy = async (ms = 20_000) => {
      await until(
        'cluster_state:ok with a synced replica for every master',
        async () => {
          const running = nodes.filter((n) => n.pid !== undefined);
          for (const n of running) {
            if (!(await cli(n.port, 'cluster', 'info')).includes('cluster_state:ok')) return false;
            // Every node sees each master with its slots and its replica (gossip has settled).
            const view = await topology(n.port);
            const ms = view.filter((x) => x.role === 'master' && x.slots.length > 0 && !x.failed);
            const slotless = view.filter((x) => x.role === 'master' && x.slots.length === 0);
            const replicated = ms.filter((m) =>
              view.some((x) => x.role === 'replica' && x.masterId === m.id && !x.failed),
            );
            if (ms.length !== masters || replicated.length !== masters || slotless.length)
              return false;
          }
          const ms = (await topology()).filter(
            (n) => n.role === 'master' && n.slots.length > 0 && !n.failed,
          );
          for (const m of ms) {
            const info = await cli(m.port, 'info', 'replication');
            if (!/connected_slaves:1/.test(info) || !/state=online/.test(info)) return false;
          }
          return true;
        },
        ms,
      );
    };
    await healthy();
    const node = (port: number) => {
      const n = nodes.find((x) => x.port === port);
      if (!n) throw new Error(`no node on port ${port}`);
      return n;
    };
    const seeds = () => ports.map((port) => ({ host: '127.0.0.1', port }));
    return { nodes, seeds, topology, healthy, node, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
