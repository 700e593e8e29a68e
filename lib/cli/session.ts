// CLI plumbing: the io it writes to, its error type, and the fail-fast Redis connection behind auth.admin.
import { Redis } from 'ioredis';
import { consoleLogger } from '../core/logger';
import { type Admin, createAuthServer, RedisStore, type Store } from '../index';
import type { DeploymentRecord } from '../store/store';

/** Where the CLI reads and writes; `main` takes it so tests can run commands in-process. */
export interface CliIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
  env: Record<string, string | undefined>;
  /** Read by `--secret-stdin`, `--password-stdin` and `token … -` (default: process.stdin). */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** An error the CLI reports as `error: <message>` and exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    readonly exitCode: 1 | 2 | 3,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Exit codes: 0 ok, 1 not found or refused, 2 usage or bad input, 3 Redis unreachable. */
export const EXIT = { ok: 0, refused: 1, usage: 2, unavailable: 3 } as const;

export const DEFAULT_ISSUER = 'http://localhost:4000';
export const DEFAULT_PREFIX = 'tw:';

export interface ConnectOptions {
  url: string | undefined;
  prefix: string;
  /** --issuer or TOKENWARD_ISSUER; without it, the issuer the servers on this store noted. */
  issuer?: string;
  audience?: string;
  /** `TOKENWARD_KEY_SECRET`: the servers' keyEncryptionSecret, so that rotated keys are sealed too. */
  keySecret?: string;
  /** Per-attempt connect timeout in ms (default 1500); up to 3 attempts. */
  connectTimeout?: number;
}

/** The issuer and audience the CLI checks access tokens against, and where they came from. */
export interface Checking {
  issuer: string;
  audience: string;
  /** `option`: --issuer or TOKENWARD_ISSUER; `store`: the one server that noted itself there; `default`. */
  source: 'option' | 'store' | 'default';
  /** What the servers on this store noted (issuer, audience), most recently started first. */
  deployments: DeploymentRecord[];
}

export interface Session {
  admin: Admin;
  checking: Checking;
  /** The RedisStore behind `admin`: `keys rotate` reads the key set before writing one. */
  store: Store;
  close(): Promise<void>;
}

/**
 * The store as the CLI's server sees it when it has no key secret: it never creates the first
 * signing key (which would be clear) as a side effect of reading keys, e.g. `token introspect` on
 * an empty store. Writing keys is left to `keys rotate`, which decides whether a clear key may be
 * written.
 */
function withoutKeyCreation(store: RedisStore): Store {
  return new Proxy(store, {
    get(target, name) {
      if (name === 'initSigningKeys') return () => target.getSigningKeys();
      const value = Reflect.get(target, name, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** The URL with any password masked, fit for an error message. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

function checkUrl(url: string | undefined): string {
  if (!url) {
    throw new CliError(
      EXIT.usage,
      'REDIS_URL is not set (e.g. REDIS_URL=redis://127.0.0.1:6379 tokenward tenant list)',
    );
  }
  let protocol = '';
  try {
    protocol = new URL(url).protocol;
  } catch {}
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new CliError(EXIT.usage, 'REDIS_URL must be a redis:// or rediss:// URL');
  }
  return url;
}

/**
 * The issuer and audience to check tokens against: the options', else the one deployment the store
 * knows, else (none, or several to choose from) the default, which token commands then question.
 */
async function checkingOf(store: RedisStore, options: ConnectOptions): Promise<Checking> {
  const deployments = await store.listDeployments();
  const only = deployments.length === 1 ? deployments[0] : undefined;
  const known = options.issuer ? deployments.find((d) => d.issuer === options.issuer) : only;
  const issuer = options.issuer ?? only?.issuer ?? DEFAULT_ISSUER;
  return {
    issuer,
    audience: options.audience ?? known?.audience ?? issuer,
    source: options.issuer ? 'option' : only ? 'store' : 'default',
    deployments,
  };
}

/** Connect to one standalone Redis, giving up after 3 attempts, and build auth.admin on it. */
export async function connect(options: ConnectOptions): Promise<Session> {
  const url = checkUrl(options.url);
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: options.connectTimeout ?? 1500,
    retryStrategy: (times) => (times >= 3 ? null : times * 150),
  });
  let firstError: Error | undefined;
  // Without a listener ioredis prints each connection error with its stack.
  redis.on('error', (err: Error) => {
    firstError ??= err;
  });
  // After 'end' there is nothing to stop, and disconnect() would arm a 2 s timer holding the process.
  const stop = () => {
    if (redis.status !== 'end') redis.disconnect();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      redis.once('ready', resolve);
      redis.once('end', () => reject(firstError ?? new Error('connection closed')));
      redis.connect().catch(() => {}); // 'end' reports the failure once retries are exhausted
    });
  } catch (err) {
    stop();
    const reason = (err as Error).message || (err as { code?: string }).code || 'unknown error';
    throw new CliError(
      EXIT.unavailable,
      `cannot reach Redis at ${redactUrl(url)} (${reason}); check REDIS_URL`,
    );
  }
  try {
    const redisStore = new RedisStore({ redis, prefix: options.prefix });
    // Without the secret this process never writes a key on its own (see withoutKeyCreation), and
    // `keys rotate` writes a clear one only when told to where no sealed key exists; so the
    // start-up warning of insecureClearKeys would only be noise here.
    const store = options.keySecret ? redisStore : withoutKeyCreation(redisStore);
    const checking = await checkingOf(redisStore, options);
    const auth = createAuthServer({
      issuer: checking.issuer,
      audience: checking.audience,
      store,
      rateLimit: false,
      ...(options.keySecret
        ? { keyEncryptionSecret: options.keySecret }
        : { insecureClearKeys: true, logger: { error: consoleLogger.error, warn: () => {} } }),
    });
    return {
      admin: auth.admin,
      checking,
      store: redisStore,
      close: async () => {
        try {
          await redis.quit();
        } catch {
          stop();
        }
      },
    };
  } catch (err) {
    stop();
    throw err;
  }
}

/** Read all of stdin (at most 64 KiB), without one trailing newline. */
export async function readStdin(io: CliIo, what: string): Promise<string> {
  const stdin = io.stdin ?? process.stdin;
  if (stdin.isTTY) io.stderr.write(`reading ${what} from stdin (end with Ctrl-D)\n`);
  let text = '';
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.length > 65536) throw new CliError(EXIT.usage, `${what} on stdin is too long`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (!value) throw new CliError(EXIT.usage, `no ${what} on stdin`);
  return value;
}
