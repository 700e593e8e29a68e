// How RedisStore sends a call: bounded in time, with connection trouble and transient replies turned into
// StoreUnavailableError (→ 503), scripts by name, and token writes acknowledged by replicas when asked.
import type { Cluster, Redis } from 'ioredis';
import { StoreUnavailableError } from '../errors';
import type { LuaScript } from './lua-script';
import { type Durability, durable } from './redis-durable';

/** A script registered with ioredis `defineCommand`, called as a method of the client. */
type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

// Errors Redis answers while it cannot serve: unavailable, not a bug in our scripts.
const TRANSIENT_REPLY =
  /^(CLUSTERDOWN|TRYAGAIN|LOADING|READONLY|MASTERDOWN|NOREPLICAS|BUSY|MOVED|ASK)\b/;

/**
 * Runs calls on one ioredis client for a store.
 *
 * @example const runner = new RedisRunner(redis, 1000); await runner.run(() => redis.get(key));
 */
/** Where the client connects, for error messages: "redis at host:port" (Cluster: its first node). */
export function describeRedis(redis: Redis | Cluster): string {
  const r = redis as unknown as {
    isCluster?: boolean;
    startupNodes?: unknown[];
    options?: { host?: string; port?: number; path?: string; sentinels?: unknown[]; name?: string };
  };
  if (r.isCluster) {
    const first = r.startupNodes?.[0] as { host?: string; port?: number } | string | undefined;
    const node = typeof first === 'string' ? first : `${first?.host ?? ''}:${first?.port ?? ''}`;
    return `redis cluster at ${node}`;
  }
  const o = r.options ?? {};
  if (o.sentinels) return `redis sentinel group "${o.name ?? ''}"`;
  if (o.path) return `redis at ${o.path}`;
  return `redis at ${o.host ?? 'localhost'}:${o.port ?? 6379}`;
}

export class RedisRunner {
  /** Where the client connects, named in every unavailability message. */
  private readonly where: string;

  constructor(
    readonly redis: Redis | Cluster,
    /** Bound on each call, in ms. */
    readonly timeoutMs: number,
    /** With it, {@link write} waits for replicas. */
    readonly durability?: Durability,
  ) {
    this.where = describeRedis(redis);
  }

  /** Run one Redis call bounded in time; connection trouble becomes StoreUnavailableError. */
  run<T>(op: () => Promise<T>): Promise<T> {
    const status = this.redis.status;
    if (status === 'reconnecting' || status === 'end' || status === 'close') {
      return Promise.reject(new StoreUnavailableError(`${this.where} is ${status}`));
    }
    // One promise and one timer per call, no Promise.race: this runs once per guarded request.
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new StoreUnavailableError(`${this.where} did not answer in ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      let pending: Promise<T>;
      try {
        pending = op();
      } catch (err) {
        clearTimeout(timer);
        reject(err);
        return;
      }
      pending.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          const e = err as Error;
          if (err instanceof StoreUnavailableError) reject(err);
          else if (e?.name === 'ReplyError' && !TRANSIENT_REPLY.test(e.message)) reject(err);
          else
            reject(
              new StoreUnavailableError(
                `${this.where}: call failed: ${e?.message ?? String(err)}`,
                {
                  cause: err,
                },
              ),
            );
        },
      );
    });
  }

  /** Run script `name` (defined on the client) through {@link run}; `onSend` once it is handed to ioredis. */
  script(name: string, args: (string | number)[], onSend?: () => void): Promise<unknown> {
    return this.run(() => {
      onSend?.();
      return this.send(name, args);
    });
  }

  /** Script `name` straight to ioredis: unbounded, queued in order on the connection. */
  send(name: string, args: (string | number)[]): Promise<unknown> {
    const fn = (this.redis as unknown as Record<string, ScriptFn>)[name] as ScriptFn;
    return fn.apply(this.redis, args);
  }

  /** A token write: with `durability`, acknowledged by replicas (see {@link durable}). */
  write(
    name: string,
    script: LuaScript,
    args: (string | number)[],
    onSend?: () => void,
  ): Promise<unknown> {
    const d = this.durability;
    if (!d) return this.script(name, args, onSend);
    const deadline = Date.now() + this.timeoutMs;
    return this.run(() => {
      onSend?.();
      return durable(this.redis, { name, script, args }, d, deadline);
    });
  }

  /**
   * Like {@link write} but not bounded by {@link run}: it queues behind earlier calls on the same
   * connection (ioredis keeps order, and resends unanswered commands after a reconnect).
   */
  writeUnbounded(name: string, script: LuaScript, args: (string | number)[]): Promise<unknown> {
    const d = this.durability;
    if (!d) return this.send(name, args);
    return durable(this.redis, { name, script, args }, d, Date.now() + this.timeoutMs);
  }
}
