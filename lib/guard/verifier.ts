// The contract between the guard middleware and its two modes: local (shared store) and remote (RFC 7662).
import type { TokenRejection } from '../core/rejection';
import type { ScopeRecord } from '../store/store';
import type { AccessTokenClaims } from '../tokens/access-token';
import type { Presentation } from './dpop-presentation';

/** Registry facts about a token, as the authorization server answered them at introspection. */
export interface RegistryFacts {
  /** The tenant's localUserMode, present when the token carries `local_user`. */
  localUserMode?: boolean;
  /** The user's current roles, present for user tokens whose user exists. */
  roles?: string[];
  /** Definitions of the token's registered scopes. */
  scopes: ScopeRecord[];
}

/** A token that verified and is live now. */
export interface VerifiedToken {
  claims: AccessTokenClaims;
  /** Token scope ∩ the grant's stored scope: what service scopes and role checks look at. */
  scopes: string[];
  /** Effective expiry, epoch seconds. */
  expiresAt: number;
  /** The device session's idle deadline after this use (device-bound tokens, local mode). */
  deviceDeadline?: number;
  /** Remote mode only: facts the guard would otherwise read from the store. */
  registry?: RegistryFacts;
}

/** How a guard checks tokens and reads the registry; one implementation per mode. */
export interface Verifier {
  /**
   * The verified, live token, presented as `presentation` says (a DPoP-bound token with a proof of
   * its key, spent once), or why it is not (→ 401). Throws when it cannot tell (→ 503), or when
   * the guard is misconfigured (→ 500).
   */
  verify(token: string, presentation: Presentation): Promise<VerifiedToken | TokenRejection>;
  /** The token's tenant's localUserMode now. */
  localUserMode(token: VerifiedToken): Promise<boolean>;
  /** The token user's roles now; undefined for client tokens and unknown users. */
  roles(token: VerifiedToken): Promise<string[] | undefined>;
  /** Definitions of the token's scopes that are registered. */
  scopeDefinitions(token: VerifiedToken): Promise<ScopeRecord[]>;
  /** Names of the registered scopes naming `service`, when known (for the challenge's `scope`). */
  scopesForService(service: string, token: VerifiedToken): Promise<string[]>;
}
