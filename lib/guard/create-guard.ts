// createGuard: resource-server middleware (RFC 6750) in local (shared store) or remote (RFC 7662) mode.
import type { Request, RequestHandler, Response } from 'express';
import { ConfigError, OAuthError } from '../errors';
import { Events, type GuardEvents } from '../events';
import { createMetrics } from '../metrics';
import type { Logger } from '../options/auth-server-options';
import { type GuardOptions, parseGuardOptions } from '../options/guard-options';
import { epochSeconds } from '../server/context';
import type { AuthContext, Identity } from '../types';
import { AuthenticationRequiredError, readBearerToken } from './bearer';
import {
  exposeHeader,
  InsufficientScopeError,
  invalidToken,
  sendGuardError,
  TOKEN_EXPIRES_IN,
} from './challenge';
import { LocalVerifier } from './local-verifier';
import { RemoteVerifier } from './remote-verifier';
import type { VerifiedToken, Verifier } from './verifier';

export interface Guard {
  /** `local` when checking against the shared store, `remote` when introspecting. */
  readonly mode: 'local' | 'remote';
  /**
   * Authenticate the bearer token (RFC 6750 §2.1), set `req.auth` and the `Token-Expires-In` header.
   * 400 invalid_request for a malformed request, 401 for a missing or invalid token, 503 when it cannot be checked.
   */
  authenticate(): RequestHandler;
  /** Set `req.auth.identity` per the tenant's localUserMode, read at request time (SPEC B4). */
  resolveIdentity(): RequestHandler;
  /** Admit only tokens holding every one of `scopes`, each passing its role check now (SPEC B5). */
  requireScope(...scopes: string[]): RequestHandler;
  /** Admit only tokens holding a scope that names `service` and passes its role check now (SPEC B5). */
  requireService(service: string): RequestHandler;
  /** Audit events: `guard.events.on('token.rejected', (e) => …)`. Payloads carry ids and reasons only. */
  readonly events: Events<GuardEvents>;
  /** An Express handler serving the Prometheus metrics (`metrics` option); ConfigError when off. */
  metricsHandler(): RequestHandler;
}

export { TOKEN_EXPIRES_IN } from './challenge';

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;

