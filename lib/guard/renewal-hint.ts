// The renewal hint: every response behind authenticate() says how long the presented token has left,
// so a client renews before expiry without decoding the token (and learns of device-session deadlines).
import type { Response } from 'express';
import { TOKEN_EXPIRES_IN } from '../core/headers';
import { exposeHeader } from '../http/expose-header';

/** Set `Token-Expires-In` to the whole seconds until `expiresAt` (epoch seconds), exposed to CORS callers. */
export function setRenewalHint(res: Response, expiresAt: number, now: number): void {
  res.setHeader(TOKEN_EXPIRES_IN, String(Math.max(0, expiresAt - now)));
  exposeHeader(res, TOKEN_EXPIRES_IN);
}
