// The layering of lib/ (router → endpoint → grant/guard → store; lib/core below both server and guard),
// checked on the import graph itself: type-only imports count, since they couple modules just the same.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const LIB = path.resolve(__dirname, '../../lib');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Resolve a relative specifier to a file under lib/, as TypeScript would. */
function resolve(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) {
    if (files.has(candidate)) return candidate;
  }
  throw new Error(`${rel(from)}: cannot resolve ${spec}`);
}

const rel = (f: string) => path.relative(LIB, f).split(path.sep).join('/');
const files = new Set(sourceFiles(LIB));
const graph = new Map<string, string[]>();
for (const file of files) {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const deps = info.importedFiles
    .map((i) => resolve(file, i.fileName))
    .filter((d): d is string => d !== undefined);
  graph.set(file, [...new Set(deps)]);
}

const layer = (f: string) => rel(f).split('/')[0] ?? '';
const edges = [...graph].flatMap(([from, deps]) => deps.map((to) => ({ from, to })));

describe('lib/ import graph', () => {
  test('walks every module (the walker sees the files it should)', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(edges.length).toBeGreaterThan(100);
    expect(graph.get(path.join(LIB, 'guard/create-guard.ts'))).toContain(
      path.join(LIB, 'guard/authenticate.ts'),
    );
  });

  test('no module of the guards imports the authorization server', () => {
    const bad = edges.filter((e) => layer(e.from) === 'guard' && layer(e.to) === 'server');
    expect(bad.map((e) => `${rel(e.from)} -> ${rel(e.to)}`)).toEqual([]);
  });

  test('lib/core imports nothing outside lib/core', () => {
    const bad = edges.filter((e) => layer(e.from) === 'core' && layer(e.to) !== 'core');
    expect(bad.map((e) => `${rel(e.from)} -> ${rel(e.to)}`)).toEqual([]);
  });

  test('nothing below the server or the guards imports them (a request walks one way)', () => {
    const below = new Set(['core', 'store', 'tokens', 'http', 'options']);
    const bad = edges.filter(
      (e) => below.has(layer(e.from)) && ['server', 'guard', 'cli', 'client'].includes(layer(e.to)),
    );
    expect(bad.map((e) => `${rel(e.from)} -> ${rel(e.to)}`)).toEqual([]);
  });

  test('the browser client imports no server-side module and nothing that needs node:crypto', () => {
    const allowed = new Set(['client', 'core', 'errors.ts']);
    const bad = edges.filter(
      (e) =>
        layer(e.from) === 'client' &&
        (!allowed.has(layer(e.to)) || rel(e.to) === 'core/grant-id.ts'),
    );
    expect(bad.map((e) => `${rel(e.from)} -> ${rel(e.to)}`)).toEqual([]);
  });

  test('no import cycles in lib/', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, 'open');
      stack.push(f);
      for (const d of graph.get(f) ?? []) {
        if (state.get(d) === 'open')
          cycles.push([...stack.slice(stack.indexOf(d)), d].map(rel).join(' -> '));
        else if (!state.has(d)) visit(d);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of [...graph.keys()].sort()) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });
});
