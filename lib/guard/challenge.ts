// Guard error answers (RFC 6750 §3): WWW-Authenticate challenge plus a JSON body, never a stack trace.

import type { Response } from 'express';
import { NOT_QUOTED_STRING_SAFE } from '../core/ids';
import type { Logger } from '../core/logger';
import type { TokenRejection } from '../core/rejection';
import { MisconfiguredError, OAuthError } from '../errors';
import { sendOAuthError, toOAuthError } from '../http/error-handler';
import { exposeHeader } from '../http/expose-header';
import { redactTokens } from '../http/redact';
import { AuthenticationRequiredError } from './bearer';

/** A 403 insufficient_scope error naming the scope(s) that would admit the request (RFC 6750 §3.1). */
export class InsufficientScopeError extends OAuthError {
  readonly scope: string;
  constructor(scope: string, description: string) {
    super('insufficient_scope', description, 403);
    this.name = 'InsufficientScopeError';
    this.scope = scope;
  }
}

/**
 * A refused token (RFC 6750 §3.1 invalid_token): the caller gets the same answer whatever the
 * cause; `rejection` says why, for the operator only.
 */
export class RejectedTokenError extends OAuthError {
  constructor(readonly rejection: TokenRejection) {
    super('invalid_token', 'the access token is invalid, expired or revoked', 401);
    this.name = 'RejectedTokenError';
  }
}

/**
 * RFC 6750 §3: the challenge for `error`; a request without credentials gets no error code. With
 * `resourceMetadata` (the URL of the guard's protected-resource metadata), every challenge names it
 * (RFC 9728 §5.1), so a client can find the authorization server and the scopes to ask for.
 */
export function bearerChallenge(
  realm: string,
  error?: OAuthError,
  resourceMetadata?: string,
): string {
  let challenge = `Bearer realm="${realm}"`;
  // A URL of RFC 3986 characters: nothing a quoted-string cannot carry (checked when computed).
  if (resourceMetadata !== undefined) challenge += `, resource_metadata="${resourceMetadata}"`;
  if (!error || error instanceof AuthenticationRequiredError) return challenge;
  // Descriptions are our own fixed texts; strip anything a quoted-string cannot carry anyway.
  const description = error.message.replace(NOT_QUOTED_STRING_SAFE, '');
  challenge += `, error="${error.error}", error_description="${description}"`;
  if (error instanceof InsufficientScopeError) challenge += `, scope="${error.scope}"`;
  return challenge;
}

/**
 * Answer a guard failure: 400/401/403 with a challenge (naming `resourceMetadata` when given), 503
 * with Retry-After, JSON body always.
 */
export function sendGuardError(
  res: Response,
  err: unknown,
  realm: string,
  logger: Logger,
  resourceMetadata?: string,
): void {
  const error = toOAuthError(err);
  if (error.status === 401 || error.status === 403 || error.status === 400) {
    res.setHeader('WWW-Authenticate', bearerChallenge(realm, error, resourceMetadata));
    // Browser clients on another origin need the challenge to tell invalid_token from the rest.
    exposeHeader(res, 'WWW-Authenticate');
  }
  if (error instanceof MisconfiguredError) {
    logger.error({ error: 'misconfigured' }, error.fix);
  } else if (error.status >= 500) {
    const cause = (error.cause ?? err) as Error | undefined;
    logger.error(
      {
        name: cause?.name,
        message: redactTokens(cause?.message),
        ...(error.status === 500 ? { stack: redactTokens(cause?.stack) } : {}),
      },
      error.status === 503 ? 'guard could not check a token' : 'unexpected guard error',
    );
  }
  if (error instanceof AuthenticationRequiredError) {
    // RFC 6750 §3.1: no error code when the request carried no authentication information.
    res.status(401).setHeader('Cache-Control', 'no-store');
    res.json({ error_description: error.message });
    return;
  }
  sendOAuthError(res, error);
}
