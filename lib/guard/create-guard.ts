// createGuard: resource-server middleware (RFC 6750) in local (shared store) or remote (RFC 7662) mode.
// Each middleware lives in its own file; this one parses the options and wires them together.
import type { RequestHandler, Router } from 'express';
import { secondsOf } from '../core/clock';
import { type Logger, throttle } from '../core/logger';
import { ConfigError } from '../errors';
import { Events, type GuardEvents } from '../events';
import { createMetrics } from '../metrics';
import { type GuardOptions, parseGuardOptions } from '../options/guard-options';
import { authenticate } from './authenticate';
import type { GuardContext } from './guard-context';
import { LocalVerifier } from './local-verifier';
import { RemoteVerifier } from './remote-verifier';
import { requireScope, requireService } from './require-scope';
import { resolveIdentity } from './resolve-identity';
import { resourceMetadataRouter } from './resource-metadata';
import type { FeedStatus } from './revocation-feed';

export interface Guard {
  /** `local` when checking against the shared store, `remote` when introspecting. */
  readonly mode: 'local' | 'remote';
  /**
   * Authenticate the bearer token (RFC 6750 §2.1), set `req.auth` and the renewal hint (`Token-Expires-In`).
   * 400 invalid_request for a malformed request, 401 for a missing or invalid token, 503 when it cannot be checked.
   */
  authenticate(): RequestHandler;
  /** Set `req.auth.identity` (tenants and local users) per the tenant's localUserMode, read at request time. */
  resolveIdentity(): RequestHandler;
  /** Admit only tokens holding every one of `scopes`, each passing its role check now. */
  requireScope(...scopes: string[]): RequestHandler;
  /** Admit only tokens holding a scope that names `service` and passes its role check now. */
  requireService(service: string): RequestHandler;
  /**
   * A Router serving this resource server's protected-resource metadata (RFC 9728): `resource` (the
   * guard's `audience`), `authorization_servers`, `scopes_supported`, `bearer_methods_supported`,
   * `resource_name`, at `/.well-known/oauth-protected-resource` followed by the resource URI's path
   * (RFC 9728 §3.1). Once created, every challenge of the guard names it as `resource_metadata`
   * (§5.1). Mount it at the application root. Throws ConfigError unless `audience` is an https URL
   * (http only for localhost) without query or fragment.
   *
   * @example
   * const guard = createGuard({ issuer, audience: 'https://print.example', store });
   * app.use(guard.router());
   */
  router(): Router;
  /** Audit events: `guard.events.on('token.rejected', (e) => …)`. Payloads carry ids and reasons only. */
  readonly events: Events<GuardEvents>;
  /** An Express handler serving the Prometheus metrics (`metrics` option); ConfigError when off. */
  metricsHandler(): RequestHandler;
  /**
   * Settles once the guard's start-up check is done. Remote mode introspects a probe at creation:
   * when the authorization server refuses the guard's credentials (or the client may not
   * introspect), the fix is logged and this rejects with a ConfigError — await it to fail fast. An
   * unreachable server is logged as a warning and resolves. Local mode resolves at once.
   *
   * @example await guard.ready(); app.listen(4100);
   */
  ready(): Promise<void>;
  /**
   * Remote mode: whether the guard is subscribed to the authorization server's revocation feed
   * (`subscribed`: answers are kept up to `introspection.maxCacheTtl`), still (re)connecting
   * (`connecting`: `cacheTtl`), or not using one (`off`: local mode, `introspection.feed: false`, or
   * an issuer without a feed).
   */
  feedStatus(): FeedStatus;
  /** Stop the guard's background work (the revocation feed subscription), e.g. at shutdown. */
  close(): Promise<void>;
}

export { TOKEN_EXPIRES_IN } from '../core/headers';

/** Logs errors at most once per 5 s: an outage must not flood the log. */
function throttled(logger: Logger): Logger {
  const may = throttle();
  return {
    error(fields, message) {
      if (may()) logger.error(fields, message);
    },
  };
}

/**
 * Create resource-server guards. Local mode shares the authorization server's store; remote mode
 * verifies against the issuer's JWKS and asks its introspection endpoint (RFC 7662).
 *
 * @example
 * const guard = createGuard({ issuer: 'https://auth.example.com', store });
 * app.get('/print/jobs', guard.authenticate(), guard.resolveIdentity(), guard.requireService('print'), handler);
 */
export function createGuard(options: Readonly<GuardOptions>): Guard {
  const config = parseGuardOptions(options);
  const now = secondsOf(config.clock);
  const events = new Events<GuardEvents>(config.logger);
  const metrics = createMetrics('createGuard', config.metrics, 'guard', events);
  const remote = config.store
    ? undefined
    : new RemoteVerifier(
        config as typeof config & { introspection: NonNullable<typeof config.introspection> },
        now,
        events,
      );
  remote?.feed?.start();
  // Checked on the next turn, once the application has wired its routes: a misconfiguration shows
  // in the log at start-up rather than as the first user's error.
  // An authorization server still starting (or started after this process) is asked again a few
  // times, 2 s apart, before a warning; ready() settles with the first answer.
  const CHECKS = 5;
  const check = async (attempt: number): Promise<void> => {
    if (!remote || (await remote.checkCredentials(config.logger, attempt === CHECKS))) return;
    if (attempt < CHECKS) setTimeout(() => check(attempt + 1).catch(() => undefined), 2000).unref();
  };
  const checked: Promise<void> = remote
    ? new Promise<void>((resolve) => setImmediate(resolve)).then(() => check(1))
    : Promise.resolve();
  checked.catch(() => undefined); // logged already; ready() hands the rejection to who asks
  const ctx: GuardContext = {
    config,
    verifier:
      remote ?? new LocalVerifier(config.store as NonNullable<typeof config.store>, config, now),
    events,
    ...(metrics ? { metrics } : {}),
    logger: throttled(config.logger),
    now,
    verifiedBy: new WeakMap(),
  };
  return {
    mode: config.store ? 'local' : 'remote',
    authenticate: () => authenticate(ctx),
    resolveIdentity: () => resolveIdentity(ctx),
    requireScope: (...scopes: string[]) => requireScope(ctx, scopes),
    requireService: (service: string) => requireService(ctx, service),
    router: () => resourceMetadataRouter(ctx),
    events,
    metricsHandler: () => {
      if (!metrics)
        throw new ConfigError('createGuard: metricsHandler() needs the "metrics" option');
      return metrics.handler();
    },
    ready: () => checked,
    feedStatus: () => remote?.feed?.status ?? 'off',
    close: async () => remote?.feed?.close(),
  };
}
