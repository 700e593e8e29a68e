// Starts and stops real redis-server processes (standalone and cluster) for the test suite.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const INSTALL_CMD = 'sudo apt-get install -y redis-server redis-tools';

export interface Standalone {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export interface ClusterHandle {
  ports: number[];
  pids: number[];
  stop(): Promise<void>;
}

export interface LauncherState {
  dir: string;
  standalone: Standalone;
  cluster: ClusterHandle;
  onExit: () => void;
}

declare global {
  var __TW_REDIS__: LauncherState | undefined;
}

function onPath(bin: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir || '.', bin), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function ensureRedisInstalled(): void {
  if (onPath('redis-server') && onPath('redis-cli')) return;
  if (process.getuid?.() !== 0 || !onPath('apt-get')) {
    throw new Error(`redis-server/redis-cli not found on PATH; install them with: ${INSTALL_CMD}`);
  }
  const install = (): number | null =>
    spawnSync('apt-get', ['install', '-y', 'redis-server', 'redis-tools'], { stdio: 'inherit' })
      .status;
  if (install() === 0) return;
  spawnSync('apt-get', ['update'], { stdio: 'inherit' });
  if (install() !== 0) throw new Error(`apt-get failed; install Redis manually: ${INSTALL_CMD}`);
}

const handedOut = new Set<number>();

function probePort(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(null));
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : null));
    });
  });
}

/** A free port below 55000 whose cluster bus port (port + 10000) is free as well. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = await probePort(0);
    if (port === null || port >= 55000 || handedOut.has(port) || handedOut.has(port + 10000)) {
      continue;
    }
    if ((await probePort(port + 10000)) === null) continue;
    handedOut.add(port).add(port + 10000);
    return port;
  }
  throw new Error('could not find a free port below 55000 with a free bus port');
}

/** Whether a Redis (or Sentinel) on 127.0.0.1:`port` answers PING. */
export function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (buf) => done(buf.toString().startsWith('+PONG')));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Server {
  port: number;
  proc: ChildProcess;
  output: () => string;
}

async function spawnServer(port: number, dir: string, extra: string[] = []): Promise<Server> {
  mkdirSync(dir, { recursive: true });
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push('--dir', dir, '--daemonize', 'no', '--protected-mode', 'no', ...extra);
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d) => (out += d));
  proc.stderr?.on('data', (d) => (out += d));
  proc.once('error', (err) => (out += `\nspawn error: ${err.message}`));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) break;
    if (await ping(port)) return { port, proc, output: () => out };
    await sleep(100);
  }
  await stopProc(proc);
  throw new Error(`redis-server on port ${port} did not answer PING within 10 s:\n${out}`);
}

function stopProc(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

/** A standalone server; `port` to restart one on the same port, `args` for extra redis-server flags. */
export async function startStandalone(
  dir: string,
  opts: { port?: number; args?: string[] } = {},
): Promise<Standalone> {
  const server = await spawnServer(opts.port ?? (await freePort()), dir, opts.args);
  return { port: server.port, pid: server.proc.pid as number, stop: () => stopProc(server.proc) };
}

export async function startCluster(dir: string, masters = 3): Promise<ClusterHandle> {
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) ports.push(await freePort());
  const results = await Promise.allSettled(
    ports.map((p) =>
      spawnServer(p, path.join(dir, `node-${p}`), [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        path.join(dir, `nodes-${p}.conf`),
        '--cluster-node-timeout',
        '2000',
      ]),
    ),
  );
  const servers = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stop = async () => void (await Promise.all(servers.map((s) => stopProc(s.proc))));
  try {
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const addrs = ports.map((p) => `127.0.0.1:${p}`);
    await execFileAsync('redis-cli', [
      '--cluster',
      'create',
      ...addrs,
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const infos = await Promise.all(
        ports.map((p) =>
          execFileAsync('redis-cli', ['-p', String(p), 'cluster', 'info']).then(
            (r) => r.stdout,
            () => '',
          ),
        ),
      );
      if (infos.every((info) => info.includes('cluster_state:ok'))) break;
      if (Date.now() > deadline) {
        const logs = servers.map((s) => `--- ${s.port} ---\n${s.output()}`).join('\n');
        throw new Error(
          `cluster did not reach cluster_state:ok within 20 s:\n${infos.join('\n')}\n${logs}`,
        );
      }
      await sleep(200);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { ports, pids: servers.map((s) => s.proc.pid as number), stop };
}
