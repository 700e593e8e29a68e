// `npm run demo` in `npm test`: the scripted client walks B1–B5 against a sample it starts, and every step passes.
import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

describe('npm run demo', () => {
  it('passes every step and exits 0', async () => {
    const child = spawn('npm', ['run', 'demo', '--', '--start'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect({ code, output }).toMatchObject({ code: 0 });
    for (const b of ['B1', 'B2', 'B3', 'B4', 'B5']) expect(output).toMatch(new RegExp(`✓ ${b}`));
    expect(output).not.toContain('✗');
    expect(output).toContain('All steps behaved as SPEC says.');
  }, 90_000);
});
