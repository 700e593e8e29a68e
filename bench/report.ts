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
}

export interface VariantResult {
  id: string;
  label: string;
  vs?: string;
  rounds: RunSample[];
  rps?: number;
  p50?: number;
  p99?: number;
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
      v.valid = v.rounds.length > 0 && v.rounds.every((r) => r.bad === 0);
    }
    sc.valid = sc.variants.every((v) => v.valid);
  }
  const echo = scenarios.find((s) => s.id === 'baseline')?.variants[0];
  for (const sc of scenarios) {
    for (const v of sc.variants) {
      const ref = sc.variants.find((x) => x.id === v.vs);
      if (sc.valid && ref?.rps) v.ratio = (v.rps ?? 0) / ref.rps;
      if (v.valid && echo?.valid && echo.rps) v.ofEcho = (v.rps ?? 0) / echo.rps;
    }
  }
}

export function table(scenarios: ScenarioResult[]): string {
  const rows = [['scenario', 'variant', 'req/s', 'p50 ms', 'p99 ms', 'ratio', 'of echo', 'check']];
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
        v.ofEcho === undefined ? '—' : `${(v.ofEcho * 100).toFixed(0)}%`,
        ok ? 'ok' : `INVALID: ${bad?.detail ?? 'no runs'}`,
      ]);
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
