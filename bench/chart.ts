// The results as an SVG bar chart (hand-written, no dependency): ratios per scenario, targets, caption.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ScenarioResult, VariantResult } from './report';

/** What the caption says about the run. */
export interface ChartRun {
  date: string;
  node: string;
  cpu: { model: string; count: number };
  quick: boolean;
  rounds: number;
  git?: { commit: string; libDirty: boolean };
}

/** One horizontal bar: a ratio, or the reference a scenario's ratios are taken against. */
interface Bar {
  scenario: string;
  variant: string;
  label: string;
  /** The ratio drawn; undefined: no valid ratio (drawn as text). */
  value?: number;
  target?: number;
  kind: 'met' | 'missed' | 'plain' | 'reference' | 'withheld' | 'invalid';
}

const COLOURS: Record<Bar['kind'], string> = {
  met: '#2da44e',
  missed: '#cf222e',
  plain: '#0969da',
  reference: '#afb8c1',
  withheld: '#8c959f',
  invalid: '#8c959f',
};
const LEGEND: [Bar['kind'], string][] = [
  ['met', 'target met'],
  ['missed', 'target missed'],
  ['plain', 'no target'],
  ['reference', 'reference (= 1)'],
  ['withheld', 'quick: not comparable to a full run'],
];

const WIDTH = 940;
const LABEL_W = 370;
const X0 = LABEL_W + 10;
const PLOT_W = WIDTH - X0 - 70;
const ROW = 18;
const BAR_H = 12;
const GROUP_HEAD = 24;
const FONT = 'font-family="-apple-system,Segoe UI,Helvetica,Arial,sans-serif"';

/** Text and attribute values made safe for XML. */
export function escapeXml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string,
  );
}

/** Labels longer than the label column are cut (the full text stays in the bar's tooltip). */
const clip = (s: string, max = 58) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

function barsOf(sc: ScenarioResult): Bar[] {
  const label = (id: string) => sc.variants.find((x) => x.id === id)?.label ?? id;
  const kindOf = (v: VariantResult, met?: boolean): Bar['kind'] => {
    if (v.withheld) return 'withheld';
    if (met === undefined) return 'plain';
    return met ? 'met' : 'missed';
  };
  const bars: Bar[] = [];
  for (const v of sc.variants) {
    const base = { scenario: sc.id, variant: v.id };
    // A variant measured for its revocation lag alone is drawn in the lag panel.
    if (!v.vs && (v.lag || v.lagTarget !== undefined)) continue;
    if (!v.vs) {
      bars.push({ ...base, label: `${v.label} (reference)`, value: 1, kind: 'reference' });
    } else if (v.ratio === undefined) {
      bars.push({ ...base, label: `${v.label} vs ${label(v.vs)}`, kind: 'invalid' });
    } else {
      bars.push({
        ...base,
        label: `${v.label} vs ${label(v.vs)}`,
        value: v.ratio,
        ...(v.target === undefined ? {} : { target: v.target }),
        kind: kindOf(v, v.met),
      });
    }
    for (const c of v.also ?? [])
      bars.push({
        ...base,
        label: `↳ ${v.label} vs ${label(c.vs)}`,
        ...(c.ratio === undefined ? {} : { value: c.ratio }),
        ...(c.target === undefined ? {} : { target: c.target }),
        kind: c.ratio === undefined ? 'invalid' : kindOf(v, c.met),
      });
  }
  return bars;
}

/** A scale's upper end: a round number above every value and target. */
function niceMax(values: number[], step: number): number {
  return Math.ceil((Math.max(...values) * 1.05) / step) * step;
}

/** Above this many cores used by other processes a run counts as disturbed (as in run.ts). */
const DISTURBED = 0.15;

/** The caption: quick or full, rounds, date, commit, node, CPU, and how disturbed the run was. */
function caption(run: ChartRun, scenarios: ScenarioResult[]): string {
  const mode = run.quick ? 'quick run (--quick)' : 'full run';
  const commit = run.git
    ? `commit ${run.git.commit.slice(0, 9)}${run.git.libDirty ? ' (lib/ modified)' : ''}`
    : 'commit unknown';
  const rounds = `${run.rounds} round${run.rounds === 1 ? '' : 's'}`;
  const other = Math.max(0, ...scenarios.flatMap((s) => s.variants.map((v) => v.other ?? 0)));
  const noise =
    other > DISTURBED ? `; disturbed: other processes used up to ${other.toFixed(2)} cores` : '';
  return `${mode}, ${rounds}, ${run.date.slice(0, 16).replace('T', ' ')} UTC, ${commit}, node ${run.node}, ${run.cpu.count}× ${run.cpu.model}${noise}`;
}

