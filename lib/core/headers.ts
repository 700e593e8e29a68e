// Header names of tokenward's own wire surface.

/**
 * The renewal hint: whole seconds until the presented token's effective expiry, on every response
 * behind `authenticate()`. The TokenManager renews when it drops below its threshold.
 */
export const TOKEN_EXPIRES_IN = 'Token-Expires-In';
