// Revocation endpoint (RFC 7009): a refresh token revokes its whole family (and its device session if no other grant keeps it live); an access token itself.
import type { RequestHandler } from 'express';
import { invalidRequest } from '../errors';
import { verifyAccessToken } from '../tokens/access-token';
import { parseRefreshToken } from '../tokens/refresh-token';
import { authenticateClient } from './client-auth';
import type { ServerContext } from './context';
import { readParams, required } from './params';
import { publishChange } from './publish-change';
import { hasGrantAudience, issuedAudiences } from './resource';

const notYours = () => invalidRequest('token was not issued to this client');

export function revocationEndpoint(ctx: ServerContext): RequestHandler {
  return async function revocationEndpoint(req, res) {
    const params = readParams(req);
    const { client } = await authenticateClient(ctx, req, params, true, 'revocation');
    const token = required(params, 'token', 8192);
    // token_type_hint is only a hint (RFC 7009 §2.1): the token's shape tells us its type.
    const refresh = parseRefreshToken(token);
    if (refresh) {
      const result = await ctx.store.revokeByRefreshToken(
        refresh.grantId,
        refresh.hash,
        client.id,
        ctx.now(),
      );
      if (result === 'client_mismatch') throw notYours();
      // `revoked_session_ended`: the family was its device session's last live grant (the app
      // signing out was the last one signed in on the device), so the session ended with it.
      if (result === 'revoked' || result === 'revoked_session_ended')
        ctx.events.emit('family.revoked', {
          grantId: refresh.grantId,
          by: 'revocation',
          clientId: client.id,
        });
      if (result === 'revoked_session_ended')
        ctx.events.emit('device_session.ended', {
          clientId: client.id,
          grantId: refresh.grantId,
          reason: 'last_grant_revoked',
        });
      // Also when it was revoked before: a retry after a failed publish must still reach guards.
      if (result !== 'not_found')
        await publishChange(ctx, {
          type: 'grant.revoked',
          grantId: refresh.grantId,
          tenantId: client.tenantId,
        });
    } else {
      const claims = await verifyAccessToken(
        token,
        ctx.keys,
        {
          issuer: ctx.config.issuer,
          // Our audience, or a resource's (RFC 8707) — then its grant must be for that resource.
          audience: issuedAudiences(ctx),
          clockTolerance: ctx.config.clockTolerance,
        },
        ctx.now,
      );
      if (claims && (await hasGrantAudience(ctx, claims))) {
        if (claims.client_id !== client.id) throw notYours();
        await ctx.store.revokeAccessToken(claims.gid, claims.jti, ctx.now());
        ctx.events.emit('access_token.revoked', {
          grantId: claims.gid,
          jti: claims.jti,
          by: 'revocation',
        });
        await publishChange(ctx, {
          type: 'access_token.revoked',
          grantId: claims.gid,
          jti: claims.jti,
          tenantId: claims.tenant_id,
        });
      }
    }
    // Unknown, expired and already revoked tokens all answer 200 (RFC 7009 §2.2).
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).end();
  };
}
