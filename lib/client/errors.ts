// TokenManagerError: what the client TokenManager throws, with a literal-union code.

/**
 * Why a TokenManager call failed:
 * - `not_signed_in`: no usable tokens (never signed in, signed out, or the session ended);
 * - `invalid_grant`: the server refused the credentials or the refresh token (RFC 6749 §5.2);
 * - `oauth_error`: another error answer from the token or revocation endpoint (RFC 6749 §5.2,
 *   RFC 7009 §2.2.1; `oauthError` and `status` say which);
 * - `discovery_failed`: the metadata document (RFC 8414) was unreachable, malformed, or for another issuer;
 * - `network_error`: the authorization server could not be reached or timed out.
 *
 * @example
 * if (err instanceof TokenManagerError && err.code === 'not_signed_in') showSignIn();
 */
export type TokenManagerErrorCode =
  | 'not_signed_in'
  | 'invalid_grant'
  | 'oauth_error'
  | 'discovery_failed'
  | 'network_error';

/**
 * An error from a TokenManager call. `oauthError` and `status` hold the server's answer when there
 * was one; token values never appear in messages.
 *
 * @example
 * try { await tm.signIn('alice', 'wrong'); }
 * catch (err) { if (err instanceof TokenManagerError && err.code === 'invalid_grant') showLoginError(); }
 */
export class TokenManagerError extends Error {
  readonly code: TokenManagerErrorCode;
  /** The RFC 6749 §5.2 `error` value, when the server sent one. */
  readonly oauthError: string | undefined;
  /** The HTTP status of the server's answer, when there was one. */
  readonly status: number | undefined;

  constructor(
    code: TokenManagerErrorCode,
    message: string,
    details: { oauthError?: string; status?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'TokenManagerError';
    this.code = code;
    this.oauthError = details.oauthError;
    this.status = details.status;
  }
}
