// Runs the tokenward CLI in-process through main() with captured stdout, stderr and stdin.
import { Readable } from 'node:stream';
import { main } from '../../lib/cli/main';
import { redisUrl } from './redis';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (for --json runs). */
  json<T = unknown>(): T;
}

export interface CliRunOptions {
  /** Environment of the run (default: REDIS_URL of the test Redis). */
  env?: Record<string, string | undefined>;
  /** Text on stdin (default: empty). */
  stdin?: string;
}

export async function runCli(args: string[], options: CliRunOptions = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: options.env ?? { REDIS_URL: redisUrl() },
    stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
  });
  return { code, stdout, stderr, json: <T>() => JSON.parse(stdout) as T };
}

/** A runner bound to one key prefix: `cli('tenant', 'list')` runs `--prefix <prefix> tenant list`. */
export function cliFor(prefix: string) {
  return (args: string[], options?: CliRunOptions) =>
    runCli(['--prefix', prefix, ...args], options);
}
