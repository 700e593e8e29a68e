// authorization_code grant (RFC 6749 §4.1.3, PKCE per RFC 7636 §4.5-4.6): redeem a code the
// authorization endpoint sealed; its grant id makes it single-use (a replay revokes what it issued).
import { createHash, timingSafeEqual } from 'node:crypto';
import { invalidRequest, OAuthError } from '../../errors';
import { issueNewGrant } from '../issue';
import { optional, required } from '../params';
import type { Grant } from './grant';

/** RFC 7636 §4.1: 43-128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~". */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

const invalidCode = (why: string) => new OAuthError('invalid_grant', why);

/** RFC 7636 §4.6: BASE64URL(SHA256(verifier)) equals the challenge, compared in constant time. */
function pkceMatches(verifier: string, challenge: string): boolean {
  const computed = Buffer.from(createHash('sha256').update(verifier).digest('base64url'));
  const expected = Buffer.from(challenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

export const authorizationCodeGrant: Grant = {
  type: 'authorization_code',
  allowsPublicClients: true,
  async handle({ ctx, params, client, clientGeneration, proof }) {
    const code = required(params, 'code', 4096);
    const redirectUri = required(params, 'redirect_uri', 2048);
    const verifier = required(params, 'code_verifier', 128);
    if (!VERIFIER.test(verifier))
      throw invalidRequest('code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~');
    const sealer = ctx.config.authorize?.codes;
    const content = sealer?.open(code);
    // One answer for every bad code: a client learns nothing about codes it did not get.
    if (!content) throw invalidCode('authorization code is not valid');
    if (content.expiresAt <= ctx.now()) throw invalidCode('authorization code has expired');
    // RFC 6749 §4.1.3: issued to this client, for this redirect URI.
    if (content.clientId !== client.id) throw invalidCode('authorization code is not valid');
    if (content.redirectUri !== redirectUri)
      throw invalidCode('redirect_uri is not the one of the authorization request');
    if (!pkceMatches(verifier, content.challenge))
      throw invalidCode('code_verifier does not match the code challenge');
    // RFC 9449 §10: a code bound to a key (dpop_jkt) is redeemed only with a proof of it.
    if (content.jkt !== undefined && proof?.jkt !== content.jkt)
      throw invalidCode('the authorization request bound the code to another DPoP key (dpop_jkt)');
    // The client may have lost scopes (or its tenant) since the code was issued.
    if (content.tenantId !== client.tenantId) throw invalidCode('authorization code is not valid');
    // RFC 8707 §2.2: a resource named here must be the one the code was issued for.
    const resource = optional(params, 'resource', 2048);
    if (resource !== undefined && resource !== content.resource)
      throw new OAuthError(
        'invalid_target',
        'resource is not the one of the authorization request',
      );
    const scope = content.scope
      .split(' ')
      .filter((s) => s !== '' && client.scopes.includes(s))
      .join(' ');
    return issueNewGrant(ctx, {
      client,
      clientGeneration,
      userGeneration: content.generation,
      grantType: 'authorization_code',
      subject: content.username,
      scope,
      ...(content.deviceId !== undefined ? { deviceId: content.deviceId } : {}),
      withRefresh: client.grants.includes('refresh_token'),
      codeGrantId: content.grantId,
      ...(proof ? { jkt: proof.jkt } : {}),
      ...(content.resource !== undefined ? { resource: content.resource } : {}),
    });
  },
};
