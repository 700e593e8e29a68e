// Top self-time functions of V8 CPU profiles (`node --cpu-prof`), and the same time summed by area.
// Usage: node --import tsx bench/profile-top.ts <file.cpuprofile | dir> [...] [--top 25] [--callers name]
// --callers: for functions named `name`, their self time by calling stack (--depth frames up, 5).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const ROOT = path.resolve(__dirname, '..');

/** A short place: `lib/guard/x.ts:12`, `express@5 lib/router.js:3`, `node:internal/…`. */
function place(url: string, line: number): string {
  if (!url) return '';
  const file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('/node_modules/');
  const rel = nm >= 0 ? file.slice(nm + '/node_modules/'.length) : path.relative(ROOT, file);
  return `${rel.startsWith('..') ? file : rel}:${line + 1}`;
}

/** The area a frame belongs to: a lib/ folder, a package, node's internals, or V8's own entries. */
function area(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = file.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? '?');
  }
  if (file.startsWith('node:')) return file.split('/').slice(0, 2).join('/');
  const rel = path.relative(ROOT, file);
  return rel.startsWith('lib/') || rel.startsWith('bench/') ? path.dirname(rel) : rel;
}

function files(args: string[]): string[] {
  return args.flatMap((a) =>
    statSync(a).isDirectory()
      ? readdirSync(a)
          .filter((f) => f.endsWith('.cpuprofile'))
          .map((f) => path.join(a, f))
      : [a],
  );
}

const frameName = (f: CallFrame) =>
  `${f.functionName || '(anonymous)'} ${place(f.url, f.lineNumber)}`.trim();

function summarize(file: string, top: number, callersOf?: string, depth = 5): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  const fns = new Map<string, number>();
  const areas = new Map<string, number>();
  const callers = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const f = (byId.get(id) as ProfileNode).callFrame;
    const name = f.functionName || '(anonymous)';
    total += us;
    if (name === '(idle)') idle += us;
    const key = `${name}  ${place(f.url, f.lineNumber)}`.trim();
    fns.set(key, (fns.get(key) ?? 0) + us);
    const a = area(f.url, name);
    areas.set(a, (areas.get(a) ?? 0) + us);
    if (name === callersOf) {
      const stack: string[] = [];
      for (let up = parent.get(id); up !== undefined && stack.length < depth; up = parent.get(up))
        stack.push(frameName((byId.get(up) as ProfileNode).callFrame));
      const k = `${key}  ← ${stack.join(' ← ')}`;
      callers.set(k, (callers.get(k) ?? 0) + us);
    }
  }
  const busy = total - idle;
  const rows = (m: Map<string, number>, n: number) =>
    [...m]
      .filter(([k]) => k !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(
        ([k, us]) =>
          `  ${(us / 1000).toFixed(0).padStart(7)} ms  ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${k}`,
      );
  return [
    `${path.relative(process.cwd(), file)}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (${((100 * busy) / total).toFixed(0)}%); % of busy time`,
    'top self time by function:',
    ...rows(fns, top),
    'self time by area:',
    ...rows(areas, 15),
    ...(callersOf ? [`${callersOf} by caller:`, ...rows(callers, 10)] : []),
  ].join('\n');
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '25' },
    callers: { type: 'string' },
    depth: { type: 'string', default: '5' },
  },
});
const list = files(positionals);
if (list.length === 0) {
  console.error('usage: node --import tsx bench/profile-top.ts <file.cpuprofile | dir> [--top N]');
  process.exit(2);
}
for (const f of list)
  console.log(`${summarize(f, Number(values.top), values.callers, Number(values.depth))}\n`);
