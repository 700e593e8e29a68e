// The router mounted with app.use(auth.router()): metadata, JWKS, token, revocation, introspection.

import express, { type Express, type RequestHandler, Router } from 'express';
import { throttle } from '../core/logger';
import { ConfigError, MisconfiguredError, OAuthError, StoreUnavailableError } from '../errors';
import { corsFor } from '../http/cors';
import { oauthErrorHandler, sendOAuthError } from '../http/error-handler';
import { authorizeEndpoint } from './authorize-endpoint';
import type { ServerContext } from './context';
import { introspectionEndpoint } from './introspection-endpoint';
import { jwksEndpoint, metadataEndpoint, PATHS } from './metadata';
import { revocationEndpoint } from './revocation-endpoint';
import { revocationFeedEndpoint } from './revocation-feed-endpoint';
import { tokenEndpoint } from './token-endpoint';

/** Largest accepted form body; token requests are a few hundred bytes. */
const BODY_LIMIT = '16kb';

function methodNotAllowed(allow: string): RequestHandler {
  return function methodNotAllowed(_req, res) {
    res.setHeader('Allow', allow);
    sendOAuthError(res, new OAuthError('invalid_request', `method not allowed; use ${allow}`, 405));
  };
}

/** What to do instead of mounting under a path: the router serves the issuer's own paths. */
function whereToMount(issuer: string, issuerPath: string, mountPath: string): string {
  const metadataPath = `${PATHS.metadata}${issuerPath}`;
  return (
    `auth.router() is mounted at "${mountPath}", but it serves the issuer's paths itself ` +
    `(issuer ${issuer}: token endpoint at ${issuerPath}${PATHS.token}, metadata at ${metadataPath}). ` +
    'Mount it at the application root with app.use(auth.router())' +
    (issuerPath
      ? ''
      : `; to serve it under "${mountPath}", end the issuer with that path (${issuer}${mountPath}) and still mount it at the root`) +
    '.'
  );
}

/**
 * The authorization server as an Express sub-application. A sub-application, unlike a Router, learns
 * its mount path when `app.use()` mounts it, so a mount that would advertise endpoints clients
 * cannot reach is refused at start-up rather than answering 404 later.
 */
export function buildServerApp(ctx: ServerContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.on('mount', () => {
    const mountPath = app.mountpath;
    if (mountPath !== '/' && mountPath !== '')
      throw new ConfigError(
        `createAuthServer: ${whereToMount(ctx.config.issuer, ctx.config.issuerPath, String(mountPath))}`,
      );
  });
  app.use(buildRouter(ctx));
  return app;
}

export function buildRouter(ctx: ServerContext): Router {
  const router = Router();
  const base = ctx.config.issuerPath;
  const mayWarn = throttle();
  // Mounted under a path through a Router (which tells no mount path): refuse our own requests
  // with a 500 and a log line saying the fix, rather than serving endpoints the metadata misplaces.
  const ours = new Set([
    ...(base ? [`${PATHS.metadata}${base}`, `${base}${PATHS.metadata}`] : [PATHS.metadata]),
    ...[
      PATHS.jwks,
      PATHS.authorize,
      PATHS.token,
      PATHS.revocation,
      PATHS.introspection,
      PATHS.revocationFeed,
    ].map((p) => `${base}${p}`),
  ]);
  const mayLogMount = throttle();
  router.use(function mountedAtRoot(req, res, next) {
    if (req.baseUrl === '' || !(ours.has(req.path) || ours.has(req.baseUrl + req.path)))
      return next();
    if (mayLogMount())
      ctx.config.logger.error(
        { mountPath: req.baseUrl, error: 'misconfigured' },
        whereToMount(ctx.config.issuer, base, req.baseUrl),
      );
    sendOAuthError(res, new MisconfiguredError(whereToMount(ctx.config.issuer, base, req.baseUrl)));
  });
  const errors = (
    endpoint: 'authorize' | 'token' | 'revocation' | 'introspection' | 'revocation_feed' | 'jwks',
  ) =>
    oauthErrorHandler(ctx.config.logger, (error) => {
      // Only the store's 503s: a full hashing queue answers 503 too, and is no outage.
      if (error.status !== 503 || !(error.cause instanceof StoreUnavailableError)) return;
      ctx.events.emit('store.unavailable', { endpoint });
      // An outage must not flood the log: one line per 5 s.
      if (mayWarn())
        ctx.config.logger.warn?.(
          { endpoint, cause: (error.cause as Error).message },
          'store unavailable: answering 503',
        );
    });
  const form = express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 32 });
  const metadata = metadataEndpoint(ctx);

  // RFC 8414 §3.1: for an issuer with a path, the well-known segment goes before it.
  const metadataPaths = base
    ? [`${PATHS.metadata}${base}`, `${base}${PATHS.metadata}`]
    : [PATHS.metadata];
  // Browsers on the configured origins: preflights answered, and the allow headers on answers. The
  // TokenManager in a browser reads the metadata first, so it is answered too, with the JWKS.
  const { cors } = ctx.config;
  if (cors) {
    const allowGet = corsFor(cors, 'GET');
    for (const path of [...metadataPaths, `${base}${PATHS.jwks}`])
      router.options(path, allowGet).get(path, allowGet);
    const allowPost = corsFor(cors, 'POST');
    for (const p of [PATHS.token, PATHS.revocation, PATHS.introspection]) {
      router.options(`${base}${p}`, allowPost);
      router.post(`${base}${p}`, allowPost);
    }
  }
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
  const { authorize } = ctx.config;
  if (authorize) {
    const path = `${base}${PATHS.authorize}`;
    router.get(path, timed('authorize'), authorizeEndpoint(ctx, authorize), errors('authorize'));
    router.all(path, methodNotAllowed('GET'));
  }
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
  if (ctx.feed) {
    const path = `${base}${PATHS.revocationFeed}`;
    router.get(path, revocationFeedEndpoint(ctx, ctx.feed), errors('revocation_feed'));
    router.all(path, methodNotAllowed('GET'));
  }
  return router;
}
