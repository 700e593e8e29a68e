// Jest globalSetup: starts one standalone Redis and one 3-master cluster for the whole run.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureRedisInstalled, startCluster, startStandalone } from './redis-launcher';

export default async function globalSetup(): Promise<void> {
  ensureRedisInstalled();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tokenward-redis-'));
  const [standalone, cluster] = await Promise.allSettled([
    startStandalone(path.join(dir, 'standalone')),
    startCluster(path.join(dir, 'cluster'), 3),
  ]);
  if (standalone.status === 'rejected' || cluster.status === 'rejected') {
    if (standalone.status === 'fulfilled') await standalone.value.stop();
    if (cluster.status === 'fulfilled') await cluster.value.stop();
    rmSync(dir, { recursive: true, force: true });
    throw standalone.status === 'rejected'
      ? standalone.reason
      : (cluster as PromiseRejectedResult).reason;
  }
  const pids = [standalone.value.pid, ...cluster.value.pids];
  // Last resort for crashed/aborted runs: never leave redis-server processes behind.
  const onExit = () => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  process.env.TW_REDIS_PORT = String(standalone.value.port);
  process.env.TW_CLUSTER_PORTS = cluster.value.ports.join(',');
  globalThis.__TW_REDIS__ = { dir, standalone: standalone.value, cluster: cluster.value, onExit };
}
