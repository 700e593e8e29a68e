// Benchmark runner: own redis-server, one server child per variant, autocannon load, alternating rounds.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import {
  ensureRedisInstalled,
  type Standalone,
  startStandalone,
} from '../test/helpers/redis-launcher';
import { children, startServer, stopChild } from './children';
import { CONNECTIONS, fire } from './load';
import { type ScenarioResult, sample, summarize, table, writeJson } from './report';
import { type Handle, type Scenario, scenarios } from './scenarios';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const QUICK = args.quick ?? false;
const ROUNDS = QUICK ? 1 : 3;
const WARMUP_S = QUICK ? 1 : 2;
const MEASURE_S = QUICK ? 4 : 10;
// The default perClient limit is 600 a minute: spread client_credentials over enough clients that
// none reaches it within one run (warm-up + measurement) at ~5k req/s; a 429 makes the run invalid.
const CC_CLIENTS = QUICK ? 64 : 128;

let redis: Standalone | undefined;

async function runScenario(sc: Scenario): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    id: sc.id,
    title: sc.title,
    loadMethod: sc.loadMethod,
    variants: sc.variants.map((v) => ({ id: v.id, label: v.label, vs: v.vs, rounds: [] })),
  };
  const handles: Handle[] = [];
  try {
    for (const v of sc.variants)
      handles.push({ variant: v, ...(await startServer(v.id, v.server)) });
    for (const h of handles) await sc.prepare?.(h);
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate the order each round so neither side always runs first.
      for (const h of round % 2 ? handles : [...handles].reverse()) {
        const warm = await fire(h.port, WARMUP_S, await sc.load(h));
        const s = sample([warm, await fire(h.port, MEASURE_S, await sc.load(h))]);
        result.variants.find((v) => v.id === h.variant.id)?.rounds.push(s);
        const flag = s.bad ? `  INVALID: ${s.detail}` : '';
        const stats = `${Math.round(s.rps)} req/s, p50 ${s.p50} ms, p99 ${s.p99} ms`;
        console.log(`  ${sc.id}/${h.variant.id} round ${round}: ${stats}${flag}`);
      }
    }
  } finally {
    await Promise.all(handles.map((h) => stopChild(h.proc)));
  }
  return result;
}

async function main(): Promise<number> {
  ensureRedisInstalled();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tokenward-bench-'));
  let admin: Redis | undefined;
  try {
    redis = await startStandalone(dir);
    const r = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    admin = r;
    const cpus = os.cpus();
    const env = {
      date: new Date().toISOString(),
      node: process.version,
      redis: /redis_version:(\S+)/.exec(await r.info('server'))?.[1] ?? 'unknown',
      cpu: { model: cpus[0]?.model ?? 'unknown', count: cpus.length },
      quick: QUICK,
      rounds: ROUNDS,
      warmupSeconds: WARMUP_S,
      measureSeconds: MEASURE_S,
      connections: CONNECTIONS,
      loadGenerator: `autocannon ${require('autocannon/package.json').version} in the runner process`,
    };
    console.log(`tokenward bench${QUICK ? ' --quick' : ''}: node ${env.node}, redis ${env.redis},`);
    console.log(
      `  ${env.cpu.count}× ${env.cpu.model}; ${env.loadGenerator}; ${CONNECTIONS} connections;`,
    );
    console.log(
      `  ${ROUNDS} round(s) of ${WARMUP_S} s warm-up + ${MEASURE_S} s measured per variant`,
    );
    const clearRateLimits = async (prefix: string) => {
      const keys = await r.keys(`${prefix}rl:*`);
      if (keys.length) await r.del(...keys);
    };
    const results: ScenarioResult[] = [];
    for (const sc of scenarios({ redisPort: redis.port, ccClients: CC_CLIENTS, clearRateLimits })) {
      console.log(`${sc.id}: ${sc.title}\n  load: ${sc.loadMethod}`);
      results.push(await runScenario(sc));
    }
    summarize(results);
    console.log(`\n${table(results)}\n`);
    console.log(
      'req/s, p50, p99: medians over rounds (latency in whole ms, as autocannon records it);',
    );
    console.log('ratio: median req/s over that of the variant named; of echo: over the baseline.');
    const file = path.join(__dirname, 'results', 'latest.json');
    writeJson(file, { ...env, scenarios: results });
    console.log(`wrote ${path.relative(process.cwd(), file)}`);
    const invalid = results.filter((x) => !x.valid).map((x) => x.id);
    if (invalid.length)
      console.error(`INVALID (errors seen, not comparable): ${invalid.join(', ')}`);
    return invalid.length ? 1 : 0;
  } finally {
    await Promise.all([...children].map(stopChild));
    admin?.disconnect();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.once('SIGINT', () => {
  for (const c of children) c.kill('SIGKILL');
  void (redis?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
});

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
