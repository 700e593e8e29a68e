// Lints every Lua script RedisStore registers with luacheck (Lua 5.1, Redis' globals read-only); any warning fails.
// Run: node --import tsx scripts/lint-lua.ts
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RATE_LIMIT_COMMAND, rateLimitScript } from '../lib/store/redis-rate-limit';
import { scripts } from '../lib/store/redis-scripts';

/** What Redis' Lua environment adds to Lua 5.1's standard library. */
const REDIS_GLOBALS = ['redis', 'KEYS', 'ARGV', 'cjson', 'cmsgpack', 'bit', 'struct'];

const all: Record<string, { lua: string }> = { ...scripts, [RATE_LIMIT_COMMAND]: rateLimitScript };

const hasLuacheck = () => {
  const probe = spawnSync('luacheck', ['--version'], { encoding: 'utf8' });
  return !probe.error && probe.status === 0;
};
// Like the test set-up with redis-server: as root on Debian, install it rather than fail.
if (!hasLuacheck() && process.getuid?.() === 0) {
  const install = () =>
    spawnSync('apt-get', ['install', '-y', 'lua-check'], { stdio: 'inherit' }).status === 0;
  if (!install()) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit' });
    install();
  }
}
if (!hasLuacheck()) {
  console.error('lint-lua: luacheck is missing: run `sudo apt-get install -y lua-check`');
  process.exit(1);
}

const dir = mkdtempSync(path.join(tmpdir(), 'tw-lua-'));
try {
  const files = Object.entries(all).map(([name, { lua }]) => {
    const file = path.join(dir, `${name}.lua`);
    writeFileSync(file, lua);
    return file;
  });
  const res = spawnSync(
    'luacheck',
    [
      '--std',
      'lua51',
      '--read-globals',
      ...REDIS_GLOBALS,
      '--codes',
      '--no-color',
      '--max-line-length',
      '120',
      '--',
      ...files,
    ],
    { encoding: 'utf8' },
  );
  process.stdout.write(res.stdout);
  process.stderr.write(res.stderr);
  // luacheck exits 1 on warnings, 2 on errors: both fail.
  if (res.status !== 0) {
    console.error(`lint-lua: luacheck found problems in the scripts (exit ${res.status})`);
    process.exit(1);
  }
  console.log(`lint-lua: ${files.length} scripts clean`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
