// Jest globalTeardown: stops the Redis servers started by global-setup.ts and removes their temp dir.
import { rmSync } from 'node:fs';
import './redis-launcher';

export default async function globalTeardown(): Promise<void> {
  const state = globalThis.__TW_REDIS__;
  if (!state) return;
  globalThis.__TW_REDIS__ = undefined;
  await Promise.all([state.standalone.stop(), state.cluster.stop()]);
  process.removeListener('exit', state.onExit);
  rmSync(state.dir, { recursive: true, force: true });
}
