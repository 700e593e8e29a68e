// refresh_token grant (RFC 6749 §6): atomic rotation within the family, reuse detection (RFC 9700 §4.14.2).
import { isDeviceGrant } from '../../core/grant-id';
import { OAuthError, StoreUnavailableError } from '../../errors';
import type { RotateInput, RotateResult } from '../../store/store';
import { signAccessToken } from '../../tokens/access-token';
import { nextRefreshToken, parseRefreshToken } from '../../tokens/refresh-token';
import { randomId } from '../../tokens/secrets';
import { accessClaims, expiresIn, tokenType } from '../issue';
import { optional, required } from '../params';
import { refreshResource } from '../resource';
import { parseScope } from '../scope';
import type { Grant, GrantInput } from './grant';

const REASONS = {
  not_found: 'refresh token is not valid',
  revoked: 'refresh token has been revoked',
  expired: 'refresh token has expired, or its device session has ended',
  reused: 'refresh token was already used; the token family has been revoked',
  client_mismatch: 'refresh token was not issued to this client',
  invalid_target: "a refresh keeps its family's resource: name the same resource, or none",
  key_mismatch:
    'refresh token is bound to a DPoP key (RFC 9449 §5): send a proof made with that key',
} as const;

/**
 * Rotate, and when the store times out (503 to the client) abandon the rotation: if it took or
 * takes effect anyway, the client's retry with the same token is not treated as reuse.
 */
async function rotate(
  ctx: GrantInput['ctx'],
  presented: { grantId: string; hash: string },
  nextHash: string,
  input: Omit<RotateInput, 'grantId' | 'presentedHash'>,
): Promise<RotateResult> {
  try {
    return await ctx.store.rotateRefreshToken({
      ...input,
      grantId: presented.grantId,
      presentedHash: presented.hash,
    });
  } catch (err) {
    if (err instanceof StoreUnavailableError) {
      ctx.store.abandonRotation(presented.grantId, presented.hash, nextHash).catch(() => {});
    }
    throw err;
  }
}

export const refreshTokenGrant: Grant = {
  type: 'refresh_token',
  allowsPublicClients: true,
  async handle({ ctx, ip, params, client, proof }) {
    const presented = required(params, 'refresh_token', 256);
    const requested = parseScope(optional(params, 'scope'));
    // RFC 8707 §2: a family's audience never changes; the store compares it with the rotation.
    const resource = refreshResource(params.resource);
    // Failed refreshes count against the IP; a family's budget is spent only by its rotations
    // (the family id is public: access tokens carry it). Both refusals are known to this
    // instance from its own counts, so a refresh reads no counter (see RateLimits).
    const limits = ctx.limits;
    limits?.assertNotKnownOver('refresh_ip', ip);
    const parsed = parseRefreshToken(presented);
    if (!parsed) {
      await limits?.add('refresh_ip', ip);
      throw new OAuthError('invalid_grant', REASONS.not_found);
    }
    limits?.assertNotKnownOver('refresh_family', parsed.grantId);
    await ctx.keys.signingKey(); // keys loaded before the rotation commits, so signing cannot fail after it
    const now = ctx.now();
    const { config } = ctx;
    // The next generation of the family, with the family secret the presented token carries.
    const next = nextRefreshToken(parsed);
    const jti = randomId(16);
    const result = await rotate(ctx, parsed, next.hash, {
      clientId: client.id,
      now,
      requestedScope: requested?.join(' ') ?? '',
      // The family keeps only what the client may still be issued.
      clientScope: client.scopes.join(' '),
      ...(resource !== undefined ? { resource } : {}),
      ...(proof ? { jkt: proof.jkt } : {}),
      leewaySeconds: config.refreshReuseLeewaySeconds,
      next: {
        jti,
        accessExpiresAt: now + config.accessTokenTtl,
        refresh: {
          hash: next.hash,
          expiresAt: Math.min(now + config.refreshTokenTtl, now + config.refreshTokenMaxAge),
        },
      },
    });
    if (!result.ok) {
      await limits?.add('refresh_ip', ip);
      if (result.reason === 'reused') {
        ctx.events.emit('refresh.reused', { clientId: client.id, grantId: parsed.grantId });
        ctx.config.logger.warn?.(
          { clientId: client.id, grantId: parsed.grantId },
          'refresh token reuse: family revoked',
        );
        ctx.events.emit('family.revoked', {
          grantId: parsed.grantId,
          by: 'reuse',
          clientId: client.id,
        });
      } else if (result.reason === 'expired' && isDeviceGrant(parsed.grantId)) {
        // Device-bound grant: an ended device session is the usual cause.
        ctx.events.emit('device_session.expired', { clientId: client.id, grantId: parsed.grantId });
      }
      if (result.reason === 'invalid_scope') {
        throw new OAuthError(
          'invalid_scope',
          'requested scope exceeds the scope originally granted',
        );
      }
      if (result.reason === 'invalid_target')
        throw new OAuthError('invalid_target', REASONS.invalid_target);
      throw new OAuthError('invalid_grant', REASONS[result.reason]);
    }
    const scope = requested?.join(' ') ?? result.grant.scope;
    ctx.events.emit('token.refreshed', {
      clientId: client.id,
      tenantId: result.grant.tenantId,
      subject: result.grant.subject,
      grantId: result.grant.id,
      jti,
      retried: result.retried,
      ...(result.grant.deviceId ? { deviceId: result.grant.deviceId } : {}),
    });
    // This rotation presented the family's current token: it spends the family's budget. Best
    // effort, alongside signing: the rotation has committed, so its answer must go out.
    const counted = limits?.add('refresh_family', parsed.grantId).catch(() => 0);
    const access = await signAccessToken(
      accessClaims(ctx, result.grant, scope, jti, now, proof?.jkt),
      ctx.keys,
    );
    await counted;
    return {
      access_token: access,
      token_type: tokenType(proof?.jkt),
      expires_in: expiresIn(ctx, now, result.deviceDeadline),
      refresh_token: next.token,
      scope,
    };
  },
};
