// Error handler for tokenward's endpoints: every failure becomes an RFC-style JSON error, never a stack trace.

import type { ErrorRequestHandler } from 'express';
import { NOT_QUOTED_STRING_SAFE } from '../core/ids';
import type { Logger } from '../core/logger';
import { MisconfiguredError, OAuthError, StoreUnavailableError } from '../errors';
import { redactTokens } from './redact';

/** Seconds a client should wait after a 503 before retrying. */
export const RETRY_AFTER_SECONDS = 1;

interface HttpishError {
  status?: unknown;
  type?: unknown;
  expose?: unknown;
}

/** Map any error to an OAuthError; body-parser errors become 4xx invalid_request. */
export function toOAuthError(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  if (err instanceof StoreUnavailableError) {
    return new OAuthError(
      'temporarily_unavailable',
      'the service is temporarily unavailable; retry later',
      503,
      {
        'Retry-After': String(RETRY_AFTER_SECONDS),
      },
      { cause: err },
    );
  }
  const e = (err ?? {}) as HttpishError;
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    const description =
      e.type === 'entity.too.large'
        ? 'request body is too large'
        : e.type === 'parameters.too.many'
          ? 'too many parameters'
          : e.type === 'charset.unsupported' || e.type === 'encoding.unsupported'
            ? 'unsupported body encoding'
            : 'malformed request';
    return new OAuthError('invalid_request', description, e.status, {}, { cause: err });
  }
  return new OAuthError('server_error', 'internal error', 500, {}, { cause: err });
}

/** Send an OAuthError as JSON with its status and headers. */
export function sendOAuthError(res: import('express').Response, error: OAuthError): void {
  res.status(error.status);
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res.setHeader('Cache-Control', 'no-store');
  // RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
  const description = error.expose
    ? error.message.replace(NOT_QUOTED_STRING_SAFE, '')
    : 'internal error';
  res.json({ error: error.error, error_description: description });
}

/** Express error middleware: logs 5xx causes (never request bodies or tokens), answers JSON. */
export function oauthErrorHandler(
  logger: Logger,
  onError?: (error: OAuthError) => void,
): ErrorRequestHandler {
  return function tokenwardErrorHandler(err, req, res, next) {
    if (res.headersSent) return next(err);
    const error = toOAuthError(err);
    onError?.(error);
    if (error instanceof MisconfiguredError) {
      logger.error({ path: req.path, error: 'misconfigured' }, error.fix);
    } else if (error.status === 500) {
      const cause = error.cause as Error | undefined;
      logger.error(
        {
          path: req.path,
          name: cause?.name,
          message: redactTokens(cause?.message),
          stack: redactTokens(cause?.stack),
        },
        'unexpected error',
      );
    }
    sendOAuthError(res, error);
  };
}
