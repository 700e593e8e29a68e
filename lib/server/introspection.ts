// Introspection (RFC 7662 §2.2): what this server says about a token now — used by the endpoint and the admin API.

import { accessTokenLiveness } from '../core/access-token-liveness';
import { isUserGrant } from '../core/grant-type';
import { splitScope } from '../core/ids';
import { TokenRejection } from '../core/rejection';
import type { ClientRecord } from '../store/store';
import type { AccessTokenClaims } from '../tokens/access-token';
import { parseRefreshToken } from '../tokens/refresh-token';
import type { ServerContext } from './context';
import { isGrantAudience, issuedAudiences } from './resource';

/** RFC 7662 §2.2 response members tokenward fills, plus tenant_id, local_user and device_id. */
export interface IntrospectionResponse {
  active: boolean;
  scope?: string;
  client_id?: string;
  username?: string;
  token_type?: string;
  exp?: number;
  iat?: number;
  sub?: string;
  aud?: string;
  iss?: string;
  jti?: string;
  tenant_id?: string;
  local_user?: string;
  device_id?: string;
  /** RFC 9449 §6.2: the key a bound token (or refresh-token family) is bound to. */
  cnf?: { jkt: string };
  /** tokenward's extension (RFC 7662 §2.2): what a remote guard needs to resolve local users and check service scopes and roles now. */
  tokenward?: IntrospectionRegistryFacts;
}

/** Registry facts read at introspection time, so remote guards see changes within their cache bound. */
export interface IntrospectionRegistryFacts {
  /** The tenant's localUserMode; present when the token carries `local_user`. */
  local_user_mode?: boolean;
  /** The user's current roles; present for user tokens whose user exists. */
  roles?: string[];
  /** Definitions of the token's registered scopes. */
  scopes: { name: string; service?: string; role_check: boolean; roles: string[] }[];
}

const INACTIVE: IntrospectionResponse = Object.freeze({ active: false });

/** The client asking at the introspection endpoint: what it may learn about (RFC 7662 §4). */
export type Introspector = Pick<ClientRecord, 'id' | 'tenantId' | 'introspectAllTenants'>;

/** May `asker` learn about a token of `tenantId`? Everything, when nobody asks (the admin API). */
const seesTenant = (asker: Introspector | undefined, tenantId: string): boolean =>
  !asker || asker.introspectAllTenants === true || asker.tenantId === tenantId;

/**
 * The RFC 7662 answer for `token` as this server sees it now, told to `asker` (omitted: the admin
 * API, which sees every token). A client learns only about tokens of its own tenant, unless it is
 * registered with `introspectAllTenants`, and about refresh tokens issued to itself only; about
 * anything else it hears exactly `{"active":false}`, as about an unknown token (RFC 7662 §2.2, §4).
 */
export async function introspect(
  ctx: ServerContext,
  token: string,
  asker?: Introspector,
): Promise<IntrospectionResponse> {
  const now = ctx.now();
  const refresh = parseRefreshToken(token);
  if (refresh) {
    const state = await ctx.store.getRefreshTokenState(refresh.grantId, refresh.hash, now);
    if (!state?.active) return INACTIVE;
    const g = state.grant;
    // A refresh token is a credential of the client it was issued to: nobody else's business.
    if (asker && (g.clientId !== asker.id || !seesTenant(asker, g.tenantId))) return INACTIVE;
    return {
      active: true,
      scope: g.scope,
      client_id: g.clientId,
      ...(isUserGrant(g.grantType) ? { username: g.subject } : {}),
      token_type: 'refresh_token',
      exp: state.expiresAt,
      iat: g.createdAt,
      sub: g.subject,
      iss: ctx.config.issuer,
      tenant_id: g.tenantId,
      ...(g.localUser ? { local_user: g.localUser } : {}),
      ...(g.deviceId ? { device_id: g.deviceId } : {}),
      ...(g.jkt ? { cnf: { jkt: g.jkt } } : {}),
    };
  }
  // Our own audience or a resource's (RFC 8707); which one the grant decides, once read.
  const claims = await ctx.verified.claims(token, ctx.keys, {
    issuer: ctx.config.issuer,
    audience: issuedAudiences(ctx),
    clockTolerance: 0,
  });
  // Another tenant's token is answered before its state is read: the store is not asked for nothing.
  if (claims instanceof TokenRejection || !seesTenant(asker, claims.tenant_id)) return INACTIVE;
  // Live state and registry facts are read together: one round trip's wait, not several.
  const [state, tokenward] = await Promise.all([
    ctx.store.getAccessTokenState(claims.gid, claims.jti, now),
    registryFacts(ctx, claims),
  ]);
  const live = accessTokenLiveness(claims, state, now);
  if (!live || !isGrantAudience(ctx, state.grant, claims.aud)) return INACTIVE;
  return {
    active: true,
    scope: live.scopes.join(' '),
    client_id: claims.client_id,
    ...(isUserGrant(claims.gty) ? { username: claims.sub } : {}),
    // RFC 9449 §6.2: a bound token is a DPoP token, and says which key it is bound to.
    token_type: claims.cnf ? 'DPoP' : 'Bearer',
    ...(claims.cnf ? { cnf: { jkt: claims.cnf.jkt } } : {}),
    // The effective expiry: the device session's deadline when it comes first.
    exp: live.expiresAt,
    iat: claims.iat,
    sub: claims.sub,
    aud: claims.aud,
    iss: claims.iss,
    jti: claims.jti,
    tenant_id: claims.tenant_id,
    ...(claims.local_user ? { local_user: claims.local_user } : {}),
    ...(claims.device_id ? { device_id: claims.device_id } : {}),
    tokenward: {
      ...tokenward,
      scopes: tokenward.scopes.filter((d) => live.scopes.includes(d.name)),
    },
  };
}

async function registryFacts(
  ctx: ServerContext,
  claims: AccessTokenClaims,
): Promise<IntrospectionRegistryFacts> {
  const { store } = ctx;
  const [tenant, user, defs] = await Promise.all([
    claims.local_user !== undefined ? store.getTenant(claims.tenant_id) : undefined,
    isUserGrant(claims.gty) ? store.getUser(claims.tenant_id, claims.sub) : undefined,
    store.getScopes(splitScope(claims.scope)),
  ]);
  return {
    ...(claims.local_user !== undefined ? { local_user_mode: tenant?.localUserMode === true } : {}),
    ...(user ? { roles: user.roles } : {}),
    scopes: defs
      .filter((d) => d !== undefined)
      .map((d) => ({
        name: d.name,
        ...(d.service !== undefined ? { service: d.service } : {}),
        role_check: d.roleCheck,
        roles: d.roles,
      })),
  };
}
