// Benchmark server child: builds one scenario's app from argv JSON, listens on 127.0.0.1:0, prints {"port"}.
import express, { type RequestHandler } from 'express';
import { auth as jwtBearer } from 'express-oauth2-jwt-bearer';
import { Redis } from 'ioredis';
import { createAuthServer, createGuard, MemoryStore, RedisStore, type Store } from '../lib';
import { mountOauth2Server } from './peers/oauth2-server';
import { mountOidcProvider } from './peers/oidc-provider';
import {
  APP_ID,
  CC_SECRET,
  FEED_STATUS,
  INTROSPECTIONS,
  ISSUER,
  KEY_SECRET,
  ROUTE,
  RS,
  type ServerConfig,
  USER,
} from './shared';

async function seedAuth(cfg: ServerConfig, store: Store, issuer: string) {
  const auth = createAuthServer({
    issuer,
    store,
    ...(cfg.rateLimit
      ? cfg.rateLimit === true
        ? {}
        : { rateLimit: cfg.rateLimit }
      : { rateLimit: false as const }),
    ...(cfg.accessTokenTtl ? { accessTokenTtl: cfg.accessTokenTtl } : {}),
    ...(store.shared ? { keyEncryptionSecret: KEY_SECRET } : {}),
  });
  const a = auth.admin;
  await a.upsertTenant({ id: 'acme' });
  if (cfg.printScope) await a.upsertScope({ name: 'print', service: 'print', roleCheck: false });
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

/**
 * A RedisStore on its own ioredis client. `autoPipelining`: ioredis `enableAutoPipelining`, which
 * batches the commands issued in one event-loop turn into one write (on for every variant, as the
 * README recommends: it halves redis CPU per issuance here).
 */
function redisStore(cfg: ServerConfig, autoPipelining = true): RedisStore {
  return new RedisStore({
    redis: new Redis(cfg.redisPort ?? 6379, '127.0.0.1', {
      maxRetriesPerRequest: 1,
      ...(autoPipelining ? { enableAutoPipelining: true } : {}),
    }),
    prefix: cfg.prefix ?? 'bench:',
  });
}

/** The route child's guard's revocation-feed status (FEED_STATUS). */
let feedStatus: () => string = () => 'off';

/** The middleware in front of `GET /r`. */
function routeGuard(cfg: ServerConfig): RequestHandler[] {
  const issuer = cfg.issuer ?? ISSUER;
  switch (cfg.guard ?? 'none') {
    case 'none':
      return [];
    case 'local':
    case 'service': {
      const guard = createGuard({ issuer, store: redisStore(cfg) });
      return cfg.guard === 'service'
        ? [guard.authenticate(), guard.requireService('print')]
        : [guard.authenticate()];
    }
    case 'local-dpop':
      // Proofs are spent in the store, in the round trip that reads the token's state.
      return [createGuard({ issuer, store: redisStore(cfg), dpop: 'required' }).authenticate()];
    case 'remote': {
      // The feed off: answers kept 1 s, as this variant measured before the feed existed.
      const introspection = { clientId: RS.id, clientSecret: RS.secret, cacheTtl: 1, feed: false };
      return [createGuard({ issuer, introspection }).authenticate()];
    }
    case 'remote-feed': {
      // Subscribed to the revocation feed (the default): answers kept up to maxCacheTtl.
      const introspection = {
        clientId: RS.id,
        clientSecret: RS.secret,
        cacheTtl: 1,
        maxCacheTtl: 60,
      };
      const guard = createGuard({ issuer, introspection });
      feedStatus = () => guard.feedStatus();
      return [guard.authenticate()];
    }
    case 'jwt-bearer':
      // Discovery at issuerBaseURL finds jwks_uri in tokenward's RFC 8414 metadata; strict:
      // typ at+jwt and sub, client_id, jti, iat required, as tokenward's own guard checks.
      return [
        jwtBearer({
          issuerBaseURL: issuer,
          audience: issuer,
          tokenSigningAlg: 'ES256',
          strict: true,
        }),
      ];
    case 'jwt-bearer-dpop':
      // As above, tokens bound to a key only, each with a proof (it keeps no replay cache).
      return [
        jwtBearer({
          issuerBaseURL: issuer,
          audience: issuer,
          tokenSigningAlg: 'ES256',
          strict: true,
          dpop: { enabled: true, required: true },
        }),
      ];
  }
}

async function main() {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as ServerConfig;
  const app = express();
  // Listen first: a self-issuing authorization server needs its own port to name its issuer.
  const server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  if (cfg.kind === 'echo') {
    app.post('/echo', express.urlencoded({ extended: false, limit: '16kb' }), (req, res) => {
      res.json({ ok: true, params: req.body });
    });
  } else if (cfg.kind === 'route') {
    app.get(ROUTE, ...routeGuard(cfg), (_req, res) => {
      res.json({ ok: true });
    });
    app.get(FEED_STATUS, (_req, res) => {
      res.json({ status: feedStatus() });
    });
  } else if (cfg.kind === 'oidc-provider') {
    await mountOidcProvider(app, cfg, ISSUER);
  } else if (cfg.kind === 'oauth2-server') {
    mountOauth2Server(app, cfg, ISSUER);
  } else {
    const store = cfg.store === 'redis' ? redisStore(cfg) : new MemoryStore();
    const issuer = cfg.selfIssuer ? `http://127.0.0.1:${port}` : ISSUER;
    if (cfg.selfIssuer) {
      // Counts the introspection calls remote guards make (their cache misses), for the report.
      let introspections = 0;
      app.post(INTROSPECTIONS, (_req, res) => {
        res.json({ count: introspections });
        introspections = 0;
      });
      app.use('/oauth2/introspect', (_req, _res, next) => {
        introspections++;
        next();
      });
    }
    app.use((await seedAuth(cfg, store, issuer)).router());
  }
  // Ready: routes are mounted.
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  process.on('SIGTERM', () => process.exit(0));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
