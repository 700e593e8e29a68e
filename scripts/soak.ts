// Soak: minutes of mixed load on MemoryStore then RedisStore, sampling server RSS/heap and Redis used_memory; is memory flat after warm-up?
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import {
  ensureRedisInstalled,
  type Standalone,
  startStandalone,
} from '../test/helpers/redis-launcher';
import { FAMILIES, LOOPS, Load } from './soak-load';
import { type Kind, SWEEP_S, TTL } from './soak-server';

interface Sample {
  store: Kind;
  t: number;
  requests: number;
  rps: number;
  failed: number;
  rssMB: number;
  heapMB: number;
  grants: number | null;
  redisMB: number | null;
  redisKeys: number | null;
}

const MB = (n: number) => Math.round((n / 1048576) * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startChild(kind: Kind, redisPort: number, prefix: string) {
  const proc = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      'tsx',
      path.join(__dirname, 'soak-server.ts'),
      kind,
      String(redisPort),
      prefix,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise<{ proc: ChildProcess; port: number }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server child silent:\n${out}`)), 30_000);
    proc.once('exit', (code) => reject(new Error(`server child exited (${code}):\n${out}`)));
    proc.stdout?.on('data', (d) => {
      out += d;
      const m = /\{"port":(\d+)\}/.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.removeAllListeners('exit');
        resolve({ proc, port: Number(m[1]) });
      }
    });
  });
}

function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

async function soak(
  kind: Kind,
  seconds: number,
  intervalS: number,
  redisPort: number,
  redis?: Redis,
) {
  const prefix = `soak-${Date.now().toString(36)}:`;
  const { proc, port } = await startChild(kind, redisPort, prefix);
  const samples: Sample[] = [];
  try {
    const base = `http://127.0.0.1:${port}`;
    const load = new Load(base);
    const end = Date.now() + seconds * 1000;
    const loops = Array.from({ length: LOOPS }, async (_, i) => {
      while (Date.now() < end) await load.step(i);
    });
    const started = Date.now();
    let lastCount = 0;
    let lastAt = started;
    const take = async () => {
      const m = (await (await fetch(`${base}/_soak/memory`)).json()) as {
        rss: number;
        heapUsed: number;
        grants?: number;
      };
      const redisInfo = redis ? await redis.info('memory') : '';
      const used = /used_memory:(\d+)/.exec(redisInfo)?.[1];
      const keys = redis ? await redis.dbsize() : null;
      const now = Date.now();
      samples.push({
        store: kind,
        t: Math.round((now - started) / 1000),
        requests: load.requests,
        rps: Math.round(((load.requests - lastCount) * 1000) / Math.max(1, now - lastAt)),
        failed: load.failed,
        rssMB: MB(m.rss),
        heapMB: MB(m.heapUsed),
        grants: m.grants ?? null,
        redisMB: used ? MB(Number(used)) : null,
        redisKeys: keys,
      });
      lastCount = load.requests;
      lastAt = now;
      printRow(samples[samples.length - 1] as Sample);
    };
    await take();
    while (Date.now() < end) {
      await sleep(Math.min(intervalS * 1000, end - Date.now()));
      await take();
    }
    await Promise.all(loops);
    if (load.failures.size)
      console.log(`failures: ${JSON.stringify(Object.fromEntries(load.failures))}`);
  } finally {
    await stopChild(proc);
  }
  return samples;
}

const COLUMNS: [keyof Sample, string, number][] = [
  ['store', 'store', 7],
  ['t', 't (s)', 6],
  ['requests', 'requests', 9],
  ['rps', 'req/s', 6],
  ['failed', 'failed', 7],
  ['rssMB', 'RSS MB', 7],
  ['heapMB', 'heap MB', 8],
  ['grants', 'grants', 7],
  ['redisMB', 'redis MB', 9],
  ['redisKeys', 'keys', 7],
];
function printRow(s: Sample) {
  console.log(COLUMNS.map(([k, , w]) => String(s[k] ?? '—').padStart(w)).join(' '));
}
function printHeader(title: string) {
  console.log(`\n${title}`);
  console.log(COLUMNS.map(([, h, w]) => h.padStart(w)).join(' '));
}

interface Verdict {
  metric: string;
  start: number;
  end: number;
  changePct: number;
  flat: boolean;
}

/**
 * After the warm-up, start = the mean of the first samples and end = the mean of the last ones
 * (up to 3 each: RSS moves ±10 % from one sample to the next as V8 and the allocator return
 * memory); flat when end is within ±10 % of start. Heap is measured after a forced full GC.
 */