/** Revocation lags (ms), a panel of their own under the ratios. */
function lagPanel(scenarios: ScenarioResult[], top: number): { svg: string[]; height: number } {
  const rows = scenarios.flatMap((sc) =>
    sc.variants.flatMap((v) => (v.lag ? [{ sc, v, lag: v.lag }] : [])),
  );
  if (!rows.length) return { svg: [], height: 0 };
  const all = rows.flatMap(({ lag }) => [lag.max, lag.target ?? 0]);
  const max = niceMax(all, 50);
  const x = (ms: number) => X0 + (ms / max) * PLOT_W;
  const out: string[] = [];
  let y = top;
  out.push(
    `<text x="10" y="${y + 16}" font-size="13" font-weight="600" ${FONT}>revocation lag (ms from the revoke's response to the guard's first 401)</text>`,
  );
  y += GROUP_HEAD;
  for (const { sc, v, lag } of rows) {
    const met = lag.met === undefined ? 'plain' : lag.met ? 'met' : 'missed';
    for (const [name, ms] of [
      ['p50', lag.p50],
      ['p90', lag.p90],
      ['p99', lag.p99],
      ['max', lag.max],
    ] as const) {
      const colour = name === 'p99' ? COLOURS[met] : COLOURS.plain;
      const text = `${sc.id}: ${v.label}, ${name}`;
      out.push(
        `<g data-lag="${escapeXml(`${sc.id}/${v.id}/${name}`)}"><title>${escapeXml(`${text}: ${ms} ms`)}</title>`,
        `<text x="${LABEL_W}" y="${y + BAR_H - 2}" font-size="12" text-anchor="end" ${FONT}>${escapeXml(clip(text))}</text>`,
        `<rect x="${X0}" y="${y}" width="${Math.max(1, x(ms) - X0).toFixed(1)}" height="${BAR_H}" fill="${colour}"/>`,
        `<text x="${(x(ms) + 4).toFixed(1)}" y="${y + BAR_H - 2}" font-size="11" ${FONT}>${ms} ms</text></g>`,
      );
      if (name === 'p99' && lag.target !== undefined)
        out.push(targetMarker(x(lag.target), y, `p99 ≤ ${lag.target} ms`));
      y += ROW;
    }
    if (lag.failures)
      out.push(
        `<text x="${X0}" y="${y + BAR_H - 2}" font-size="11" fill="${COLOURS.missed}" ${FONT}>${lag.failures} revoked token(s) still accepted after 5 s</text>`,
      );
    y += lag.failures ? ROW : 0;
  }
  return { svg: out, height: y - top };
}

/** A target: a dark vertical line across the bar's row. */
function targetMarker(x: number, y: number, what: string): string {
  return `<line class="target" x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${y - 3}" y2="${y + BAR_H + 3}" stroke="#1f2328" stroke-width="2"><title>${escapeXml(`target: ${what}`)}</title></line>`;
}

/**
 * The chart: one group per scenario, one horizontal bar per variant (its ratio against the variant
 * it is compared with; references drawn at 1), a marker line at each target, bars coloured by
 * verdict, and a caption saying which run it is.
 */
