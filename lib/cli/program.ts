// The commander program of the `tokenward` CLI: global options, help text and every command.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { registerClient } from './commands/client';
import { registerDevice } from './commands/device';
import { registerKeys } from './commands/keys';
import { registerResource } from './commands/resource';
import { registerScope } from './commands/scope';
import { registerTenant } from './commands/tenant';
import { registerToken } from './commands/token';
import { registerUser } from './commands/user';
import type { CliContext } from './context';
import { DEFAULT_ISSUER, DEFAULT_PREFIX } from './session';

const ROOT_HELP = `
Environment:
  REDIS_URL          required: redis://[user:password@]host:port[/db] or rediss://… of one
                     standalone Redis (a Redis Cluster or Sentinel URL is out of scope)
  TOKENWARD_ISSUER   issuer when --issuer is not given (default: the one the server
                     noted in the store when it started)
  TOKENWARD_KEY_SECRET
                     the servers' keyEncryptionSecret: keys rotate seals the new signing key
                     with it; without it keys rotate exits 2 (see keys rotate --help)

Exit codes:
  0 ok, 1 not found or refused, 2 usage error or invalid input, 3 Redis unreachable

Secrets and passwords are read from stdin (--secret-stdin, --password-stdin) and never printed.

Examples:
  export REDIS_URL=redis://127.0.0.1:6379
  tokenward tenant set acme --local-user-mode
  printf %s "$SECRET" | tokenward client set svc --tenant acme --secret-stdin --grant client_credentials
  tokenward --json client list
  tokenward device list acme alice`;

function version(): string {
  // lib/cli and dist/cli both sit two levels below the package root.
  try {
    const pkg = path.join(__dirname, '..', '..', 'package.json');
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function buildProgram(ctx: CliContext): Command {
  const { io } = ctx;
  const program = new Command('tokenward')
    .description(
      "Manage a tokenward authorization server's tenants, clients, users, scopes, resource " +
        'servers, signing keys, device sessions and tokens in the Redis at REDIS_URL.',
    )
    .version(version(), '-V, --version')
    .option('--json', 'machine-readable JSON output')
    .option('--prefix <prefix>', 'key prefix of the RedisStore', DEFAULT_PREFIX)
    .option(
      '--issuer <url>',
      `issuer of the server; must match to introspect or revoke access tokens (default: $TOKENWARD_ISSUER, else the issuer the server noted in the store at start-up, else ${DEFAULT_ISSUER} with a warning)`,
    )
    .option(
      '--audience <aud>',
      "aud of the server's access tokens (default: the audience the server noted, else the issuer)",
    )
    // Settings set before .command() are inherited by every subcommand.
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      getOutHelpWidth: () => 100,
      getErrHelpWidth: () => 100,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', ROOT_HELP)
    .hook('preAction', (_root, action) => ctx.setGlobals(action.optsWithGlobals()));

  registerTenant(program, ctx);
  registerClient(program, ctx);
  registerUser(program, ctx);
  registerScope(program, ctx);
  registerResource(program, ctx);
  registerKeys(program, ctx);
  registerDevice(program, ctx);
  registerToken(program, ctx);
  return program;
}
