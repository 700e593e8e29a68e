// createAuthServer: the authorization server as an Express router plus its admin API.

import type { JsonWebKey } from 'node:crypto';
import type { Express, RequestHandler } from 'express';
import { secondsOf } from '../core/clock';
import { ConfigError } from '../errors';
import { type AuthServerEvents, Events } from '../events';
import { createMetrics } from '../metrics';
import { type AuthServerOptions, parseAuthServerOptions } from '../options/auth-server-options';
import type { Store } from '../store/store';
import { DEFAULT_SCRYPT_COST } from '../tokens/secrets';
import { KeyRing } from '../tokens/signing-keys';
import { VerifiedTokenCache } from '../tokens/verified-token-cache';
import { type Admin, createAdmin } from './admin';
import { safeReturnTo } from './authorize-endpoint';
import { FeedHub } from './change-feed';
import { ClientAuthenticator } from './client-auth';
import type { ServerContext } from './context';
import { Hashing } from './hashing';
import { metadataDocument } from './metadata';
import { publishChange } from './publish-change';
import { RateLimits } from './rate-limit';
import { buildServerApp } from './router';

export interface AuthServer {
  readonly issuer: string;
  readonly store: Store;
  /**
   * Every endpoint, as an Express sub-application: mount it at the application root with
   * `app.use(auth.router())` — it serves the issuer's path itself. Mounting it under a path
   * throws a ConfigError naming the fix.
   */
  router(): Express;
  /** RFC 8414 metadata as served. */
  metadata(): ReturnType<typeof metadataDocument>;
  /** The JWKS as served at jwks_uri. */
  jwks(): Promise<{ keys: JsonWebKey[] }>;
  readonly admin: Admin;
  /** Audit events: `auth.events.on('token.issued', (e) => …)`. Payloads carry ids, never credentials. */
  readonly events: Events<AuthServerEvents>;
  /** An Express handler serving the Prometheus metrics (`metrics` option); ConfigError when off. */
  metricsHandler(): RequestHandler;
  /**
   * For the host's login page: `returnTo` when it is this server's own authorization URL (as the
   * login page got it in `return_to`), else undefined — redirect back only to what this returns.
   *
   * @example res.redirect(auth.safeReturnTo(req.query.return_to) ?? '/');
   */
  safeReturnTo(returnTo: unknown): string | undefined;
  /**
   * Close this instance's revocation feed streams (their guards reconnect to another instance), so
   * that `server.close()` does not wait on them. Call it at shutdown, before `server.close()`.
   *
   * @example process.on('SIGTERM', async () => { await auth.close(); server.close(); });
   */
  close(): Promise<void>;
}

let lowCostWarned = false;

/**
 * Create an authorization server (RFC 6749 token endpoint, RFC 7009, RFC 7662, RFC 8414).
 *
 * @example
 * const auth = createAuthServer({
 *   issuer: 'https://auth.example.com',
 *   store: new RedisStore({ redis }),
 *   keyEncryptionSecret: process.env.TOKENWARD_KEY_SECRET, // a RedisStore keeps keys sealed
 * });
 * app.use(auth.router());
 */
export function createAuthServer(options: Readonly<AuthServerOptions>): AuthServer {
  const config = parseAuthServerOptions(options);
  if (config.insecureClearKeys) {
    const message =
      'private signing keys are kept in the store in the clear: anyone who can read it (a replica, a backup) can mint tokens; for development only, set keyEncryptionSecret in production';
    // Called as methods: a pino logger needs its `this`.
    if (config.logger.warn) config.logger.warn({ option: 'insecureClearKeys' }, message);
    else config.logger.error({ option: 'insecureClearKeys' }, message);
  }
  const now = secondsOf(config.clock);
  const events = new Events<AuthServerEvents>(config.logger);
  const hashing = new Hashing(config.passwordHashing);
  // Once per process: test suites build many servers at a low cost on purpose.
  if (config.passwordHashing.scryptCost < DEFAULT_SCRYPT_COST && !lowCostWarned) {
    lowCostWarned = true;
    config.logger.warn?.(
      { scryptCost: config.passwordHashing.scryptCost },
      `passwordHashing.scryptCost is below ${DEFAULT_SCRYPT_COST} (OWASP's N=2^17): for tests only`,
    );
  }
  const limits = config.rateLimit
    ? new RateLimits(config.rateLimit, config.store, events)
    : undefined;
  const ctx: ServerContext = {
    config,
    store: config.store,
    now,
    clients: new ClientAuthenticator(
      config.store,
      config.clientCacheTtl * 1000,
      config.clock,
      hashing,
      limits,
    ),
    events,
    hashing,
    ...(limits ? { limits } : {}),
    keys: new KeyRing(config.store, {
      alg: config.signingAlg,
      ...(config.staticKeys ? { staticKeys: config.staticKeys } : {}),
      ...(config.sealer ? { sealer: config.sealer } : {}),
      logger: config.logger,
      // Other instances may sign with a retired key until their next reload (60 s); its tokens then
      // live accessTokenTtl more, plus 60 s of clock skew.
      retainSeconds: config.accessTokenTtl + 120,
      reloadInterval: 60,
      now,
      clock: config.clock,
    }),
    // Remote guards introspect the same live tokens again and again (every cacheTtl each).
    verified: new VerifiedTokenCache(10_000, 0, now),
  };
  if (config.revocationFeed) {
    ctx.feed = new FeedHub(config.store, config.revocationFeed.heartbeat * 1000, config.logger);
    // A family revoked for reuse is revoked in the middle of a refresh (answered invalid_grant
    // whatever happens here), so its change is published after the answer.
    events.on('family.revoked', ({ grantId, by, clientId }) => {
      if (by !== 'reuse') return;
      (async () => {
        const tenantId = clientId && (await config.store.getClient(clientId))?.tenantId;
        await publishChange(ctx, {
          type: 'grant.revoked',
          grantId,
          ...(tenantId ? { tenantId } : {}),
        });
      })().catch((err: Error) =>
        config.logger.warn?.(
          { cause: err.message },
          'revocation feed: a family revoked for reuse could not be published; remote guards see it when their cached answer expires',
        ),
      );
    });
  }
  const metrics = createMetrics('createAuthServer', config.metrics, 'auth', ctx.events);
  if (metrics) ctx.metrics = metrics;
  let router: Express | undefined;
  return {
    issuer: config.issuer,
    store: config.store,
    router: () => {
      if (!router) {
        router = buildServerApp(ctx);
        // The CLI reads the same store: noting who serves from it lets `tokenward token …` check
        // tokens with this issuer and audience instead of a guess.
        config.store
          .recordDeployment({ issuer: config.issuer, audience: config.audience, seenAt: now() })
          .catch((err: Error) =>
            config.logger.debug?.(
              { cause: err.message },
              'could not note this server in the store (the CLI reads it to learn the issuer)',
            ),
          );
      }
      return router;
    },
    metadata: () => metadataDocument(ctx),
    jwks: () => ctx.keys.jwks(),
    admin: createAdmin(ctx),
    events: ctx.events,
    metricsHandler: () => {
      if (!metrics)
        throw new ConfigError('createAuthServer: metricsHandler() needs the "metrics" option');
      return metrics.handler();
    },
    safeReturnTo: (returnTo: unknown) => safeReturnTo(ctx, returnTo),
    close: async () => ctx.feed?.close(),
  };
}
