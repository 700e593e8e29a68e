// Access-token extraction: `Bearer` (RFC 6750 §2.1) or `DPoP` (RFC 9449 §7.1), from the Authorization header only, one header, strict syntax.
import type { Request } from 'express';
import { OAuthError } from '../errors';
import { headerCount } from '../http/header-count';

/** RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const SCHEME = /^(bearer|dpop)(?: +|$)/i;

/** The access token of a request and the scheme it came with. */
export interface PresentedToken {
  scheme: 'Bearer' | 'DPoP';
  token: string;
}

/** Thrown when no bearer credentials were sent: answered 401 with a bare challenge (RFC 6750 §3.1). */
export class AuthenticationRequiredError extends OAuthError {
  constructor() {
    super('invalid_request', 'a bearer token in the Authorization header is required', 401);
    this.name = 'AuthenticationRequiredError';
  }
}

function offeredElsewhere(req: Request): boolean {
  const q = req.url.indexOf('?');
  if (q >= 0 && new URLSearchParams(req.url.slice(q + 1)).has('access_token')) return true;
  const body = req.body as unknown;
  return typeof body === 'object' && body !== null && 'access_token' in body;
}

/**
 * The access token of a request, sent as `Bearer` or `DPoP` (the same token68 syntax). Tokens in
 * the query string or body (RFC 6750 §2.2, §2.3) are refused, as are repeated or malformed
 * Authorization headers (400 invalid_request); a request without such credentials gets
 * {@link AuthenticationRequiredError}.
 */
export function readAccessToken(req: Request): PresentedToken {
  if (offeredElsewhere(req))
    throw new OAuthError(
      'invalid_request',
      'bearer tokens are accepted in the Authorization header only',
    );
  const header = req.headers.authorization;
  if (header === undefined) throw new AuthenticationRequiredError();
  if (headerCount(req, 'authorization') > 1)
    throw new OAuthError('invalid_request', 'more than one Authorization header');
  const scheme = SCHEME.exec(header);
  if (!scheme) throw new AuthenticationRequiredError();
  const dpop = scheme[1]?.toLowerCase() === 'dpop';
  const token = header.slice(scheme[0].length);
  if (!B64TOKEN.test(token))
    throw new OAuthError('invalid_request', `malformed ${dpop ? 'DPoP' : 'Bearer'} credentials`);
  return { scheme: dpop ? 'DPoP' : 'Bearer', token };
}

/** The token of {@link readAccessToken}, whatever its scheme. */
export function readBearerToken(req: Request): string {
  return readAccessToken(req).token;
}
