// What every CLI command gets: the admin API (connected on first use), output in text or JSON, stdin.
import type { Admin, Store } from '../index';
import {
  type Checking,
  CliError,
  type CliIo,
  connect,
  DEFAULT_PREFIX,
  EXIT,
  readStdin,
  type Session,
} from './session';

/** Options of the root command, recognised before or after the subcommand. */
export interface GlobalOptions {
  json?: boolean;
  prefix?: string;
  issuer?: string;
  audience?: string;
}

export interface Ctx {
  readonly io: CliIo;
  /** auth.admin on the Redis at REDIS_URL; connects on the first call. */
  admin(): Promise<Admin>;
  /** The RedisStore behind admin() (same connection). */
  store(): Promise<Store>;
  /** The issuer and audience access tokens are checked against, and where they came from. */
  checking(): Promise<Checking>;
  /** Write `value` as JSON under --json, else the text `human()` gives. */
  print(value: unknown, human: () => string): void;
  /** A secret or token read from stdin. */
  stdin(what: string): Promise<string>;
  /** Refuse: exit code 1 with `error: <message>`. */
  refuse(message: string): never;
}

export interface CliContext extends Ctx {
  setGlobals(globals: GlobalOptions): void;
  close(): Promise<void>;
}

export function createContext(io: CliIo): CliContext {
  let globals: GlobalOptions = {};
  let session: Promise<Session> | undefined;
  const open = () => {
    session ??= connect({
      url: io.env.REDIS_URL,
      prefix: globals.prefix ?? DEFAULT_PREFIX,
      ...((globals.issuer ?? io.env.TOKENWARD_ISSUER)
        ? { issuer: (globals.issuer ?? io.env.TOKENWARD_ISSUER) as string }
        : {}),
      ...(globals.audience ? { audience: globals.audience } : {}),
      ...(io.env.TOKENWARD_KEY_SECRET ? { keySecret: io.env.TOKENWARD_KEY_SECRET } : {}),
    });
    return session;
  };
  return {
    io,
    setGlobals(g) {
      globals = g;
    },
    admin: async () => (await open()).admin,
    store: async () => (await open()).store,
    checking: async () => (await open()).checking,
    print(value, human) {
      io.stdout.write(globals.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
    },
    stdin: (what) => readStdin(io, what),
    refuse(message): never {
      throw new CliError(EXIT.refused, message);
    },
    async close() {
      const s = await session?.catch(() => undefined);
      await s?.close();
    },
  };
}

/**
 * The list a repeatable option gave (`--role a --role b`, `--role a b`, `--role a,b`), split on
 * `separator`; `--role ''` gives the empty list. Undefined when the option was not given.
 */
export function listOption(
  values: string[] | undefined,
  separator = /[\s,]+/,
): string[] | undefined {
  return values?.flatMap((v) => v.split(separator)).filter(Boolean);
}

/** A string option: undefined when not given keeps `current`; '' clears it. */
export function stringOption(value: string | undefined, current: string | undefined) {
  return value === undefined ? current : value || undefined;
}