function verdicts(samples: Sample[], warmupS: number): Verdict[] {
  const after = samples.filter((s) => s.t >= warmupS);
  const n = Math.min(3, Math.floor(after.length / 2));
  if (n < 1) return [];
  const metrics: (keyof Sample)[] = ['rssMB', 'heapMB', 'redisMB'];
  return metrics.flatMap((metric) => {
    const mean = (xs: Sample[]) => {
      const values = xs.map((x) => x[metric]);
      if (values.some((v) => typeof v !== 'number')) return undefined;
      return (values as number[]).reduce((a, b) => a + b, 0) / values.length;
    };
    const a = mean(after.slice(0, n));
    const b = mean(after.slice(-n));
    if (a === undefined || b === undefined) return [];
    const round = (x: number) => Math.round(x * 10) / 10;
    const changePct = round(((b - a) / a) * 100);
    return [{ metric, start: round(a), end: round(b), changePct, flat: Math.abs(changePct) <= 10 }];
  });
}

async function main() {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      interval: { type: 'string', default: '10' },
      stores: { type: 'string', default: 'memory,redis' },
    },
  });
  const minutes = Number(values.minutes);
  const intervalS = Number(values.interval);
  const stores = (values.stores ?? '').split(',').filter(Boolean) as Kind[];
  if (!(minutes > 0) || !(intervalS > 0) || stores.some((s) => s !== 'memory' && s !== 'redis')) {
    throw new Error(
      'usage: npm run soak -- [--minutes 10] [--interval 10] [--stores memory,redis]',
    );
  }
  const seconds = Math.round(minutes * 60);
  // Past the longest lifetime (60 s) plus two sweeps, and a third of the run, at most 3 min: the
  // guard's verified-token cache (10,000 tokens, evicted by LRU) takes ~2 min to fill at this load.
  const warmupS = Math.min(180, Math.max(TTL.refreshTokenMaxAge + 2 * SWEEP_S, seconds / 3));

  ensureRedisInstalled();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tokenward-soak-'));
  let server: Standalone | undefined;
  let redis: Redis | undefined;
  const results: Record<string, { samples: Sample[]; verdicts: Verdict[] }> = {};
  try {
    if (stores.includes('redis')) {
      server = await startStandalone(dir);
      redis = new Redis({ host: '127.0.0.1', port: server.port, maxRetriesPerRequest: 1 });
    }
    console.log(
      `soak: ${minutes} min per store (${stores.join(', ')}), sample every ${intervalS} s, warm-up ${warmupS} s; ${LOOPS} loops`,
    );
    for (const kind of stores) {
      printHeader(`${kind === 'memory' ? 'MemoryStore' : 'RedisStore'}`);
      const samples = await soak(
        kind,
        seconds,
        intervalS,
        server?.port ?? 0,
        kind === 'redis' ? redis : undefined,
      );
      results[kind] = { samples, verdicts: verdicts(samples, warmupS) };
    }
  } finally {
    redis?.disconnect();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  console.log(`\nafter warm-up (${warmupS} s): mean of the first 3 samples → mean of the last 3`);
  let allFlat = Object.values(results).every((r) => r.verdicts.length > 0);
  if (!allFlat) console.log('  run shorter than the warm-up: no verdict');
  for (const [kind, r] of Object.entries(results)) {
    for (const v of r.verdicts) {
      allFlat &&= v.flat;
      console.log(
        `  ${kind.padEnd(7)} ${v.metric.padEnd(8)} ${String(v.start).padStart(7)} → ${String(v.end).padStart(7)} MB  ${v.changePct >= 0 ? '+' : ''}${v.changePct}%  ${v.flat ? 'flat' : 'NOT FLAT'}`,
      );
    }
    const failed = r.samples[r.samples.length - 1]?.failed ?? 0;
    if (failed) console.log(`  ${kind}: ${failed} failed requests`);
  }
  const out = path.join(__dirname, '..', 'bench', 'results', 'soak.json');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        cpus: os.cpus().length,
        settings: {
          minutes,
          intervalS,
          warmupS,
          loops: LOOPS,
          families: FAMILIES,
          ttl: TTL,
          sweepS: SWEEP_S,
        },
        results,
        flat: allFlat,
      },
      null,
      2,
    )}\n`,
  );
  const verdict = Object.values(results).some((r) => r.verdicts.length === 0)
    ? 'no verdict (run shorter than the warm-up)'
    : allFlat
      ? 'flat (±10 %)'
      : 'NOT flat (±10 %)';
  console.log(`\nwrote ${path.relative(process.cwd(), out)}; memory after warm-up: ${verdict}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