/** Logs at most one failure per 5 s: an outage must not flood the log. */
function throttled(logger: Logger): Logger {
  let last = 0;
  return {
    error(fields, message) {
      const now = Date.now();
      if (now - last < 5000) return;
      last = now;
      logger.error(fields, message);
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
  const now = epochSeconds;
  const logger = throttled(config.logger);
  const verifier: Verifier = config.store
    ? new LocalVerifier(config.store, config, now)
    : new RemoteVerifier(
        config as typeof config & { introspection: NonNullable<typeof config.introspection> },
        now,
      );
  // What authenticate() verified, for the middleware after it; invisible to the application.
  const verifiedBy = new WeakMap<Request, VerifiedToken>();
  const events = new Events<GuardEvents>(config.logger);
  const metrics = createMetrics('createGuard', config.metrics, 'guard', events);
  // Guard events fire once the response is out: later middleware may still await I/O.
  const afterResponse = (res: Response, emit: () => void) => {
    let done = false;
    const once = () => {
      if (!done) {
        done = true;
        emit();
      }
    };
    res.once('finish', once).once('close', once);
  };
  const fail = (res: Response, err: unknown) => {
    if (err instanceof InsufficientScopeError) {
      const auth = res.req.auth;
      const scope = err.scope;
      afterResponse(res, () =>
        events.emit('access.denied', {
          scope,
          clientId: auth?.clientId ?? '',
          subject: auth?.subject ?? '',
        }),
      );
    }
    sendGuardError(res, err, config.realm, logger);
  };
  const rejected = (err: unknown): GuardEvents['token.rejected']['reason'] =>
    err instanceof AuthenticationRequiredError
      ? 'missing'
      : err instanceof OAuthError && err.error === 'invalid_request'
        ? 'malformed'
        : err instanceof OAuthError && err.error === 'invalid_token'
          ? 'invalid'
          : 'unavailable';

  function verifiedOf(req: Request): VerifiedToken {
    const v = verifiedBy.get(req);
    // Used without this guard's authenticate() before it: refuse rather than admit.
    if (!v) throw new AuthenticationRequiredError();
    return v;
  }

  function authenticate(): RequestHandler {
    return async function authenticate(req, res, next) {
      const start = metrics ? process.hrtime.bigint() : 0n;
      try {
        const token = readBearerToken(req);
        const v = await verifier.verify(token);
        if (!v) throw invalidToken();
        const c = v.claims;
        const auth: AuthContext = {
          token,
          claims: c,
          clientId: c.client_id,
          subject: c.sub,
          tenantId: c.tenant_id,
          ...(c.local_user !== undefined ? { localUser: c.local_user } : {}),
          ...(c.device_id !== undefined ? { deviceId: c.device_id } : {}),
          scopes: v.scopes,
          expiresAt: v.expiresAt,
        };
        req.auth = auth;
        verifiedBy.set(req, v);
        res.setHeader(TOKEN_EXPIRES_IN, String(Math.max(0, v.expiresAt - now())));
        if (events.wants('token.accepted')) {
          const accepted = {
            clientId: c.client_id,
            subject: c.sub,
            tenantId: c.tenant_id,
            jti: c.jti,
            expiresAt: v.expiresAt,
            ...(c.device_id !== undefined ? { deviceId: c.device_id } : {}),
          };
          afterResponse(res, () => events.emit('token.accepted', accepted));
        }
        if (
          v.deviceDeadline !== undefined &&
          c.device_id !== undefined &&
          events.wants('device_session.extended')
        ) {
          const extended = {
            tenantId: c.tenant_id,
            subject: c.sub,
            deviceId: c.device_id,
            clientId: c.client_id,
            deadline: v.deviceDeadline,
          };
          afterResponse(res, () => events.emit('device_session.extended', extended));
        }
        exposeHeader(res, TOKEN_EXPIRES_IN);
      } catch (err) {
        const reason = rejected(err);
        afterResponse(res, () => events.emit('token.rejected', { reason }));
        metrics?.observe({ outcome: reason }, start);
        return fail(res, err);
      }
      metrics?.observe({ outcome: 'accepted' }, start);
      next();
    };
  }

  function resolveIdentity(): RequestHandler {
    return async function resolveIdentity(req, res, next) {
      try {
        const v = verifiedOf(req);
        const c = v.claims;
        let identity: Identity;
        // The mode matters only for tokens carrying a local user, so only they read it.
        if (c.local_user !== undefined && (await verifier.localUserMode(v)))
          identity = { kind: 'local_user', id: c.local_user, tenantId: c.tenant_id };
        else if (c.gty === 'password')
          identity = { kind: 'user', id: c.sub, tenantId: c.tenant_id };
        else identity = { kind: 'client', id: c.client_id, tenantId: c.tenant_id };
        if (req.auth) req.auth.identity = identity;
      } catch (err) {
        return fail(res, err);
      }
      next();
    };
  }

  /** Whether `v` holds a user role listed by one of `defs` now; a token without a user holds none. */
  async function holdsRole(v: VerifiedToken, roles: string[]): Promise<boolean> {
    if (roles.length === 0) return false;
    const held = await verifier.roles(v);
    return held?.some((r) => roles.includes(r)) === true;
  }

  function requireScope(...scopes: string[]): RequestHandler {
    if (scopes.length === 0 || !scopes.every((s) => typeof s === 'string' && SCOPE_TOKEN.test(s)))
      throw new ConfigError('requireScope: give one or more scope names (RFC 6749 §3.3 syntax)');
    const needed = [...new Set(scopes)];
    const scope = needed.join(' ');
    return async function requireScope(req, res, next) {
      try {
        const v = verifiedOf(req);
        if (!needed.every((s) => v.scopes.includes(s)))
          throw new InsufficientScopeError(scope, 'the access token lacks a required scope');
        const defs = await verifier.scopeDefinitions(v);
        for (const def of defs) {
          if (!needed.includes(def.name) || !def.roleCheck) continue;
          if (!(await holdsRole(v, def.roles)))
            throw new InsufficientScopeError(
              scope,
              `scope ${def.name} requires a role the user does not hold`,
            );
        }
      } catch (err) {
        return fail(res, err);
      }
      next();
    };
  }

  function requireService(service: string): RequestHandler {
    if (
      typeof service !== 'string' ||
      !/^[\x21-\x7E]{1,128}$/.test(service) ||
      service.includes('"')
    )
      throw new ConfigError('requireService: give a service name (printable, no spaces or quotes)');
    return async function requireService(req, res, next) {
      try {
        const v = verifiedOf(req);
        const candidates = (await verifier.scopeDefinitions(v)).filter(
          (d) => d.service === service,
        );
        if (candidates.length === 0) {
          const names = await verifier.scopesForService(service, v);
          throw new InsufficientScopeError(
            names.length > 0 ? names.join(' ') : service,
            `the access token holds no scope for service ${service}`,
          );
        }
        // Any admitting scope suffices; one without a role check admits with no role lookup.
        if (!candidates.some((d) => !d.roleCheck)) {
          const roles = candidates.flatMap((d) => d.roles);
          if (!(await holdsRole(v, roles)))
            throw new InsufficientScopeError(
              candidates.map((d) => d.name).join(' '),
              `service ${service} requires a role the user does not hold`,
            );
        }
      } catch (err) {
        return fail(res, err);
      }
      next();
    };
  }

  return {
    mode: config.store ? 'local' : 'remote',
    authenticate,
    resolveIdentity,
    requireScope,
    requireService,
    events,
    metricsHandler: () => {
      if (!metrics)
        throw new ConfigError('createGuard: metricsHandler() needs the "metrics" option');
      return metrics.handler();
    },
  };
}
