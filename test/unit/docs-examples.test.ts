// The examples users copy: every ioredis client they create has an error listener, since without one
// ioredis prints "Unhandled error event" with a stack trace for each reconnect attempt of an outage.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const files = [
  'README.md',
  ...readdirSync(path.join(root, 'docs')).map((f) => path.join('docs', f)),
  ...readdirSync(path.join(root, 'sample-app'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join('sample-app', f)),
];

/** Each `new Redis(` / `new Cluster(` with the 12 lines after it. */
function clientsIn(file: string): { at: string; after: string }[] {
  const lines = readFileSync(path.join(root, file), 'utf8').split('\n');
  return lines.flatMap((line, i) =>
    /new (Redis|Cluster|Redis\.Cluster)\(/.test(line)
      ? [{ at: `${file}:${i + 1}`, after: lines.slice(i, i + 12).join('\n') }]
      : [],
  );
}

describe('examples in the README, docs and sample app', () => {
  const clients = files.flatMap(clientsIn);

  it('create ioredis clients (so this test checks something)', () => {
    expect(clients.length).toBeGreaterThanOrEqual(3);
  });

  it.each(clients.map((c) => [c.at, c.after]))(
    '%s adds an error listener to the client it creates',
    (_at, after) => {
      expect(after).toMatch(/\.on\(\s*'error'/);
    },
  );
});
