// Why a token was refused: for the operator (the `token.rejected` event and a debug log line), never
// for the caller, who gets the plain RFC 6750 answer.

/** What was wrong with a refused access token. */
export type RejectionCause =
  /** Not a compact JWS, or too long to be one of ours. */
  | 'not_a_jwt'
  /** `typ` is not `at+jwt` (RFC 9068 §2.1): an ID token, or another issuer's token. */
  | 'wrong_type'
  /** The header names a key this verifier does not have, or none. */
  | 'unknown_key'
  /** `alg` is not the key's own, or a header asks for processing we do not do (`crit`, `b64`). */
  | 'wrong_algorithm'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  /** The token's tenant is not one this guard serves, or not its grant's. */
  | 'wrong_tenant'
  /** A required claim is missing or has the wrong type. */
  | 'missing_claims'
  /** The refresh-token family or this access token was revoked. */
  | 'revoked'
  /** No grant under the token's `gid` in the store read. */
  | 'unknown_grant'
  /** The grant was issued to another client, subject, local user or device. */
  | 'grant_mismatch'
  | 'device_session_ended'
  /** Remote mode: the authorization server answered `active: false`. */
  | 'inactive';

/**
 * A refused token: the cause and one line saying what was expected. Values quoted from the token are
 * cut short; a token itself is never part of it.
 */
export class TokenRejection {
  constructor(
    readonly cause: RejectionCause,
    readonly detail: string,
  ) {}
}

/** A value from an unverified token, quoted for a log line: JSON, cut to 80 characters. */
export function quoted(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
