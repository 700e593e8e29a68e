// RFC 8414 authorization server metadata and the JWKS it points at.
import type { RequestHandler } from 'express';
import type { ServerContext } from './context';
import { GRANT_TYPES } from './grants';

/** Endpoint paths below the issuer's path. */
export const PATHS = Object.freeze({
  metadata: '/.well-known/oauth-authorization-server',
  authorize: '/oauth2/authorize',
  token: '/oauth2/token',
  revocation: '/oauth2/revoke',
  introspection: '/oauth2/introspect',
  jwks: '/oauth2/jwks',
  revocationFeed: '/oauth2/revocation-feed',
});

/**
 * The metadata document (RFC 8414 §2). The password grant (legacy: RFC 9700 §2.4) is advertised
 * only when `passwordInUse`: some client is registered with it.
 */
export function metadataDocument(ctx: ServerContext, passwordInUse = true) {
  const base = ctx.config.issuer;
  const auth = ['client_secret_basic', 'client_secret_post'];
  const codes = ctx.config.authorize !== undefined;
  return {
    issuer: base,
    ...(codes ? { authorization_endpoint: `${base}${PATHS.authorize}` } : {}),
    token_endpoint: `${base}${PATHS.token}`,
    revocation_endpoint: `${base}${PATHS.revocation}`,
    introspection_endpoint: `${base}${PATHS.introspection}`,
    // Not registered with IANA: tokenward's own, for its remote guards (RFC 8414 §2 allows more).
    ...(ctx.config.revocationFeed
      ? { revocation_feed_endpoint: `${base}${PATHS.revocationFeed}` }
      : {}),
    jwks_uri: `${base}${PATHS.jwks}`,
    // The authorization-code grant only with the authorization endpoint that issues codes.
    grant_types_supported: GRANT_TYPES.filter(
      (g) => (codes || g !== 'authorization_code') && (passwordInUse || g !== 'password'),
    ),
    response_types_supported: codes ? ['code'] : [],
    ...(codes
      ? {
          response_modes_supported: ['query'],
          code_challenge_methods_supported: ['S256'],
          authorization_response_iss_parameter_supported: true,
        }
      : {}),
    token_endpoint_auth_methods_supported: [...auth, 'none'],
    revocation_endpoint_auth_methods_supported: [...auth, 'none'],
    introspection_endpoint_auth_methods_supported: auth,
    access_token_signing_alg_values_supported: ctx.config.staticKeys
      ? [...new Set(ctx.config.staticKeys.map((k) => k.alg))]
      : [ctx.config.signingAlg],
    // RFC 9449 §5.1: proofs are accepted at the token endpoint, signed with these.
    dpop_signing_alg_values_supported: ctx.config.dpop.algorithms,
    service_documentation: 'https://www.npmjs.com/package/tokenward',
  };
}

/** How long the served document is reused before the clients are looked at again (ms). */
const REFRESH_MS = 60_000;

export function metadataEndpoint(ctx: ServerContext): RequestHandler {
  let doc = metadataDocument(ctx);
  let until = 0;
  let pending: Promise<void> | undefined;
  // Whether some client still uses the password grant, read at most once a minute; the store
  // being down keeps the last document (metadata never fails for an outage).
  const refresh = () =>
    ctx.store
      .listClients()
      .then((clients) => {
        doc = metadataDocument(
          ctx,
          clients.some((c) => c.grants.includes('password')),
        );
        until = ctx.config.clock() + REFRESH_MS;
      })
      .catch(() => {
        until = ctx.config.clock() + 1000;
      })
      .finally(() => {
        pending = undefined;
      });
  return async function metadataEndpoint(_req, res) {
    if (ctx.config.clock() >= until) {
      pending ??= refresh();
      await pending;
    }
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(doc);
  };
}

export function jwksEndpoint(ctx: ServerContext): RequestHandler {
  return async function jwksEndpoint(_req, res) {
    const jwks = await ctx.keys.jwks();
    res.setHeader('Cache-Control', 'public, max-age=60');
    res.setHeader('Content-Type', 'application/jwk-set+json; charset=utf-8');
    res.send(JSON.stringify(jwks));
  };
}
