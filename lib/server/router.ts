// The router mounted with app.use(auth.router()): metadata, JWKS, token, revocation, introspection.

import express, { type RequestHandler, Router } from 'express';
import { throttle } from '../core/logger';
import { OAuthError, StoreUnavailableError } from '../errors';
import { oauthErrorHandler, sendOAuthError } from '../http/error-handler';
import type { ServerContext } from './context';
import { introspectionEndpoint } from './introspection-endpoint';
import { jwksEndpoint, metadataEndpoint, PATHS } from './metadata';
import { revocationEndpoint } from './revocation-endpoint';
import { tokenEndpoint } from './token-endpoint';

/** Largest accepted form body; token requests are a few hundred bytes. */
const BODY_LIMIT = '16kb';

function methodNotAllowed(allow: string): RequestHandler {
  return function methodNotAllowed(_req, res) {
    res.setHeader('Allow', allow);
    sendOAuthError(res, new OAuthError('invalid_request', `method not allowed; use ${allow}`, 405));
  };
}

export function buildRouter(ctx: ServerContext): Router {
  const router = Router();
  const base = ctx.config.issuerPath;
  const mayWarn = throttle();
  const errors = (endpoint: 'token' | 'revocation' | 'introspection' | 'jwks') =>
    oauthErrorHandler(ctx.config.logger, (error) => {
      // Only the store's 503s: a full hashing queue answers 503 too, and is no outage.
      if (error.status !== 503 || !(error.cause instanceof StoreUnavailableError)) return;
      ctx.events.emit('store.unavailable', { endpoint });
      // An outage must not flood the log: one line per 5 s.
      if (mayWarn()) ctx.config.logger.warn?.({ endpoint }, 'store unavailable: answering 503');
    });
  const form = express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 32 });
  const metadata = metadataEndpoint(ctx);

  // RFC 8414 §3.1: for an issuer with a path, the well-known segment goes before it.
  const metadataPaths = base
    ? [`${PATHS.metadata}${base}`, `${base}${PATHS.metadata}`]
    : [PATHS.metadata];
  for (const path of metadataPaths) router.get(path, metadata).all(path, methodNotAllowed('GET'));
  router.get(`${base}${PATHS.jwks}`, jwksEndpoint(ctx), errors('jwks'));
  router.all(`${base}${PATHS.jwks}`, methodNotAllowed('GET'));

  // Request durations by endpoint and status, when metrics are on.
  const timed = (endpoint: string): RequestHandler =>
    function timed(_req, res, next) {
      const { metrics } = ctx;
      if (metrics) {
        const start = process.hrtime.bigint();
        res.once('finish', () =>
          metrics.observe({ endpoint, status: String(res.statusCode) }, start),
        );
      }
      next();
    };
  router.post(`${base}${PATHS.token}`, timed('token'), form, tokenEndpoint(ctx), errors('token'));
  router.post(
    `${base}${PATHS.revocation}`,
    timed('revocation'),
    form,
    revocationEndpoint(ctx),
    errors('revocation'),
  );
  router.post(
    `${base}${PATHS.introspection}`,
    timed('introspection'),
    form,
    introspectionEndpoint(ctx),
    errors('introspection'),
  );
  for (const p of [PATHS.token, PATHS.revocation, PATHS.introspection]) {
    router.all(`${base}${p}`, methodNotAllowed('POST'));
  }
  return router;
}
