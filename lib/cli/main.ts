// The `tokenward` CLI as a function: main(argv, io) runs one command and resolves to its exit code.
import { CommanderError } from 'commander';
import { ConfigError, StoreUnavailableError, ValidationError } from '../index';
import { createContext } from './context';
import { buildProgram } from './program';
import { CliError, type CliIo, EXIT } from './session';

export type { CliIo } from './session';

// ioredis errors raised when the connection drops in the middle of a command.
const CONNECTION_ERROR = /^(MaxRetriesPerRequestError|ClusterAllFailedError)$|Connection is closed/;

function report(err: unknown, io: CliIo): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage; // commander printed it
  const fail = (code: number, message: string) => {
    io.stderr.write(`error: ${message}\n`);
    return code;
  };
  if (err instanceof CliError) return fail(err.exitCode, err.message);
  if (err instanceof ValidationError || err instanceof ConfigError)
    return fail(EXIT.usage, err.message);
  const e = err as Error;
  if (err instanceof StoreUnavailableError || CONNECTION_ERROR.test(`${e?.name}|${e?.message}`))
    return fail(EXIT.unavailable, `Redis stopped answering (${e.message}); check REDIS_URL`);
  return fail(EXIT.refused, e?.message ?? String(err));
}

/**
 * Run the CLI with `argv` (arguments after the program name); never throws, never prints a stack.
 *
 * @example process.exitCode = await main(process.argv.slice(2), { stdout, stderr, env: process.env });
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const ctx = createContext(io);
  try {
    await buildProgram(ctx).parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    return report(err, io);
  } finally {
    await ctx.close();
  }
}
