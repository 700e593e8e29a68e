// Server children: `node --import tsx bench/server.ts <config-json>`, port read from stdout, always stopped.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { ServerConfig } from './shared';

const ROOT = path.resolve(__dirname, '..');
/** Every child still running, so the runner can stop them on any exit path. */
export const children = new Set<ChildProcess>();

export interface Child {
  proc: ChildProcess;
  port: number;
}

export function startServer(name: string, config: ServerConfig): Promise<Child> {
  const args = ['--import', 'tsx', 'bench/server.ts', JSON.stringify(config)];
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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
    const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
    proc.once('exit', () => resolve(void clearTimeout(t)));
    proc.kill('SIGTERM');
  });
}
