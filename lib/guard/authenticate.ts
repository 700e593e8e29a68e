// authenticate(): reads the access token (RFC 6750 §2.1, RFC 9449 §7.1), asks the guard's mode whether it is live,
// sets `req.auth` and the renewal hint; device-bound tokens postpone their device session's deadline.
import type { RequestHandler } from 'express';
import { TokenRejection } from '../core/rejection';
import { MisconfiguredError, OAuthError } from '../errors';
import type { GuardEvents } from '../events';
import type { AuthContext } from '../types';
import { AuthenticationRequiredError, readAccessToken } from './bearer';
import { RejectedTokenError } from './challenge';
import { presentationOf } from './dpop-presentation';
import { afterResponse, fail, type GuardContext } from './guard-context';
import { setRenewalHint } from './renewal-hint';

const rejection = (err: unknown): GuardEvents['token.rejected']['reason'] =>
  err instanceof AuthenticationRequiredError
    ? 'missing'
    : err instanceof MisconfiguredError
      ? 'misconfigured'
      : err instanceof OAuthError && err.error === 'invalid_request'
        ? 'malformed'
        : err instanceof OAuthError &&
            (err.error === 'invalid_token' || err.error === 'invalid_dpop_proof')
          ? 'invalid'
          : 'unavailable';

/** The `authenticate()` middleware of a guard. */
export function authenticate(ctx: GuardContext): RequestHandler {
  const { events, metrics, verifier } = ctx;
  return async function authenticate(req, res, next) {
    const start = metrics ? process.hrtime.bigint() : 0n;
    try {
      const { scheme, token } = readAccessToken(req);
      const v = await verifier.verify(token, presentationOf(req, scheme));
      if (v instanceof TokenRejection) throw new RejectedTokenError(v);
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
      ctx.verifiedBy.set(req, v);
      setRenewalHint(res, v.expiresAt, ctx.now());
      // Payloads are built only when somebody listens: this runs on every guarded request.
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
    } catch (err) {
      const reason = rejection(err);
      const why = err instanceof RejectedTokenError ? err.rejection : undefined;
      if (why) ctx.config.logger.debug?.({ cause: why.cause }, `token rejected: ${why.detail}`);
      if (events.wants('token.rejected')) {
        const rejected = why ? { reason, cause: why.cause, detail: why.detail } : { reason };
        afterResponse(res, () => events.emit('token.rejected', rejected));
      }
      metrics?.observe({ outcome: reason }, start);
      return fail(ctx, res, err);
    }
    metrics?.observe({ outcome: 'accepted' }, start);
    next();
  };
}
