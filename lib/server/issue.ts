// Token issuance shared by the grants: sign the access token, mint the refresh token, record the grant.

import { newGrantId } from '../core/grant-id';
import { isUserGrant } from '../core/grant-type';
import { OAuthError } from '../errors';
import { grantHorizon } from '../store/ledger';
import type { ClientRecord, GrantRecord, IssuedTokens } from '../store/store';
import { type AccessTokenClaims, signAccessToken } from '../tokens/access-token';
import { pooledRandomId } from '../tokens/random-pool';
import { newRefreshToken } from '../tokens/refresh-token';
import type { ServerContext } from './context';

/** The token endpoint's success body (RFC 6749 §5.1); `DPoP` for a token bound to a key (RFC 9449 §5). */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  refresh_token?: string;
  scope: string;
}

export interface IssueRequest {
  client: ClientRecord;
  /** The client's grant-ledger generation, read with its record. */
  clientGeneration: string;
  /** A user's grant: the user's grant-ledger generation, read before their record. */
  userGeneration?: string;
  grantType: GrantRecord['grantType'];
  subject: string;
  scope: string;
  localUser?: string;
  deviceId?: string;
  /** The registered resource (RFC 8707) the grant is for, from resolveResource (lib/server/resource.ts). */
  resource?: string;
  withRefresh: boolean;
  /**
   * The grant id an authorization code named (RFC 6749 §4.1): single use comes from it, since a
   * second redemption finds the grant created and revokes it instead.
   */
  codeGrantId?: string;
  /**
   * The thumbprint of the key the request proved possession of (RFC 9449): the access token is
   * bound to it, a public client's refresh-token family too, and a device session it starts.
   */
  jkt?: string;
}

/** Claims of an access token issued from `grant` with `scope`. */
export function accessClaims(
  ctx: ServerContext,
  grant: GrantRecord,
  scope: string,
  jti: string,
  now: number,
  jkt?: string,
): AccessTokenClaims {
  return {
    iss: ctx.config.issuer,
    sub: grant.subject,
    // RFC 8707: a grant for a registered resource is audience-restricted to it.
    aud: grant.resource ?? ctx.config.audience,
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
    // RFC 9449 §6.1: the key the token is bound to.
    ...(jkt !== undefined ? { cnf: { jkt } } : {}),
  };
}

/** RFC 9449 §5: the token_type of an access token bound (or not) to a key. */
export const tokenType = (jkt: string | undefined): TokenResponse['token_type'] =>
  jkt !== undefined ? 'DPoP' : 'Bearer';

/** Seconds the new access token is usable: its lifetime, or less when its device session ends first. */
export function expiresIn(ctx: ServerContext, now: number, deviceDeadline?: number): number {
  const ttl = ctx.config.accessTokenTtl;
  return deviceDeadline === undefined ? ttl : Math.max(0, Math.min(ttl, deviceDeadline - now));
}

/**
 * The client record a grant was authorized with is out of date: the client changed on some
 * instance since this one cached it. Nothing was issued; the token endpoint retries once.
 */
export class ClientChangedError extends Error {
  constructor(readonly clientId: string) {
    super('client record changed while a grant was being issued');
    this.name = 'ClientChangedError';
  }
}

/**
 * Start a new grant, whose refresh token (if any) is the family root: the grant and its entry in
 * the client's ledger are two writes sent together (one round trip). A user's grant is listed in
 * the user's ledger by the same write that stores it.
 */
export async function issueNewGrant(ctx: ServerContext, req: IssueRequest): Promise<TokenResponse> {
  const now = ctx.now();
  const { config } = ctx;
  // A user's grant carries the user's tag; a device-bound one joins its (user, device) session.
  const user = isUserGrant(req.grantType);
  const device = user && req.deviceId !== undefined;
  const grant: GrantRecord = {
    id:
      req.codeGrantId ??
      newGrantId(
        user ? { tenantId: req.client.tenantId, username: req.subject, device } : undefined,
      ),
    clientId: req.client.id,
    tenantId: req.client.tenantId,
    grantType: req.grantType,
    subject: req.subject,
    scope: req.scope,
    ...(req.localUser ? { localUser: req.localUser } : {}),
    ...(req.deviceId ? { deviceId: req.deviceId } : {}),
    ...(req.resource ? { resource: req.resource } : {}),
    // RFC 9449 §5: a public client's refresh tokens are bound to its key (a confidential client's
    // are bound to its own authentication already).
    ...(req.jkt !== undefined && req.client.secretHash === undefined ? { jkt: req.jkt } : {}),
    createdAt: now,
    maxExpiresAt: now + config.refreshTokenMaxAge,
  };
  const jti = pooledRandomId(16);
  const access = await signAccessToken(
    accessClaims(ctx, grant, req.scope, jti, now, req.jkt),
    ctx.keys,
  );
  const refresh = req.withRefresh ? newRefreshToken(grant.id) : undefined;
  const tokens: IssuedTokens = {
    jti,
    accessExpiresAt: now + config.accessTokenTtl,
    ...(refresh
      ? { refresh: { hash: refresh.hash, expiresAt: now + config.refreshTokenTtl } }
      : {}),
  };
  const until = grantHorizon(grant, tokens);
  const [created, listed] = await Promise.all([
    ctx.store.createGrant(
      grant,
      tokens,
      device
        ? {
            idleTtl: config.deviceIdleTtl,
            maxAge: config.deviceSessionMaxAge,
            candidateId: pooledRandomId(16),
            now,
            ...(req.jkt !== undefined ? { jkt: req.jkt } : {}),
          }
        : undefined,
      user ? { generation: req.userGeneration ?? '', until } : undefined,
      req.codeGrantId !== undefined ? { authorizationCode: true } : undefined,
    ),
    ctx.store.addClientGrant(
      grant.clientId,
      grant.id,
      { generation: req.clientGeneration, until },
      now,
    ),
  ]);
  if (!listed) {
    // Not in the client's ledger, so its grants could not be ended together: it must not live.
    if (!created.refused) await ctx.store.revokeGrant(grant.id, now);
    throw new ClientChangedError(grant.clientId);
  }
  // The client's grants were ended while this one was on its way.
  if (created.refused === 'revoked') throw new ClientChangedError(grant.clientId);
  // The code was redeemed before: what it issued is revoked now (RFC 6749 §4.1.2).
  if (created.refused === 'replayed') {
    ctx.events.emit('family.revoked', { grantId: grant.id, by: 'reuse', clientId: grant.clientId });
    throw new OAuthError('invalid_grant', 'authorization code was already used');
  }
  // The user's grants were ended (deleted, password changed) after their password was checked.
  if (created.refused === 'stale')
    throw new OAuthError(
      'invalid_grant',
      req.codeGrantId !== undefined
        ? 'authorization code is no longer valid'
        : 'invalid username or password',
    );
  // RFC 9449: the device's live session was started with another key (or none): this request
  // does not prove it is that device.
  if (created.refused === 'device_key')
    throw new OAuthError(
      'invalid_grant',
      "the device's session is bound to another DPoP key: sign in with that key, or end the session",
    );
  const { deviceDeadline } = created;
  // The payload is built only when somebody listens: this runs for every token issued.
  if (ctx.events.wants('token.issued'))
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
    token_type: tokenType(req.jkt),
    expires_in: expiresIn(ctx, now, deviceDeadline),
    ...(refresh ? { refresh_token: refresh.token } : {}),
    scope: req.scope,
  };
}
