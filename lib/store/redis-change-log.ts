// RedisStore's revocation-feed log: a capped Redis Stream every server instance appends to and reads.
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { decodeChange, type FeedChange, type FeedEntry } from '../core/feed-change';
import { StoreUnavailableError } from '../errors';
import { defineScript, scriptArgs } from './lua-script';
import { CHANGE_BATCH, CHANGE_LOG_LENGTH } from './memory-change-log';
import type { RedisRunner } from './redis-runner';
import type { ChangeBatch } from './store';

/** The log lives this long after its last change (every key has a TTL); then it starts a new epoch. */
const LOG_TTL = 7 * 24 * 3600;

/**
 * Entry ids are `<n>-0`, `n` counting changes in the meta hash, so that a reader can tell from the
 * first entry left whether the cap trimmed anything it has not read (stream ids alone cannot).
 */
const append = defineScript({
  keys: ['stream', 'meta'],
  args: ['json', '#maxLength', '#ttl', 'freshEpoch'],
  body: `
if redis.call('HSETNX', meta, 'e', freshEpoch) == 1 then redis.call('HSET', meta, 'n', 0) end
local n = redis.call('HINCRBY', meta, 'n', 1)
redis.call('XADD', stream, 'MAXLEN', '~', maxLength, n .. '-0', 'c', json)
redis.call('EXPIRE', stream, ttl)
redis.call('EXPIRE', meta, ttl)
return n`,
});

/** Replies `{epoch, last n, gap (0/1), id1, json1, id2, json2, …}`. */
const read = defineScript({
  keys: ['stream', 'meta'],
  args: ['afterEpoch', '#afterN', '#count', 'freshEpoch', '#ttl'],
  body: `
if redis.call('HSETNX', meta, 'e', freshEpoch) == 1 then
  redis.call('HSET', meta, 'n', 0)
  redis.call('EXPIRE', meta, ttl)
end
local e = redis.call('HGET', meta, 'e')
local last = tonumber(redis.call('HGET', meta, 'n')) or 0
if afterEpoch == '' then return {e, last, 0} end
if afterEpoch ~= e or afterN > last then return {e, last, 1} end
if afterN == last then return {e, last, 0} end
local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
local firstN = first and tonumber(string.match(first[1], '^(%d+)')) or (last + 1)
if afterN + 1 < firstN then return {e, last, 1} end
local out = {e, last, 0}
for _, m in ipairs(redis.call('XRANGE', stream, '(' .. afterN .. '-0', '+', 'COUNT', count)) do
  out[#out + 1] = string.match(m[1], '^(%d+)')
  out[#out + 1] = m[2][2]
end
return out`,
});

const SCRIPTS = { twAppendChange: append, twReadChanges: read } as const;

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

/** A position `<epoch>.<n>`, or undefined when malformed. */
function parsePosition(p: string): { epoch: string; n: number } | undefined {
  const dot = p.lastIndexOf('.');
  const n = Number(p.slice(dot + 1));
  if (dot < 1 || !/^\d{1,15}$/.test(p.slice(dot + 1)) || !Number.isSafeInteger(n)) return undefined;
  return { epoch: p.slice(0, dot), n };
}

/**
 * @example const log = new RedisChangeLog(redis, runner, 'tw:'); await log.append(change);
 */
export class RedisChangeLog {
  private readonly stream: string;
  private readonly meta: string;
  /** A connection of its own for XREAD BLOCK, which holds a connection while it waits. */
  private blocking?: Redis | Cluster;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly runner: RedisRunner,
    prefix: string,
    private readonly length = CHANGE_LOG_LENGTH,
  ) {
    this.stream = `${prefix}{feed}:s`;
    this.meta = `${prefix}{feed}:m`;
    for (const [name, { lua, numberOfKeys }] of Object.entries(SCRIPTS))
      if (!(name in redis)) redis.defineCommand(name, { lua, numberOfKeys });
  }

  private script<N extends keyof typeof SCRIPTS>(
    name: N,
    input: Parameters<typeof scriptArgs<(typeof SCRIPTS)[N]>>[1],
  ): Promise<unknown> {
    const args = scriptArgs(SCRIPTS[name], input as never);
    const fn = (this.redis as unknown as Record<string, ScriptFn>)[name] as ScriptFn;
    return this.runner.run(() => fn.apply(this.redis, args));
  }

  async append(change: FeedChange): Promise<void> {
    await this.script('twAppendChange', {
      stream: this.stream,
      meta: this.meta,
      json: JSON.stringify(change),
      maxLength: this.length,
      ttl: LOG_TTL,
      freshEpoch: randomBytes(6).toString('base64url'),
    });
  }

  async read(after: string | undefined, waitMs: number): Promise<ChangeBatch> {
    const at = after === undefined ? undefined : parsePosition(after);
    const batch = await this.readNow(
      after === undefined ? undefined : (at ?? { epoch: '-', n: 0 }),
    );
    if (waitMs <= 0 || batch.gap || batch.entries.length > 0 || !at) return batch;
    await this.waitForChange(at.n, waitMs);
    return this.readNow(at);
  }

  private async readNow(at: { epoch: string; n: number } | undefined): Promise<ChangeBatch> {
    const reply = (await this.script('twReadChanges', {
      stream: this.stream,
      meta: this.meta,
      afterEpoch: at?.epoch ?? '',
      afterN: at?.n ?? 0,
      count: CHANGE_BATCH,
      freshEpoch: randomBytes(6).toString('base64url'),
      ttl: LOG_TTL,
    })) as [string, number, number, ...string[]];
    const [epoch, last, gap, ...flat] = reply;
    const entries: FeedEntry[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const change = decodeChange(flat[i + 1] as string);
      if (change) entries.push({ id: `${epoch}.${flat[i]}`, change });
    }
    const end = `${epoch}.${last}`;
    if (!at || gap === 1) return { entries: [], cursor: end, gap: gap === 1 };
    const lastRead = flat.length >= 2 ? `${epoch}.${flat[flat.length - 2]}` : `${at.epoch}.${at.n}`;
    return { entries, cursor: lastRead, gap: false };
  }

  /** Wait (XREAD BLOCK) until an entry past `n` exists or `waitMs` passes. */
  private async waitForChange(n: number, waitMs: number): Promise<void> {
    const status = this.redis.status;
    if (status !== 'ready' && status !== 'connect')
      throw new StoreUnavailableError(`redis is ${status}: cannot read the change feed`);
    if (!this.blocking) {
      this.blocking = this.redis.duplicate();
      this.blocking.on('error', () => undefined); // reported through the reads that fail
    }
    const conn = this.blocking;
    const limit = waitMs + this.runner.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => {
          // A wait that outlives its bound is on a dead connection: start afresh next time.
          this.drop(conn);
          reject(new StoreUnavailableError(`redis did not answer XREAD in ${limit} ms`));
        }, limit);
        conn.xread('COUNT', 1, 'BLOCK', waitMs, 'STREAMS', this.stream, `${n}-0`).then(
          () => resolve(),
          (err: unknown) => {
            this.drop(conn);
            reject(
              new StoreUnavailableError(`XREAD failed: ${(err as Error)?.message}`, { cause: err }),
            );
          },
        );
      });
    } finally {
      clearTimeout(timer);
    }
  }

  private drop(conn: Redis | Cluster): void {
    if (this.blocking === conn) this.blocking = undefined;
    conn.disconnect();
  }

  close(): void {
    if (this.blocking) this.drop(this.blocking);
  }
}
