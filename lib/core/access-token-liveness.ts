// "Is this access token live?" — the one rule introspection and both guard modes apply to a token
// whose signature already verified, given the live state the store holds for its grant.
import { splitScope } from './ids';
import { quoted, TokenRejection } from './rejection';

/** The claims the rule compares (RFC 9068 §2.2 names). */
export interface LivenessClaims {
  client_id: string;
  tenant_id: string;
  sub: string;
  scope: string;
  exp: number;
  /** The local user a client asserted (tenants and local users). */
  local_user?: string;
  /** The device the token is bound to (device sessions). */
  device_id?: string;
}

/** What the store says about the token's grant now (a structural view of the store's AccessTokenState). */
export interface LivenessState {
  grant?: {
    clientId: string;
    tenantId: string;
    subject: string;
    scope: string;
    localUser?: string;
    deviceId?: string;
  };
  /** The family, or this access token alone, was revoked. */
  revoked: boolean;
  /** The device session's idle deadline (epoch seconds), for tokens bound to one. */
  deviceDeadline?: number;
}

/** A live token: what it may do now and until when. */
export interface Liveness {
  /** The token's scope as presented, intersected with its grant's scope as stored now. */
  scopes: string[];
  /** Effective expiry (epoch seconds): the earlier of `exp` and the device session's deadline. */
  expiresAt: number;
  /** The device session's deadline after this use, for device-bound tokens. */
  deviceDeadline?: number;
}

/**
 * Optional values compared with an empty string standing for absent, as the store writes them.
 * Anything else (a forged non-string claim included) must match exactly.
 */
const same = (grant: string | undefined, claim: unknown): boolean =>
  (grant === '' ? undefined : grant) === (claim === '' ? undefined : claim);

/**
 * The token's liveness, or undefined when it is dead: its grant is gone or revoked, the token was
 * revoked, its grant was issued to another client, tenant, subject, local user or device, or its
 * device session ended.
 */
export function accessTokenLiveness(
  claims: LivenessClaims,
  state: LivenessState,
  now: number,
): Liveness | undefined {
  const g = state.grant;
  if (
    !g ||
    state.revoked ||
    g.clientId !== claims.client_id ||
    g.tenantId !== claims.tenant_id ||
    g.subject !== claims.sub ||
    // A token carrying a local user or device its grant does not (or the other way round) was not
    // issued for that grant, whatever key signed it: absent on one side only is a mismatch.
    !same(g.localUser, claims.local_user) ||
    !same(g.deviceId, claims.device_id)
  )
    return undefined;
  const deadline = state.deviceDeadline;
  if (deadline !== undefined && deadline <= now) return undefined;
  const granted = splitScope(g.scope);
  return {
    scopes: splitScope(claims.scope).filter((s) => granted.includes(s)),
    expiresAt: deadline === undefined ? claims.exp : Math.min(claims.exp, deadline),
    ...(deadline !== undefined ? { deviceDeadline: deadline } : {}),
  };
}

/**
 * Why {@link accessTokenLiveness} found the token dead, for the operator. Called only on that path,
 * so the live path pays nothing for it.
 */
export function whyDead(claims: LivenessClaims, state: LivenessState, now: number): TokenRejection {
  const g = state.grant;
  if (!g)
    return new TokenRejection(
      'unknown_grant',
      'the store holds no grant for this token: it ended and expired, or this verifier reads another store or key prefix than the authorization server',
    );
  if (state.revoked)
    return new TokenRejection('revoked', 'the token or its refresh-token family was revoked');
  if (g.tenantId !== claims.tenant_id)
    return new TokenRejection(
      'wrong_tenant',
      `the token names tenant ${quoted(claims.tenant_id)}; its grant belongs to another`,
    );
  const mismatch =
    g.clientId !== claims.client_id
      ? 'client'
      : g.subject !== claims.sub
        ? 'subject'
        : !same(g.localUser, claims.local_user)
          ? 'local user'
          : !same(g.deviceId, claims.device_id)
            ? 'device'
            : undefined;
  if (mismatch)
    return new TokenRejection(
      'grant_mismatch',
      `the token's ${mismatch} is not its grant's: it was not issued for that grant`,
    );
  const deadline = state.deviceDeadline;
  if (deadline !== undefined && deadline <= now)
    return new TokenRejection(
      'device_session_ended',
      `its device session ended at ${new Date(deadline * 1000).toISOString()}`,
    );
  return new TokenRejection('revoked', 'the token is not live');
}
