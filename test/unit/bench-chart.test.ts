// The benchmark's SVG chart (well-formed XML, one bar per variant, target markers, escaped names) and the verdicts it draws.
import { escapeXml, renderChart } from '../../bench/chart';
import {
  NOT_COMPARABLE,
  type RunSample,
  type ScenarioResult,
  summarize,
  targetMark,
} from '../../bench/report';

const run = {
  date: '2026-12-02T14:00:00.000Z',
  node: 'v20.20.2',
  cpu: { model: 'AMD EPYC <test> & co', count: 2 },
  quick: false,
  rounds: 3,
  git: { commit: '0123456789abcdef', libDirty: false },
};

const scenario = (over: Partial<ScenarioResult> = {}): ScenarioResult => ({
  id: 'guard',
  title: 'a route bare vs guarded',
  loadMethod: 'autocannon',
  valid: true,
  variants: [
    { id: 'bare', label: 'bare route', rounds: [] },
    {
      id: 'local',
      label: 'local <guard> & "co"',
      vs: 'bare',
      target: 0.8,
      ratio: 0.84,
      met: true,
      rounds: [],
    },
    { id: 'remote', label: 'remote', vs: 'bare', target: 0.7, ratio: 0.5, met: false, rounds: [] },
    {
      id: 'peer',
      label: 'peer',
      vs: 'bare',
      ratio: 1.2,
      also: [{ vs: 'local', target: 1.5, ratio: 1.43, met: false }],
      rounds: [],
    },
  ],
  ...over,
});

/**
 * A small XML well-formedness check: tags nest and close in order, attributes are quoted, and
 * text holds no raw `<` or stray `&` (only the five predefined entities are used here).
 */
