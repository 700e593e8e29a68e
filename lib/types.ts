// Request-side types: the authenticated context a guard puts on `req.auth`, and the Express augmentation.
import type { AccessTokenClaims } from './tokens/access-token';

/**
 * Who a request acts for (tenants and local users): the tenant's local user when the tenant's `localUserMode` is on
 * and the token carries `local_user`; otherwise the user of a user token or the client of a client token.
 */
export type Identity =
  /** `clientId`: the client that asserted the local user (a local user is only as trusted as it). */
  | { kind: 'local_user'; id: string; tenantId: string; clientId: string }
  | { kind: 'user'; id: string; tenantId: string }
  | { kind: 'client'; id: string; tenantId: string };

/** What `guard.authenticate()` sets on `req.auth`. */
export interface AuthContext {
  /** The bearer token as presented. */
  token: string;
  /** Its verified claims (RFC 9068 §2.2). */
  claims: AccessTokenClaims;
  clientId: string;
  /** `sub`: the username for user tokens, the client id for client tokens. */
  subject: string;
  tenantId: string;
  localUser?: string;
  deviceId?: string;
  /** Scopes the token holds now: its own scope as presented, intersected with the grant's stored scope. */
  scopes: string[];
  /** Effective expiry, epoch seconds: the earlier of the JWT `exp` and any live-state deadline. */
  expiresAt: number;
  /** Set by `guard.resolveIdentity()`. */
  identity?: Identity;
}

declare global {
  namespace Express {
    interface Request {
      /** Set by tokenward's `guard.authenticate()`. */
      auth?: AuthContext;
    }
  }
}
