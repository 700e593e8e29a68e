// TokenManagerError: what the client TokenManager throws, with a literal-union code.

/**
 * Why a TokenManager call failed:
 * - `not_signed_in`: no usable tokens (never signed in, signed out, or the session ended);
 * - `invalid_grant`: the server refused the credentials, the authorization code or the refresh
 *   token (RFC 6749 §5.2);
 * - `oauth_error`: another error answer from the token, revocation or authorization endpoint
 *   (RFC 6749 §5.2 and §4.1.2.1, RFC 7009 §2.2.1; `oauthError` and `status` say which);
 * - `discovery_failed`: the metadata document (RFC 8414) was unreachable, malformed, or for another issuer;
 * - `network_error`: the authorization server could not be reached or timed out;
 * - `state_mismatch`: a redirect came back with a `state` this app did not send, or none is
 *   pending here (a forged callback, a reloaded or bookmarked callback URL, another tab's sign-in;
 *   RFC 6749 §10.12): nothing was redeemed;
 * - `issuer_mismatch`: a redirect came back naming another issuer, or none where the server says
 *   it names one (RFC 9207, mix-up attacks): nothing was redeemed;
 * - `access_denied`: the authorization server refused the sign-in (RFC 6749 §4.1.2.1), e.g. the
 *   user does not belong to the client's tenant;
 * - `timeout`: nobody completed the sign-in in the browser in time (`signInWithBrowser`).
 *
 * @example
 * if (err instanceof TokenManagerError && err.code === 'not_signed_in') showSignIn();
 */
export type TokenManagerErrorCode =
  | 'not_signed_in'
  | 'invalid_grant'
  | 'oauth_error'
  | 'discovery_failed'
  | 'network_error'
  | 'state_mismatch'
  | 'issuer_mismatch'
  | 'access_denied'
  | 'timeout';

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
  /** The RFC 6749 §5.2 (token) or §4.1.2.1 (authorization) `error` value, when the server sent one. */
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