function wellFormed(xml: string): void {
  const stack: string[] = [];
  const token =
    /<\/?([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<|&(?!(?:amp|lt|gt|quot|apos);)/g;
  let m: RegExpExecArray | null = token.exec(xml);
  while (m) {
    const [all, name, , selfClosing] = m;
    if (!name) throw new Error(`stray ${all} at ${m.index}: ${xml.slice(m.index, m.index + 60)}`);
    if (all.startsWith('</')) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}> at ${m.index}`);
    } else if (!selfClosing) stack.push(name);
    m = token.exec(xml);
  }
  if (stack.length) throw new Error(`unclosed: ${stack.join(', ')}`);
}

const bars = (svg: string) => [...svg.matchAll(/<g class="bar" ([^>]*)>/g)].map((m) => m[1] ?? '');

describe('bench chart', () => {
  it('renders well-formed SVG with the SVG namespace', () => {
    const svg = renderChart([scenario()], run);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(() => wellFormed(svg)).not.toThrow();
  });

  it('the checker itself rejects a raw & and a misnested tag', () => {
    expect(() => wellFormed('<svg><text>a & b</text></svg>')).toThrow();
    expect(() => wellFormed('<svg><g><text></g></text></svg>')).toThrow();
  });

  it('draws one bar per variant and one per further comparison', () => {
    const svg = renderChart([scenario()], run);
    const drawn = bars(svg);
    expect(drawn.filter((b) => b.includes('data-variant="bare"'))).toHaveLength(1);
    expect(drawn.filter((b) => b.includes('data-variant="local"'))).toHaveLength(1);
    expect(drawn.filter((b) => b.includes('data-variant="remote"'))).toHaveLength(1);
    // peer: its own ratio and the comparison with local
    expect(drawn.filter((b) => b.includes('data-variant="peer"'))).toHaveLength(2);
    expect(drawn).toHaveLength(5);
  });

  it('colours bars by verdict: met, missed, reference', () => {
    const drawn = bars(renderChart([scenario()], run));
    expect(drawn.find((b) => b.includes('"local"'))).toContain('data-kind="met"');
    expect(drawn.find((b) => b.includes('"remote"'))).toContain('data-kind="missed"');
    expect(drawn.find((b) => b.includes('"bare"'))).toContain('data-kind="reference"');
  });

  it('draws a target marker where a ratio has a target, and none elsewhere', () => {
    const svg = renderChart([scenario()], run);
    // local 0.80, remote 0.70, peer vs local 1.50
    expect(svg.match(/<line class="target"/g)).toHaveLength(3);
    const noTargets = scenario({
      variants: [
        { id: 'bare', label: 'bare', rounds: [] },
        { id: 'x', label: 'x', vs: 'bare', ratio: 0.9, rounds: [] },
      ],
    });
    expect(renderChart([noTargets], run)).not.toContain('class="target"');
  });

  it('places the marker at the target on the same scale as the bars', () => {
    const svg = renderChart([scenario()], run);
    const rect = (variant: string) => {
      const at = svg.indexOf(`data-variant="${variant}"`);
      const m = /<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/.exec(svg.slice(at));
      return { x: Number(m?.[1]), w: Number(m?.[2]) };
    };
    const one = rect('bare'); // the reference, drawn at 1
    const local = svg.slice(svg.indexOf('data-variant="local"'));
    const marker = Number(/<line class="target" x1="([\d.]+)"/.exec(local)?.[1]);
    expect(marker).toBeCloseTo(one.x + 0.8 * one.w, 0);
  });

  it('escapes names and the caption', () => {
    const svg = renderChart([scenario()], run);
    expect(svg).toContain('local &lt;guard&gt; &amp; &quot;co&quot;');
    expect(svg).toContain('AMD EPYC &lt;test&gt; &amp; co');
    expect(svg).not.toContain('<guard>');
    expect(escapeXml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
  });

  it('says in the caption whether the run was quick or full, with commit and node', () => {
    expect(renderChart([scenario()], run)).toMatch(
      /full run, 3 rounds, .*commit 012345678, node v20\.20\.2/,
    );
    expect(renderChart([scenario()], { ...run, quick: true, rounds: 1 })).toContain(
      'quick run (--quick), 1 round,',
    );
  });

  it('says in the caption when other processes disturbed the run', () => {
    const sc = scenario();
    expect(renderChart([sc], run)).not.toContain('disturbed');
    (sc.variants[1] as { other?: number }).other = 0.97;
    expect(renderChart([sc], run)).toContain('disturbed: other processes used up to 0.97 cores');
  });

  it('marks withheld quick ratios as not comparable, without a verdict colour', () => {
    const sc = scenario();
    for (const v of sc.variants) v.withheld = 'not comparable to a full run';
    const drawn = bars(renderChart([sc], { ...run, quick: true }));
    expect(drawn.find((b) => b.includes('"local"'))).toContain('data-kind="withheld"');
    expect(drawn.find((b) => b.includes('"remote"'))).toContain('data-kind="withheld"');
  });

  it('shows a variant without a valid ratio as text, not a bar', () => {
    const sc = scenario();
    const remote = sc.variants.find((v) => v.id === 'remote');
    if (remote) delete remote.ratio;
    const svg = renderChart([sc], run);
    expect(bars(svg).find((b) => b.includes('"remote"'))).toContain('data-kind="invalid"');
    expect(svg).toContain('INVALID: no ratio');
  });

  it('draws revocation lags with the p99 target', () => {
    const sc = scenario({
      id: 'revocation-lag',
      variants: [
        {
          id: 'remote-feed',
          label: 'remote + feed',
          rounds: [],
          lag: { n: 200, p50: 20, p90: 40, p99: 90, max: 120, failures: 0, target: 250, met: true },
        },
      ],
    });
    const svg = renderChart([sc], run);
    expect(() => wellFormed(svg)).not.toThrow();
    expect(svg.match(/data-lag="revocation-lag\/remote-feed\/p\d+"/g)).toHaveLength(3);
    expect(svg).toContain('target: p99 ≤ 250 ms');
    // no ratio bar for a variant measured for its lag alone
    expect(bars(svg)).toHaveLength(0);
  });
});

describe('bench summary: what the table and chart are given', () => {
  const round = (rps: number, over: Partial<RunSample> = {}): RunSample => ({
    rps,
    p50: 1,
    p99: 2,
    bad: 0,
    detail: '',
    warmup: { seconds: 2, settled: true },
    ...over,
  });
  const guard = (local: RunSample, bare = round(1000)): ScenarioResult => ({
    id: 'guard',
    title: '',
    loadMethod: '',
    variants: [
      { id: 'bare', label: 'bare route', rounds: [bare] },
      { id: 'local', label: 'local', vs: 'bare', target: 0.8, rounds: [local] },
    ],
  });
  const quick = { quick: true, noiseLimit: 0.15 };
  const local = (sc: ScenarioResult) => sc.variants[1] as ScenarioResult['variants'][number];

  it('a full run judges the ratio against its target', () => {
    const sc = guard(round(700));
    summarize([sc]);
    expect(local(sc).ratio).toBeCloseTo(0.7);
    expect(local(sc).met).toBe(false);
    expect(targetMark(local(sc), local(sc).withheld)).toBe('≥ 0.80 MISSED');
  });

  it('a settled, undisturbed quick run is judged too', () => {
    const sc = guard(round(900));
    summarize([sc], quick);
    expect(local(sc).met).toBe(true);
    expect(local(sc).withheld).toBeUndefined();
  });

  it('a quick run never says met or MISSED for a scenario marked not comparable', () => {
    const sc = { ...guard(round(700)), quickComparable: false };
    summarize([sc], quick);
    expect(local(sc).met).toBeUndefined();
    expect(targetMark(local(sc), local(sc).withheld)).toBe(`≥ 0.80 ${NOT_COMPARABLE}`);
  });

  it('a quick run withholds the verdict when a warm-up, its own or its reference’s, did not settle', () => {
    const own = guard(round(700, { warmup: { seconds: 8, settled: false } }));
    const ref = guard(round(700), round(1000, { warmup: { seconds: 8, settled: false } }));
    summarize([own, ref], quick);
    for (const sc of [own, ref]) {
      expect(local(sc).met).toBeUndefined();
      expect(local(sc).withheld).toContain('warm-up did not settle');
    }
  });

  it('a quick run withholds the verdict when other processes disturbed either side', () => {
    const sc = guard(round(700), round(1000, { other: 0.9 }));
    summarize([sc], quick);
    expect(local(sc).met).toBeUndefined();
    expect(local(sc).withheld).toContain('disturbed (other CPU 0.90)');
  });

  it('pools revocation lags over rounds and judges their p99', () => {
    const lags = Array.from({ length: 100 }, (_, i) => i + 1);
    const sc: ScenarioResult = {
      id: 'revocation-lag',
      title: '',
      loadMethod: '',
      variants: [
        {
          id: 'remote-feed',
          label: 'remote + feed',
          lagTarget: 250,
          rounds: [round(900, { lags: lags.slice(0, 50) }), round(900, { lags: lags.slice(50) })],
        },
      ],
    };
    summarize([sc]);
    expect(sc.variants[0]?.lag).toMatchObject({ n: 100, p50: 50, p90: 90, p99: 99, max: 100 });
    expect(sc.variants[0]?.lag?.met).toBe(true);
    expect(sc.valid).toBe(true);
  });

  it('a token still accepted after 5 s fails the run', () => {
    const sc: ScenarioResult = {
      id: 'revocation-lag',
      title: '',
      loadMethod: '',
      variants: [
        {
          id: 'remote-feed',
          label: 'remote + feed',
          lagTarget: 250,
          rounds: [round(900, { lags: [10, 20], lagFailures: 1 })],
        },
      ],
    };
    summarize([sc]);
    expect(sc.valid).toBe(false);
    expect(sc.variants[0]?.lag).toMatchObject({ failures: 1, met: false });
  });
});
