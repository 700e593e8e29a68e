// Durable token writes: a script and a WAIT in one pipeline, following Cluster redirects (MOVED / ASK /
// TRYAGAIN) by hand, since ioredis does not retry a pipeline whose replies differ.
import type { Cluster, Redis } from 'ioredis';
import { ConfigError, StoreUnavailableError } from '../errors';
import type { LuaScript } from './lua-script';

/** How many replicas must acknowledge a token write, and how long (ms) to wait for them. */
export interface Durability {
  replicas: number;
  timeout: number;
}

/** Validate RedisStore's `durability` option against its command timeout (ms). */
export function parseDurability(
  d: Durability | undefined,
  timeoutMs: number,
): Durability | undefined {
  if (d === undefined) return undefined;
  if (
    !Number.isInteger(d?.replicas) ||
    d.replicas < 1 ||
    !Number.isInteger(d.timeout) ||
    d.timeout < 1 ||
    d.timeout >= timeoutMs
  )
    throw new ConfigError(
      'RedisStore: `durability` needs whole `replicas` >= 1 and `timeout` ms below commandTimeout',
    );
  return { replicas: d.replicas, timeout: d.timeout };
}

/** A Cluster client's connection to `host:port` (a MOVED or ASK target), if it has one. */
function nodeAt(cluster: Cluster, address: string): Redis | undefined {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i);
  const port = Number(address.slice(i + 1));
  // 'all': a replica promoted since the last slot refresh is still filed as one.
  return cluster.nodes('all').find((n) => n.options.port === port && n.options.host === host);
}

type Pipeline = Record<string, (...args: (string | number)[]) => Pipeline> & {
  wait(replicas: number, timeout: number): unknown;
  exec(): Promise<[Error | null, unknown][] | null>;
};

/**
 * Script `call.name` (defined on the client) and a WAIT in one pipeline: on a Cluster the pipeline
 * follows the script's key to its master, and WAIT covers that connection's writes. Fails
 * (StoreUnavailableError) when fewer replicas than `d.replicas` acknowledged.
 *
 * ioredis retries a Cluster pipeline only when every reply failed alike; here WAIT answers, so
 * the script's MOVED / ASK / TRYAGAIN comes back as is and is followed here until `deadline`:
 * the script and WAIT go straight to the node named by MOVED (while ioredis refreshes its slot
 * map in the background: that takes a round of CLUSTER SLOTS on a new connection) or by ASK
 * (after ASKING); TRYAGAIN (a multi-key call meeting a slot mid-migration) waits a little.
 */
export async function durable(
  redis: Redis | Cluster,
  call: { name: string; script: LuaScript; args: (string | number)[] },
  d: Durability,
  deadline: number,
): Promise<unknown> {
  const cluster = 'refreshSlotsCache' in redis ? (redis as Cluster) : undefined;
  let redirected: { node: Redis; asking: boolean } | undefined;
  for (;;) {
    let results: [Error | null, unknown][];
    if (redirected) {
      const pipeline = redirected.node.pipeline();
      if (redirected.asking) pipeline.asking();
      pipeline.eval(call.script.lua, call.script.numberOfKeys, ...call.args);
      pipeline.wait(d.replicas, d.timeout);
      results = ((await pipeline.exec()) ?? []).slice(redirected.asking ? 1 : 0);
    } else {
      const pipeline = redis.pipeline() as unknown as Pipeline;
      (pipeline[call.name] as (...args: (string | number)[]) => Pipeline)(...call.args);
      pipeline.wait(d.replicas, d.timeout);
      results = (await pipeline.exec()) ?? [];
    }
    const [scriptResult, waitResult] = results;
    const redirect = /^(MOVED|ASK|TRYAGAIN)\b(?: \d+ (\S+))?/.exec(
      scriptResult?.[0]?.message ?? '',
    );
    if (redirect && cluster && Date.now() < deadline) {
      const [, kind, address = ''] = redirect;
      if (kind === 'TRYAGAIN') {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (kind === 'MOVED') cluster.refreshSlotsCache();
      const node = nodeAt(cluster, address);
      redirected = node ? { node, asking: kind === 'ASK' } : undefined;
      // A node ioredis has no connection to yet: once the slot map names it, it has one.
      if (!node) await new Promise<void>((r) => cluster.refreshSlotsCache(() => r()));
      continue;
    }
    if (scriptResult?.[0]) throw scriptResult[0];
    if (waitResult?.[0]) throw waitResult[0];
    if (Number(waitResult?.[1]) < d.replicas)
      throw new StoreUnavailableError(
        `write acknowledged by ${waitResult?.[1]} of ${d.replicas} replicas`,
      );
    return scriptResult?.[1];
  }
}
