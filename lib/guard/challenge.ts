// Guard error answers (RFC 6750 §3, RFC 9449 §7.1): WWW-Authenticate challenges plus a JSON body, never a stack trace.

import type { Response } from 'express';
import { NOT_QUOTED_STRING_SAFE } from '../core/ids';
import type { Logger } from '../core/logger';
import { PROOF_CAUSES, type TokenRejection } from '../core/rejection';
import { MisconfiguredError, OAuthError } from '../errors';
import { sendOAuthError, toOAuthError } from '../http/error-handler';
import { exposeHeader } from '../http/expose-header';
import { redactTokens } from '../http/redact';
import type { GuardDpopConfig } from '../options/guard-options';
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
 * A refused token (RFC 6750 §3.1 invalid_token), or its refused DPoP proof (RFC 9449 §7.1
 * invalid_dpop_proof): the caller gets the same answer whatever the cause; `rejection` says why,
 * for the operator only.
 */
export class RejectedTokenError extends OAuthError {
  constructor(readonly rejection: TokenRejection) {
    const proof = PROOF_CAUSES.has(rejection.cause);
    super(
      proof ? 'invalid_dpop_proof' : 'invalid_token',
      proof
        ? 'the DPoP proof is invalid or was used before'
        : 'the access token is invalid, expired or revoked',
      401,
    );
    this.name = 'RejectedTokenError';
  }
}

/** What a guard's challenges name. */
export interface ChallengeOptions {
  realm: string;
  /** The URL of the guard's protected-resource metadata (RFC 9728 §5.1), once served. */
  resourceMetadata?: string;
  dpop: GuardDpopConfig;
}

/**
 * The WWW-Authenticate value for `error` (undefined or AuthenticationRequiredError: no credentials).
 * Bearer per RFC 6750 §3; DPoP per RFC 9449 §7.1, with the proof algorithms accepted, for a request
 * that used the DPoP scheme and wherever DPoP is required. Where both are accepted, a request
 * without credentials is offered both, as is a bound token sent as Bearer (the error on the Bearer
 * one). Every challenge names the resource metadata when given.
 */
export function challengeFor(
  options: ChallengeOptions,
  error: OAuthError | undefined,
  usedDpop: boolean,
): string {
  const common = [`realm="${options.realm}"`];
  // A URL of RFC 3986 characters: nothing a quoted-string cannot carry (checked when computed).
  if (options.resourceMetadata !== undefined)
    common.push(`resource_metadata="${options.resourceMetadata}"`);
  const errorParams: string[] = [];
  if (error && !(error instanceof AuthenticationRequiredError)) {
    // Descriptions are our own fixed texts; strip anything a quoted-string cannot carry anyway.
    const description = error.message.replace(NOT_QUOTED_STRING_SAFE, '');
    errorParams.push(`error="${error.error}"`, `error_description="${description}"`);
    if (error instanceof InsufficientScopeError) errorParams.push(`scope="${error.scope}"`);
  }
  const algs = `algs="${options.dpop.algorithms.join(' ')}"`;
  if (usedDpop || options.dpop.required)
    return `DPoP ${[...common, ...errorParams, algs].join(', ')}`;
  const bearer = `Bearer ${[...common, ...errorParams].join(', ')}`;
  // Both schemes are accepted: a request without credentials is offered both, and so is a bound
  // token sent as Bearer, which learns how to send it; other Bearer errors stay RFC 6750's alone.
  const offerDpop =
    errorParams.length === 0 ||
    (error instanceof RejectedTokenError && error.rejection.cause === 'dpop_bound');
  return offerDpop ? `${bearer}, DPoP ${[...common, algs].join(', ')}` : bearer;
}

/**
 * Answer a guard failure: 400/401/403 with a challenge (see {@link challengeFor}), 503 with
 * Retry-After, JSON body always.
 */
export function sendGuardError(
  res: Response,
  err: unknown,
  options: ChallengeOptions,
  logger: Logger,
): void {
  const error = toOAuthError(err);
  if (error.status === 401 || error.status === 403 || error.status === 400) {
    const usedDpop = /^dpop(?: |$)/i.test(res.req.headers.authorization ?? '');
    res.setHeader('WWW-Authenticate', challengeFor(options, error, usedDpop));
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
