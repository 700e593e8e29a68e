// Headless Chromium for the browser tests: Debian's `chromium`, installed by the test set-up when missing (as root).
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const INSTALL_CMD = 'sudo apt-get install -y chromium';

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Like ensureRedisInstalled: install Debian's chromium when running as root, else say how. */
export function ensureChromiumInstalled(): void {
  if (executable(CHROMIUM)) return;
  if (process.getuid?.() !== 0 || !executable('/usr/bin/apt-get'))
    throw new Error(`${CHROMIUM} not found; install it with: ${INSTALL_CMD}`);
  const install = () =>
    spawnSync('apt-get', ['install', '-y', 'chromium'], { stdio: 'inherit' }).status;
  if (install() === 0) return;
  spawnSync('apt-get', ['update'], { stdio: 'inherit' });
  if (install() !== 0) throw new Error(`apt-get failed; install Chromium manually: ${INSTALL_CMD}`);
}

export function launchChromium(): Promise<Browser> {
  ensureChromiumInstalled();
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
}
