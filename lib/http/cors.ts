// CORS for the endpoints browsers call (metadata and JWKS to discover, then token, revocation,
// introspection), for the configured origins only: the `cors` package answers preflights and adds
// the headers; other origins get none.
import corsMiddleware from 'cors';
import type { RequestHandler } from 'express';

/** Headers a browser may read from our answers: challenges, retry hints, the renewal hint, DPoP nonces. */
const EXPOSED = ['WWW-Authenticate', 'Retry-After', 'Token-Expires-In', 'DPoP-Nonce'];

/**
 * A middleware answering CORS for `origins`: preflights end here with 204; other requests get
 * `Access-Control-Allow-Origin` when their origin is listed. No credentials mode: these endpoints
 * take client credentials in the request, never cookies.
 */
export function corsFor(
  options: { origins: string[]; maxAge: number },
  method: 'GET' | 'POST',
): RequestHandler {
  const allowed = new Set(options.origins);
  return corsMiddleware({
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    methods: [method],
    allowedHeaders: ['Authorization', 'Content-Type', 'DPoP'],
    exposedHeaders: EXPOSED,
    maxAge: options.maxAge,
    optionsSuccessStatus: 204,
  }) as RequestHandler;
}
