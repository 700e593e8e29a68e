// Header names of tokenward's own wire surface.

/**
 * The renewal hint: whole seconds until the presented token's effective expiry, on every response
 * behind `authenticate()`. The TokenManager renews when it drops below its threshold.
 */
export const TOKEN_EXPIRES_IN = 'Token-Expires-In';

/** RFC 9449 §4.1: the request header carrying a DPoP proof. */
export const DPOP = 'DPoP';
/** RFC 9449 §8.1: the response header carrying the nonce a proof must include. */
export const DPOP_NONCE = 'DPoP-Nonce';
