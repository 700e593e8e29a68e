// Error classes: OAuth errors carry their wire code, HTTP status and headers; ConfigError is for start-up.

/** Wire error codes (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1, RFC 8707 §2, RFC 9449) that tokenward sends. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  /** RFC 8707 §2: the `resource` asked for is malformed, unknown or not acceptable. */
  | 'invalid_target'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'unsupported_token_type'
  | 'temporarily_unavailable'
  | 'server_error'
  /** RFC 9449 §5, §7.1: the DPoP proof is missing, malformed or does not match the request. */
  | 'invalid_dpop_proof'
  /** RFC 9449 §8, §9: the server asks for a nonce; the one to use is in `DPoP-Nonce`. */
  | 'use_dpop_nonce';

/**
 * An error answered to the client as `{ error, error_description }` with `status` and `headers`.
 * `cause` holds internal detail and is never serialized.
 *
 * @example throw new OAuthError('invalid_grant', 'refresh token is not active');
 */
export class OAuthError extends Error {
  readonly error: OAuthErrorCode;
  readonly status: number;
  readonly headers: Record<string, string>;
  /** Whether `message` may be sent to the client (4xx, and 503 whose text is ours). */
  readonly expose: boolean;

  constructor(
    error: OAuthErrorCode,
    description: string,
    status = 400,
    headers: Record<string, string> = {},
    options?: { cause?: unknown; expose?: boolean },
  ) {
    super(description, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'OAuthError';
    this.error = error;
    this.status = status;
    this.headers = headers;
    // A 503's description is written here, never taken from a cause, so it is safe to send.
    this.expose = options?.expose ?? (status < 500 || error === 'temporarily_unavailable');
  }
}

/** The store did not answer in time or is disconnected: answered as 503 with Retry-After. */
export class StoreUnavailableError extends Error {
  constructor(message = 'store unavailable', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * tokenward is set up wrong in a way only a request shows (middleware out of order, a guard's
 * introspection credentials refused, a router mounted under a path): answered 500 server_error,
 * never a 503 that invites retries; `fix` is logged and never sent.
 */
export class MisconfiguredError extends OAuthError {
  readonly fix: string;
  constructor(fix: string) {
    super('server_error', 'the server is misconfigured', 500, {}, { expose: true });
    this.name = 'MisconfiguredError';
    this.fix = fix;
  }
}

/** Invalid options given to a factory; thrown at start-up, never during a request. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** An admin API call was given an invalid record; the message says which field and why. */
export class ValidationError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'ValidationError';
    this.field = field;
  }
}

export const invalidRequest = (description: string) =>
  new OAuthError('invalid_request', description);
