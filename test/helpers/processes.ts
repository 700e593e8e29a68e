// Child Node processes for tests: start a TypeScript entry with tsx, read the port it prints, stop it for sure.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

export interface NodeProcess {
  pid: number;
  /** The port the entry printed as `{"port":N}` on its first stdout line. */
  port: number;
  /** Everything it wrote so far (stdout and stderr), for failure messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

function exited(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

function stopProc(proc: ChildProcess, graceMs: number): Promise<void> {
  if (exited(proc) || proc.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

/**
 * Run `node --import tsx <entry>` (path relative to the repository root) with `env` added, and wait
 * until it prints `{"port":N}`. Fails with its output if it exits or stays silent for `timeoutMs`.
 */
export function startNodeProcess(
  entry: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<NodeProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, entry)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let settled = false;
  proc.stderr?.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      void stopProc(proc, 0).then(() => reject(new Error(`${entry}: ${why}\n${out}`)));
    };
    const timer = setTimeout(() => fail(`no port printed within ${timeoutMs} ms`), timeoutMs);
    proc.once('error', (err) => fail(`spawn failed: ${err.message}`));
    proc.once('exit', (code, signal) => fail(`exited early (code ${code}, signal ${signal})`));
    proc.stdout?.on('data', (d) => {
      out += d;
      const line = /^\{"port":(\d+)\}$/m.exec(out);
      if (!line || settled) return;
      settled = true;
      clearTimeout(timer);
      proc.removeAllListeners('exit');
      resolve({
        pid: proc.pid as number,
        port: Number(line[1]),
        output: () => out,
        stop: (graceMs = 3000) => stopProc(proc, graceMs),
      });
    });
  });
}
