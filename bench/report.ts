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
  /** How long the warm-up before it ran, and whether throughput had settled (load.ts warmUp). */
  warmup?: { seconds: number; settled: boolean };
  /** Milliseconds from each revoke's response to the guard's first 401 (revocation-lag). */
  lags?: number[];
  /** Revoked tokens the guard still accepted 5 s after the revoke answered. */
  lagFailures?: number;
}

/** Percentiles of revocation lags in ms, pooled over a variant's rounds. */
export interface LagStats {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Tokens still accepted after 5 s: any makes the run invalid. */
  failures: number;
  /** The most p99 may be, in ms. */
  target?: number;
  met?: boolean;
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
  /** ratio ≥ target (absent without a target or a valid ratio, or when `withheld`). */
  met?: boolean;
  /**
   * Why this ratio must not be judged against its target nor compared with a full run's (quick
   * runs: a scenario that cannot reach its steady state cheaply, or a warm-up that never settled).
   */
  withheld?: string;
  /** revocation-lag: the lags of every round, pooled. */
  lag?: LagStats;
  /** revocation-lag: the most the p99 lag may be, in ms. */
  lagTarget?: number;
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
  /** false: a quick run cannot reach this scenario's steady state cheaply (see run.ts). */
  quickComparable?: boolean;
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

/** The p-th percentile (0–100) of `xs`, nearest rank. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? 0;
}

/** Pooled lags of a variant's rounds, or undefined when it measured none. */
function lagStats(v: VariantResult): LagStats | undefined {
  const lags = v.rounds.flatMap((r) => r.lags ?? []);
  const failures = v.rounds.reduce((n, r) => n + (r.lagFailures ?? 0), 0);
  if (!lags.length && !failures) return undefined;
  const [p50, p90, p99] = [50, 90, 99].map((p) => percentile(lags, p)) as [number, number, number];
  const stats: LagStats = { n: lags.length, p50, p90, p99, max: Math.max(0, ...lags), failures };
  if (v.lagTarget !== undefined)
    Object.assign(stats, { target: v.lagTarget, met: !failures && p99 <= v.lagTarget });
  return stats;
}

/** How a run was made, as summarize needs it. */
export interface RunKind {
  /** A quick run: withhold the verdict of ratios it cannot make comparable with a full run's. */
  quick: boolean;
  /** Cores other processes may use during a measured run before it counts as disturbed. */
  noiseLimit: number;
}

/** Fill medians, validity and ratios (ratio of medians; `ofEcho` against the baseline's median). */
export function summarize(
  scenarios: ScenarioResult[],
  kind: RunKind = { quick: false, noiseLimit: Infinity },
): void {
  for (const sc of scenarios) {
    for (const v of sc.variants) {
      const lag = lagStats(v);
      if (lag) v.lag = lag;
      v.rps = median(v.rounds.map((r) => r.rps));
      v.p50 = median(v.rounds.map((r) => r.p50));
      v.p99 = median(v.rounds.map((r) => r.p99));
      const others = v.rounds.flatMap((r) => (r.other === undefined ? [] : [r.other]));
      if (others.length) v.other = median(others);
      const cpus = v.rounds.flatMap((r) => (r.cpuUs === undefined ? [] : [r.cpuUs]));
      if (cpus.length) v.cpuUs = median(cpus);
      const redis = v.rounds.flatMap((r) => (r.redisUs === undefined ? [] : [r.redisUs]));
      if (redis.length) v.redisUs = median(redis);
      v.valid = v.rounds.length > 0 && v.rounds.every((r) => r.bad === 0 && !r.lagFailures);
    }
    sc.valid = sc.variants.every((v) => v.valid);
    if (kind.quick) withhold(sc, kind.noiseLimit);
  }
  const echo = scenarios.find((s) => s.id === 'baseline')?.variants[0];
  for (const sc of scenarios) {
    const compare = (v: VariantResult, c: Comparison | VariantResult) => {
      const ref = sc.variants.find((x) => x.id === c.vs);
      if (sc.valid && ref?.rps) c.ratio = (v.rps ?? 0) / ref.rps;
      if (sc.valid && ref?.cpuUs && v.cpuUs) c.cpuRatio = ref.cpuUs / v.cpuUs;
      if (c.target !== undefined && c.ratio !== undefined && !v.withheld)
        c.met = c.ratio >= c.target;
    };
    for (const v of sc.variants) {
      compare(v, v);
      for (const c of v.also ?? []) compare(v, c);
      if (v.valid && echo?.valid && echo.rps) v.ofEcho = (v.rps ?? 0) / echo.rps;
    }
  }
}

export const NOT_COMPARABLE = 'not comparable to a full run';

/**
 * Quick runs (one short round each, measured once): a scenario that cannot reach its steady state
 * cheaply (`quickComparable: false`) gets no verdicts, nor does a variant whose warm-up, or its
 * reference's, never settled, or whose run, or its reference's, other processes disturbed.
 */
function withhold(sc: ScenarioResult, noiseLimit: number): void {
  const unsettled = (v?: VariantResult) => v?.rounds.some((r) => r.warmup && !r.warmup.settled);
  const noise = (v?: VariantResult) => Math.max(0, ...(v?.rounds ?? []).map((r) => r.other ?? 0));
  for (const v of sc.variants) {
    const both = [
      v,
      ...[v.vs, ...(v.also ?? []).map((c) => c.vs)].map((id) =>
        sc.variants.find((x) => x.id === id),
      ),
    ];
    const other = Math.max(...both.map(noise));
    if (sc.quickComparable === false) v.withheld = NOT_COMPARABLE;
    else if (both.some(unsettled)) v.withheld = `warm-up did not settle: ${NOT_COMPARABLE}`;
    else if (other > noiseLimit)
      v.withheld = `disturbed (other CPU ${other.toFixed(2)}): ${NOT_COMPARABLE}`;
  }
}

/**
 * `≥ 0.80 met`, `≥ 0.80 MISSED`, `≥ 0.80 —` when there is no valid ratio, or the reason the
 * verdict is withheld.
 */
export function targetMark(v: Pick<Comparison, 'target' | 'met'>, withheld?: string): string {
  if (withheld) return v.target === undefined ? withheld : `≥ ${v.target.toFixed(2)} ${withheld}`;
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
        v.ratio === undefined ? '' : targetMark(v, v.withheld),
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
        const mark = targetMark(c, v.withheld);
        rows.push([sc.id, `↳ ${v.label}`, '', '', '', ratio, mark, '', '', '', cpu]);
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
    ...lagTable(scenarios),
  ].join('\n');
}

/** Revocation lags, a table of their own under the main one (none: no lines). */
function lagTable(scenarios: ScenarioResult[]): string[] {
  const lines: string[] = [];
  for (const sc of scenarios)
    for (const v of sc.variants) {
      const l = v.lag;
      if (!l) continue;
      const mark =
        l.target === undefined ? '' : `  p99 ≤ ${l.target} ms ${l.met ? 'met' : 'MISSED'}`;
      const failed = l.failures ? `, ${l.failures} still accepted after 5 s` : '';
      lines.push(
        `${sc.id} ${v.label}: revocation lag over ${l.n} revocations: p50 ${l.p50} ms, p90 ${l.p90} ms, p99 ${l.p99} ms, max ${l.max} ms${failed}${mark}`,
      );
    }
  return lines.length ? ['', ...lines] : [];
}

export function writeJson(file: string, data: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
}
