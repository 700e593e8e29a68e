// Server children: `node --import tsx bench/server.ts <config-json>`, port read from stdout, always stopped.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import type { ServerConfig } from './shared';

const ROOT = path.resolve(__dirname, '..');
/** Every child still running, so the runner can stop them on any exit path. */
export const children = new Set<ChildProcess>();

export interface Child {
  proc: ChildProcess;
  port: number;
}

/** Where `BENCH_CPU_PROF` children write their profiles. */
export const PROFILE_DIR = path.join(ROOT, 'bench', 'results', 'profiles');

/**
 * `BENCH_CPU_PROF=guard/local,guard-cold/local` (names as `<scenario>/<variant>`, or `all`): run
 * those server children under `node --cpu-prof`; each writes its profile when stopped.
 */
function profileArgs(name: string): string[] {
  const wanted = (process.env.BENCH_CPU_PROF ?? '').split(',').filter(Boolean);
  if (!wanted.includes(name) && !wanted.includes('all')) return [];
  const dir = path.join(PROFILE_DIR, name.replace(/[^\w.-]+/g, '_'));
  return ['--cpu-prof', '--cpu-prof-dir', dir];
}

/**
 * `--pin` (run.ts): the CPU every server child is pinned to with taskset, the runner (load
 * generator) and redis being pinned to the other ones; undefined: no pinning.
 */
export const pinning: { serverCpu?: number; restCpus?: string } = {};

/** Pin a running process, all its threads, to `cpus` (taskset list syntax, e.g. "0" or "0-2"). */
export function pin(pid: number, cpus: string): void {
  const r = spawnSync('taskset', ['-a', '-cp', cpus, String(pid)], { stdio: 'ignore' });
  if (r.status !== 0)
    throw new Error(`taskset -a -cp ${cpus} ${pid} failed (is taskset installed?)`);
}

/** `peer`: a server the one under test talks to (pinned with the load generator, not with it). */
export function startServer(
  name: string,
  config: ServerConfig,
  role: 'tested' | 'peer' = 'tested',
): Promise<Child> {
  const args = [...profileArgs(name), '--import', 'tsx', 'bench/server.ts', JSON.stringify(config)];
  const cpu = role === 'peer' ? pinning.restCpus : pinning.serverCpu;
  const [cmd, argv] =
    cpu === undefined
      ? [process.execPath, args]
      : ['taskset', ['-c', String(cpu), process.execPath, ...args]];
  const proc = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  let err = '';
  proc.stderr?.on('data', (d) => {
    err = (err + d).slice(-4000);
    process.stderr.write(`[${name}] ${d}`);
  });
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new Error(`${name}: ${why}\n${err}`));
    const timer = setTimeout(() => fail('no port within 60 s'), 60_000);
    proc.stdout?.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (!out.includes('\n') || !line) return;
      clearTimeout(timer);
      resolve({ proc, port: (JSON.parse(line) as { port: number }).port });
    });
    proc.once('exit', (code) => {
      children.delete(proc);
      clearTimeout(timer);
      fail(`server exited with ${code}`);
    });
  });
}

export function stopChild(proc: ChildProcess): Promise<void> {
  children.delete(proc);
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    // Generous: a child under --cpu-prof writes its profile on the way out.
    const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    proc.once('exit', () => resolve(void clearTimeout(t)));
    proc.kill('SIGTERM');
  });
}
