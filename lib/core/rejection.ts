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
  | 'inactive'
  /** A DPoP-bound token (RFC 9449 §6) sent as a Bearer token. */
  | 'dpop_bound'
  /** The guard accepts DPoP-bound tokens only (`dpop: 'required'`). */
  | 'dpop_required'
  /** A token sent with the DPoP scheme is not bound to any key. */
  | 'not_dpop_bound'
  /** The DPoP proof is missing, malformed, or does not match the request (RFC 9449 §4.3). */
  | 'bad_dpop_proof'
  /** The DPoP proof is made with another key than the one the token is bound to. */
  | 'dpop_key_mismatch'
  /** The DPoP proof was presented before (its `jti`). */
  | 'dpop_replayed';

/** Causes that are the DPoP proof's fault: answered `invalid_dpop_proof` (RFC 9449 §7.1). */
export const PROOF_CAUSES: ReadonlySet<RejectionCause> = new Set([
  'bad_dpop_proof',
  'dpop_key_mismatch',
  'dpop_replayed',
]);

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
