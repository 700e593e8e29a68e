// Token endpoint (RFC 6749 §3.2): client authentication, then the grant named by grant_type.
import type { RequestHandler } from 'express';
import { invalidRequest, OAuthError } from '../errors';
import { authenticateClient } from './client-auth';
import type { ServerContext } from './context';
import { TokenRequestProofs } from './dpop';
import { findGrant } from './grants';
import { ClientChangedError, type TokenResponse } from './issue';
import { readParams, sendJson } from './params';
import { clientIp } from './rate-limit';

export function tokenEndpoint(ctx: ServerContext): RequestHandler {
  const proofs = new TokenRequestProofs(ctx);
  return async function tokenEndpoint(req, res) {
    proofs.offerNonce(res);
    const params = readParams(req);
    const grantType = params.grant_type;
    if (grantType === undefined) throw invalidRequest('missing parameter grant_type');
    const grant = findGrant(grantType);
    // Codes exist only where the authorization endpoint issues them (the `authorize` option).
    if (!grant || (grant.type === 'authorization_code' && !ctx.config.authorize))
      throw new OAuthError('unsupported_grant_type', 'grant_type is not supported');
    // RFC 9449 §5: a proof binds what is issued to its key; checked before the client, so a bad
    // proof costs no secret check.
    const proof = proofs.read(req);
    const authorizeAndIssue = async () => {
      const { client, generation } = await authenticateClient(
        ctx,
        req,
        params,
        grant.allowsPublicClients,
        'token',
      );
      if (!client.grants.includes(grant.type)) {
        throw new OAuthError('unauthorized_client', 'client is not allowed to use this grant_type');
      }
      if (client.dpop === 'required' && !proof)
        throw new OAuthError('invalid_dpop_proof', 'this client must send a DPoP proof (RFC 9449)');
      return grant.handle({
        ctx,
        // Read only by grants that count failures by address: most requests never ask for it.
        get ip() {
          return clientIp(req);
        },
        params,
        client,
        clientGeneration: generation,
        ...(proof ? { proof } : {}),
      });
    };
    let body: TokenResponse;
    try {
      body = await authorizeAndIssue();
    } catch (err) {
      if (!(err instanceof ClientChangedError)) throw err;
      // The cached client record was out of date: authorize again against the stored one, once.
      ctx.clients.forget(err.clientId);
      body = await authorizeAndIssue().catch((again) => {
        // Changed again at once: its grants are being ended; authenticate it no further.
        throw again instanceof ClientChangedError
          ? new OAuthError('invalid_client', 'client authentication failed', 401)
          : again;
      });
    }
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    sendJson(res, body);
  };
}
