// Soak server child: the auth server and a guarded route on MemoryStore or RedisStore, with a memory probe.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import {
  type AuthServer,
  createAuthServer,
  createGuard,
  MemoryStore,
  RedisStore,
  type Store,
} from '../lib';

export type Kind = 'memory' | 'redis';

// Short lifetimes so that the live set reaches a steady state within the warm-up: access tokens
// expire after 20 s, refresh families after 60 s (then the client signs in again), and the
// MemoryStore sweeps every 5 s. Redis keys carry the same TTLs.
export const TTL = { accessTokenTtl: 20, refreshTokenTtl: 40, refreshTokenMaxAge: 60 };
export const SWEEP_S = 5;
export const CLIENT = { id: 'soak-svc', secret: 'soak-svc-secret-0123456789' };
export const PUBLIC = 'soak-app';
export const USER = { username: 'soak-user', password: 'soak-user-password' };
export const RS = { id: 'soak-rs', secret: 'soak-rs-secret-0123456789' };

/** The server under test, alone in its process so that its memory is what gets measured. */
export async function serve(kind: Kind, redisPort: number, prefix: string): Promise<void> {
  const redis =
    kind === 'redis'
      ? new Redis({ host: '127.0.0.1', port: redisPort, maxRetriesPerRequest: 1 })
      : undefined;
  const store: Store = redis
    ? new RedisStore({ redis, prefix })
    : new MemoryStore({ sweepInterval: SWEEP_S });
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const auth = createAuthServer({ issuer, store, rateLimit: false, ...TTL });
  await seed(auth);
  const guard = createGuard({ issuer, store });
  const app = express();
  app.use(auth.router());
  app.get('/resource', guard.authenticate(), guard.requireScope('soak'), (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/_soak/memory', (_req, res) => {
    (globalThis as { gc?: () => void }).gc?.(); // heap after a full GC: what is really retained
    const m = process.memoryUsage();
    const grants = (store as unknown as { grants?: Map<unknown, unknown> }).grants?.size;
    res.json({ rss: m.rss, heapUsed: m.heapUsed, external: m.external, grants });
  });
  server.on('request', app);
  const stop = async () => {
    server.closeAllConnections();
    server.close();
    await store.close();
    redis?.disconnect();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  console.log(JSON.stringify({ port }));
}

async function seed(auth: AuthServer): Promise<void> {
  const a = auth.admin;
  await a.upsertTenant({ id: 'soak' });
  await a.upsertScope({ name: 'soak', roleCheck: false });
  await a.upsertClient({
    ...CLIENT,
    tenantId: 'soak',
    grants: ['client_credentials'],
    scopes: ['soak'],
  });
  await a.upsertClient({
    id: PUBLIC,
    public: true,
    tenantId: 'soak',
    grants: ['password', 'refresh_token'],
    scopes: ['soak'],
  });
  await a.upsertClient({
    ...RS,
    tenantId: 'soak',
    grants: ['client_credentials'],
    scopes: [],
    introspect: true,
  });
  await a.upsertUser({ tenantId: 'soak', ...USER });
}

// `node --expose-gc --import tsx scripts/soak-server.ts <memory|redis> <redis port> <prefix>`
if (require.main === module) {
  const [kind = 'memory', port = '0', prefix = 'soak:'] = process.argv.slice(2);
  serve(kind as Kind, Number(port), prefix).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
