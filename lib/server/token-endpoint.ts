// Token endpoint (RFC 6749 §3.2): client authentication, then the grant named by grant_type.
import type { RequestHandler } from 'express';
import { invalidRequest, OAuthError } from '../errors';
import { authenticateClient } from './client-auth';
import type { ServerContext } from './context';
import { findGrant } from './grants';
import { readParams } from './params';

export function tokenEndpoint(ctx: ServerContext): RequestHandler {
  return async function tokenEndpoint(req, res) {
    const params = readParams(req);
    const grantType = params.grant_type;
    if (grantType === undefined) throw invalidRequest('missing parameter grant_type');
    const grant = findGrant(grantType);
    if (!grant) throw new OAuthError('unsupported_grant_type', 'grant_type is not supported');
    const { client } = await authenticateClient(
      ctx,
      req,
      params,
      grant.allowsPublicClients,
      'token',
    );
    if (!client.grants.includes(grant.type)) {
      throw new OAuthError('unauthorized_client', 'client is not allowed to use this grant_type');
    }
    const body = await grant.handle({ ctx, params, client });
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    res.json(body);
  };
}
