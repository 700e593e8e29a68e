// What a guard's middlewares share: parsed config, the verifier of its mode, events and error answers.
import type { Request, Response } from 'express';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import { MisconfiguredError } from '../errors';
import type { Events, GuardEvents } from '../events';
import type { Metrics } from '../metrics';
import type { GuardConfig } from '../options/guard-options';
import { InsufficientScopeError, sendGuardError } from './challenge';
import type { VerifiedToken, Verifier } from './verifier';

export interface GuardContext {
  config: GuardConfig;
  verifier: Verifier;
  events: Events<GuardEvents>;
  metrics?: Metrics;
  /** The configured logger behind a 5 s throttle: an outage must not flood the log. */
  logger: Logger;
  now: Clock;
  /** What authenticate() verified, for the middleware after it; invisible to the application. */
  verifiedBy: WeakMap<Request, VerifiedToken>;
  /**
   * The URL of the protected-resource metadata, once `guard.router()` serves it: challenges name
   * it (RFC 9728 §5.1). Unset until then, so no challenge points at a document nobody serves.
   */
  resourceMetadataUrl?: string;
}

/** Run `emit` once the response is out: later middleware may still await I/O. */
export function afterResponse(res: Response, emit: () => void): void {
  let done = false;
  const once = () => {
    if (!done) {
      done = true;
      emit();
    }
  };
  res.once('finish', once).once('close', once);
}

/** Answer `err` (RFC 6750 §3), emitting `access.denied` for scope and role refusals. */
export function fail(ctx: GuardContext, res: Response, err: unknown): void {
  if (err instanceof InsufficientScopeError) {
    const auth = res.req.auth;
    const scope = err.scope;
    afterResponse(res, () =>
      ctx.events.emit('access.denied', {
        scope,
        clientId: auth?.clientId ?? '',
        subject: auth?.subject ?? '',
      }),
    );
  }
  sendGuardError(
    res,
    err,
    {
      realm: ctx.config.realm,
      dpop: ctx.config.dpop,
      ...(ctx.resourceMetadataUrl !== undefined
        ? { resourceMetadata: ctx.resourceMetadataUrl }
        : {}),
    },
    ctx.logger,
  );
}

/**
 * The token this guard's authenticate() verified for `req`. When it did not run first, the route is
 * wired wrong: a 500 and a log line saying the fix, not a 401 telling the caller a token is missing.
 */
export function verifiedOf(ctx: GuardContext, req: Request, middleware: string): VerifiedToken {
  const v = ctx.verifiedBy.get(req);
  if (!v)
    throw new MisconfiguredError(
      `${middleware}() ran without this guard's authenticate() before it${req.route ? ` on ${req.method} ${req.baseUrl}${String(req.route.path)}` : ''}: ` +
        `put guard.authenticate() first, from the same guard, e.g. app.get(path, guard.authenticate(), guard.${middleware}(…), handler)`,
    );
  return v;
}
