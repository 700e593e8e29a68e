// Benchmark server child: builds one scenario's app from argv JSON, listens on 127.0.0.1:0, prints {"port"}.
import express from 'express';
import { Redis } from 'ioredis';
import { createAuthServer, MemoryStore, RedisStore, type Store } from '../lib';
import { APP_ID, CC_SECRET, ISSUER, RS, type ServerConfig, USER } from './shared';

async function seedAuth(cfg: ServerConfig, store: Store) {
  const auth = createAuthServer({
    issuer: ISSUER,
    store,
    ...(cfg.rateLimit ? {} : { rateLimit: false as const }),
  });
  const a = auth.admin;
  await a.upsertTenant({ id: 'acme' });
  await a.upsertClient({
    id: 'cc-0',
    secret: CC_SECRET,
    tenantId: 'acme',
    grants: ['client_credentials'],
    scopes: ['print'],
  });
  // Copies of cc-0's record (same scrypt hash): seeding N clients costs one scrypt, not N.
  const template = await store.getClient('cc-0');
  if (!template) throw new Error('cc-0 was not stored');
  for (let i = 1; i < (cfg.ccClients ?? 1); i++)
    await store.putClient({ ...template, id: `cc-${i}` });
  await a.upsertClient({
    ...RS,
    tenantId: 'acme',
    grants: ['client_credentials'],
    scopes: [],
    introspect: true,
  });
  await a.upsertClient({
    id: APP_ID,
    public: true,
    tenantId: 'acme',
    grants: ['password', 'refresh_token'],
    scopes: ['print'],
  });
  await a.upsertUser({ tenantId: 'acme', ...USER });
  return auth;
}

async function main() {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as ServerConfig;
  const app = express();
  if (cfg.kind === 'echo') {
    app.post('/echo', express.urlencoded({ extended: false, limit: '16kb' }), (req, res) => {
      res.json({ ok: true, params: req.body });
    });
  } else {
    const store =
      cfg.store === 'redis'
        ? new RedisStore({
            redis: new Redis(cfg.redisPort ?? 6379, '127.0.0.1', { maxRetriesPerRequest: 1 }),
            prefix: cfg.prefix ?? 'bench:',
          })
        : new MemoryStore();
    app.use((await seedAuth(cfg, store)).router());
  }
  const server = app.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    process.stdout.write(
      `${JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 })}\n`,
    );
  });
  process.on('SIGTERM', () => process.exit(0));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