export function renderChart(scenarios: ScenarioResult[], run: ChartRun): string {
  const groups = scenarios.map((sc) => ({ sc, bars: barsOf(sc) })).filter((g) => g.bars.length);
  const values = groups.flatMap((g) => g.bars.flatMap((b) => [b.value ?? 0, b.target ?? 0]));
  const max = niceMax([1, ...values], 0.25);
  const step = max > 2 ? 0.5 : 0.25;
  const x = (r: number) => X0 + (r / max) * PLOT_W;
  const body: string[] = [];
  let y = 58;
  const plotTop = y;
  for (const { sc, bars } of groups) {
    body.push(
      `<text x="10" y="${y + 16}" font-size="13" font-weight="600" ${FONT}>${escapeXml(sc.id)}</text>`,
    );
    y += GROUP_HEAD;
    for (const b of bars) {
      const tip = `${b.label}: ${b.value === undefined ? 'no valid ratio' : `${b.value.toFixed(2)}×`}${b.target === undefined ? '' : ` (target ≥ ${b.target.toFixed(2)})`}${b.kind === 'withheld' ? ', not comparable to a full run' : ''}`;
      const attrs = `data-scenario="${escapeXml(b.scenario)}" data-variant="${escapeXml(b.variant)}" data-kind="${b.kind}"`;
      body.push(
        `<g class="bar" ${attrs}><title>${escapeXml(tip)}</title>`,
        `<text x="${LABEL_W}" y="${y + BAR_H - 2}" font-size="12" text-anchor="end" ${FONT}>${escapeXml(clip(b.label))}</text>`,
      );
      if (b.value === undefined) {
        body.push(
          `<text x="${X0 + 4}" y="${y + BAR_H - 2}" font-size="11" fill="${COLOURS.invalid}" ${FONT}>INVALID: no ratio</text></g>`,
        );
      } else {
        const w = Math.max(1, x(b.value) - X0);
        const value = `${b.value.toFixed(2)}×${b.kind === 'withheld' ? ' (n/c)' : ''}`;
        // The value right of the bar, or of the target marker when that is further right.
        const tx = Math.max(X0 + w, b.target === undefined ? 0 : x(b.target)) + 4;
        body.push(
          `<rect x="${X0}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${COLOURS[b.kind]}"/>`,
          `<text x="${tx.toFixed(1)}" y="${y + BAR_H - 2}" font-size="11" ${FONT}>${escapeXml(value)}</text></g>`,
        );
      }
      if (b.target !== undefined)
        body.push(targetMarker(x(b.target), y, `≥ ${b.target.toFixed(2)}×`));
      y += ROW;
    }
  }
  const plotBottom = y;
  // Grid behind the bars: a line every step, the 1× line darker.
  const grid: string[] = [];
  for (let r = 0; r <= max + 1e-9; r += step) {
    const gx = x(r).toFixed(1);
    const one = Math.abs(r - 1) < 1e-9;
    grid.push(
      `<line x1="${gx}" x2="${gx}" y1="${plotTop}" y2="${plotBottom}" stroke="${one ? '#57606a' : '#d8dee4'}" stroke-width="1"${one ? ' stroke-dasharray="4 3"' : ''}/>`,
      `<text x="${gx}" y="${plotTop - 4}" font-size="10" text-anchor="middle" fill="#57606a" ${FONT}>${r.toFixed(2)}×</text>`,
    );
  }
  const lags = lagPanel(scenarios, y + 8);
  y += lags.height + (lags.height ? 8 : 0);
  // Legend (the colours drawn), then the caption.
  const drawn = new Set(groups.flatMap((g) => g.bars.map((b) => b.kind)));
  const legend: string[] = [];
  let lx = 10;
  const ly = y + 14;
  for (const [kind, text] of LEGEND.filter(([k]) => drawn.has(k))) {
    legend.push(
      `<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${COLOURS[kind]}"/>`,
      `<text x="${lx + 14}" y="${ly}" font-size="11" ${FONT}>${escapeXml(text)}</text>`,
    );
    lx += 24 + text.length * 6;
  }
  legend.push(
    `<line x1="${lx}" x2="${lx}" y1="${ly - 11}" y2="${ly + 2}" stroke="#1f2328" stroke-width="2"/>`,
    `<text x="${lx + 6}" y="${ly}" font-size="11" ${FONT}>target</text>`,
  );
  const height = ly + 30;
  const title = `tokenward bench: throughput ratios${run.quick ? ' (quick run)' : ''}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeXml(title)}">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="600" ${FONT}>${escapeXml(title)}</text>`,
    `<text x="10" y="40" font-size="11" fill="#57606a" ${FONT}>req/s of each variant over that of the one it is compared with (higher is better); medians over rounds</text>`,
    ...grid,
    ...body,
    ...lags.svg,
    ...legend,
    `<text x="10" y="${ly + 22}" font-size="11" fill="#57606a" ${FONT}>${escapeXml(caption(run, scenarios))}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

/** Write the chart to `file` (its folder made if needed). */
export function writeChart(file: string, scenarios: ScenarioResult[], run: ChartRun): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, renderChart(scenarios, run));
}

// `node --import tsx bench/chart.ts [results.json] [chart.svg]`: draw a saved run again
// (default: bench/results/latest.json to bench/results/latest.svg).
if (require.main === module) {
  const [from = path.join(__dirname, 'results', 'latest.json'), to] = process.argv.slice(2);
  const saved = JSON.parse(readFileSync(from, 'utf8')) as ChartRun & {
    scenarios: ScenarioResult[];
  };
  const out = to ?? from.replace(/\.json$/, '.svg');
  writeChart(out, saved.scenarios, saved);
  console.log(`wrote ${out}`);
}
