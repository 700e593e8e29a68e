// Introspection endpoint (RFC 7662 §2.1): an authenticated client allowed to introspect asks about a token.
import type { RequestHandler } from 'express';
import { OAuthError } from '../errors';
import { authenticateClient } from './client-auth';
import type { ServerContext } from './context';
import { introspect } from './introspection';
import { readParams, required, sendJson } from './params';

export function introspectionEndpoint(ctx: ServerContext): RequestHandler {
  return async function introspectionEndpoint(req, res) {
    const params = readParams(req);
    const { client } = await authenticateClient(ctx, req, params, false, 'introspection');
    if (!client.introspect)
      throw new OAuthError('unauthorized_client', 'client is not allowed to introspect', 403);
    const token = required(params, 'token', 8192);
    const answer = await introspect(ctx, token, client);
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, answer);
  };
}
