// Token issuance shared by the grants: sign the access token, mint the refresh token, record the grant.

import { newGrantId } from '../core/grant-id';
import type { ClientRecord, GrantRecord } from '../store/store';
import { type AccessTokenClaims, signAccessToken } from '../tokens/access-token';
import { newRefreshToken } from '../tokens/refresh-token';
import { randomId } from '../tokens/secrets';
import type { ServerContext } from './context';

/** The token endpoint's success body (RFC 6749 §5.1). */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token?: string;
  scope: string;
}

export interface IssueRequest {
  client: ClientRecord;
  grantType: GrantRecord['grantType'];
  subject: string;
  scope: string;
  localUser?: string;
  deviceId?: string;
  withRefresh: boolean;
}

/** Claims of an access token issued from `grant` with `scope`. */
export function accessClaims(
  ctx: ServerContext,
  grant: GrantRecord,
  scope: string,
  jti: string,
  now: number,
): AccessTokenClaims {
  return {
    iss: ctx.config.issuer,
    sub: grant.subject,
    aud: ctx.config.audience,
    exp: now + ctx.config.accessTokenTtl,
    iat: now,
    jti,
    client_id: grant.clientId,
    scope,
    tenant_id: grant.tenantId,
    gid: grant.id,
    gty: grant.grantType,
    ...(grant.deviceId ? { device_id: grant.deviceId } : {}),
    ...(grant.localUser ? { local_user: grant.localUser } : {}),
  };
}

/** Seconds the new access token is usable: its lifetime, or less when its device session ends first. */
export function expiresIn(ctx: ServerContext, now: number, deviceDeadline?: number): number {
  const ttl = ctx.config.accessTokenTtl;
  return deviceDeadline === undefined ? ttl : Math.max(0, Math.min(ttl, deviceDeadline - now));
}

/** Start a new grant: one store write, whose refresh token (if any) is the family root. */
export async function issueNewGrant(ctx: ServerContext, req: IssueRequest): Promise<TokenResponse> {
  const now = ctx.now();
  const { config } = ctx;
  // A device-bound user grant joins its (user, device) session; its id carries the user's tag.
  const device = req.grantType === 'password' && req.deviceId !== undefined;
  const grant: GrantRecord = {
    id: newGrantId(device ? { tenantId: req.client.tenantId, username: req.subject } : undefined),
    clientId: req.client.id,
    tenantId: req.client.tenantId,
    grantType: req.grantType,
    subject: req.subject,
    scope: req.scope,
    ...(req.localUser ? { localUser: req.localUser } : {}),
    ...(req.deviceId ? { deviceId: req.deviceId } : {}),
    createdAt: now,
    maxExpiresAt: now + config.refreshTokenMaxAge,
  };
  const jti = randomId(16);
  const access = await signAccessToken(accessClaims(ctx, grant, req.scope, jti, now), ctx.keys);
  const refresh = req.withRefresh ? newRefreshToken(grant.id) : undefined;
  const { deviceDeadline } = await ctx.store.createGrant(
    grant,
    {
      jti,
      accessExpiresAt: now + config.accessTokenTtl,
      ...(refresh
        ? { refresh: { hash: refresh.hash, expiresAt: now + config.refreshTokenTtl } }
        : {}),
    },
    device
      ? {
          idleTtl: config.deviceIdleTtl,
          maxAge: config.deviceSessionMaxAge,
          candidateId: randomId(16),
          now,
        }
      : undefined,
  );
  ctx.events.emit('token.issued', {
    grantType: grant.grantType,
    clientId: grant.clientId,
    tenantId: grant.tenantId,
    subject: grant.subject,
    grantId: grant.id,
    jti,
    scope: req.scope,
    refreshToken: refresh !== undefined,
    ...(grant.deviceId ? { deviceId: grant.deviceId } : {}),
    ...(grant.localUser ? { localUser: grant.localUser } : {}),
  });
  return {
    access_token: access,
    token_type: 'Bearer',
    expires_in: expiresIn(ctx, now, deviceDeadline),
    ...(refresh ? { refresh_token: refresh.token } : {}),
    scope: req.scope,
  };
}
