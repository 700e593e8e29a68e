// `npm run demo` in `npm test`: the scripted client walks every behaviour against a sample it starts, and every step passes.
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
    for (const step of [
      'Renewal hints',
      'Refresh-token families',
      'Family revocation',
      'Device sessions',
      'Tenants and local users',
      'Service scopes and role checks',
    ])
      expect(output).toContain(`✓ ${step}:`);
    expect(output).not.toContain('✗');
    expect(output).not.toContain('✗');
    expect(output).toContain('All steps behaved as documented.');
  }, 90_000);
});
