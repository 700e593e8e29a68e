// Results: per-variant medians over rounds, ratios, the stdout table and bench/results/latest.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type autocannon from 'autocannon';

export interface RunSample {
  rps: number;
  p50: number;
  p99: number;
  /** non-2xx + connection errors/timeouts + bodies that failed the check (warm-up included). */
  bad: number;
  detail: string;
  /** Cores used by processes outside the benchmark during the measured run (Linux only). */
  other?: number;
  /** CPU time of the server child per request of the measured run, µs (Linux only). */
  cpuUs?: number;
  /** CPU time of redis per request of the measured run, µs (Linux only). */
  redisUs?: number;
  /** What the scenario counted during the measured run (Scenario.counters). */
  counts?: Record<string, number>;
}

/** A further comparison of a variant against another one of its scenario (e.g. a peer). */
export interface Comparison {
  vs: string;
  target?: number;
  ratio?: number;
  cpuRatio?: number;
  met?: boolean;
}

export interface VariantResult {
  id: string;
  label: string;
  vs?: string;
  /** The least ratio asked for. */
  target?: number;
  /** ratio ≥ target (absent without a target or a valid ratio). */
  met?: boolean;
  /** Comparisons besides `vs`, each on a row of its own under the variant's. */
  also?: Comparison[];
  rounds: RunSample[];
  rps?: number;
  p50?: number;
  p99?: number;
  /** Median of the rounds' `other`. */
  other?: number;
  /** Median of the rounds' `cpuUs`. */
  cpuUs?: number;
  /** Median of the rounds' `redisUs`. */
  redisUs?: number;
  /** The `vs` variant's cpuUs over this one's: the ratio were the server alone on its CPU. */
  cpuRatio?: number;
  valid?: boolean;
  ratio?: number;
  ofEcho?: number;
}

export interface ScenarioResult {
  id: string;
  title: string;
  loadMethod: string;
  valid?: boolean;
  variants: VariantResult[];
}

export function sample(results: autocannon.Result[]): RunSample {
  const last = results[results.length - 1] as autocannon.Result;
  const sum = (k: 'non2xx' | 'errors' | 'mismatches') => results.reduce((n, r) => n + r[k], 0);
  const [non2xx, errors, mismatches] = [sum('non2xx'), sum('errors'), sum('mismatches')];
  const codes = results.flatMap((r) =>
    Object.entries(r.statusCodeStats ?? {})
      .filter(([c]) => !c.startsWith('2'))
      .map(([c, s]) => `${c}×${s.count}`),
  );
  const detail = `${non2xx} non-2xx${codes.length ? ` (${codes.join(' ')})` : ''}, ${errors} errors, ${mismatches} bad bodies`;
  const rps = last.requests.total / last.duration;
  return {
    rps,
    p50: last.latency.p50,
    p99: last.latency.p99,
    bad: non2xx + errors + mismatches,
    detail,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Fill medians, validity and ratios (ratio of medians; `ofEcho` against the baseline's median). */
export function summarize(scenarios: ScenarioResult[]): void {
  for (const sc of scenarios) {
    for (const v of sc.variants) {
      v.rps = median(v.rounds.map((r) => r.rps));
      v.p50 = median(v.rounds.map((r) => r.p50));
      v.p99 = median(v.rounds.map((r) => r.p99));
      const others = v.rounds.flatMap((r) => (r.other === undefined ? [] : [r.other]));
      if (others.length) v.other = median(others);
      const cpus = v.rounds.flatMap((r) => (r.cpuUs === undefined ? [] : [r.cpuUs]));
      if (cpus.length) v.cpuUs = median(cpus);
      const redis = v.rounds.flatMap((r) => (r.redisUs === undefined ? [] : [r.redisUs]));
      if (redis.length) v.redisUs = median(redis);
      v.valid = v.rounds.length > 0 && v.rounds.every((r) => r.bad === 0);
    }
    sc.valid = sc.variants.every((v) => v.valid);
  }
  const echo = scenarios.find((s) => s.id === 'baseline')?.variants[0];
  for (const sc of scenarios) {
    const compare = (v: VariantResult, c: Comparison | VariantResult) => {
      const ref = sc.variants.find((x) => x.id === c.vs);
      if (sc.valid && ref?.rps) c.ratio = (v.rps ?? 0) / ref.rps;
      if (sc.valid && ref?.cpuUs && v.cpuUs) c.cpuRatio = ref.cpuUs / v.cpuUs;
      if (c.target !== undefined && c.ratio !== undefined) c.met = c.ratio >= c.target;
    };
    for (const v of sc.variants) {
      compare(v, v);
      for (const c of v.also ?? []) compare(v, c);
      if (v.valid && echo?.valid && echo.rps) v.ofEcho = (v.rps ?? 0) / echo.rps;
    }
  }
}

/** `≥ 0.80 met`, `≥ 0.80 MISSED`, or `≥ 0.80 —` when there is no valid ratio. */
export function targetMark(v: Pick<Comparison, 'target' | 'met'>): string {
  if (v.target === undefined) return '';
  const want = `≥ ${v.target.toFixed(2)}`;
  if (v.met === undefined) return `${want} —`;
  return `${want} ${v.met ? 'met' : 'MISSED'}`;
}

export function table(scenarios: ScenarioResult[]): string {
  const rows = [
    [
      'scenario',
      'variant',
      'req/s',
      'p50 ms',
      'p99 ms',
      'ratio',
      'target',
      'of echo',
      'µs/req',
      'redis µs',
      'cpu ratio',
      'other CPU',
      'check',
    ],
  ];
  for (const sc of scenarios) {
    for (const v of sc.variants) {
      const ok = v.valid;
      const ref = sc.variants.find((x) => x.id === v.vs);
      const ratio =
        v.ratio === undefined ? (v.vs ? '—' : '') : `${v.ratio.toFixed(2)}× vs ${ref?.label}`;
      const bad = v.rounds.find((r) => r.bad > 0);
      rows.push([
        sc.id,
        v.label,
        ok ? Math.round(v.rps ?? 0).toString() : '—',
        ok ? String(v.p50) : '—',
        ok ? String(v.p99) : '—',
        ratio,
        targetMark(v),
        v.ofEcho === undefined ? '—' : `${(v.ofEcho * 100).toFixed(0)}%`,
        ok && v.cpuUs !== undefined ? Math.round(v.cpuUs).toString() : '',
        ok && v.redisUs !== undefined ? Math.round(v.redisUs).toString() : '',
        v.cpuRatio === undefined ? '' : `${v.cpuRatio.toFixed(2)}×`,
        v.other === undefined ? '' : v.other.toFixed(2),
        ok ? 'ok' : `INVALID: ${bad?.detail ?? 'no runs'}`,
      ]);
      // Further comparisons: the ratio columns only, on rows of their own.
      for (const c of v.also ?? []) {
        const to = sc.variants.find((x) => x.id === c.vs)?.label ?? c.vs;
        const ratio = c.ratio === undefined ? '—' : `${c.ratio.toFixed(2)}× vs ${to}`;
        const cpu = c.cpuRatio === undefined ? '' : `${c.cpuRatio.toFixed(2)}×`;
        rows.push([sc.id, `↳ ${v.label}`, '', '', '', ratio, targetMark(c), '', '', '', cpu]);
      }
    }
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    line(rows[0] ?? []),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.slice(1).map(line),
  ].join('\n');
}

export function writeJson(file: string, data: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
}
