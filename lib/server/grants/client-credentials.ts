// client_credentials grant (RFC 6749 §4.4), with the optional local_user a client may assert for its tenant.
import { splitScope } from '../../core/ids';
import { invalidRequest, OAuthError } from '../../errors';
import { issueNewGrant } from '../issue';
import { optional } from '../params';
import { resolveResource } from '../resource';
import { grantScope, parseScope } from '../scope';
import type { Grant } from './grant';

/**
 * The local user a client asserts: 1–128 characters (code points), no control or format
 * characters (`\p{Cc}`, `\p{Cf}`: no bidi overrides, zero-width joiners or BOMs that make two
 * different ids look alike), no leading or trailing white space.
 */
const LOCAL_USER = /^(?!\s)[^\p{Cc}\p{Cf}]{1,128}(?<!\s)$/u;

/**
 * Is `s` a valid local user? It must also already be in NFC: the server does not normalise it (the
 * token carries what was sent), so a name that would change under normalisation is refused rather
 * than standing beside its normalised twin as another identity.
 */
const isLocalUser = (s: string): boolean => LOCAL_USER.test(s) && s.normalize('NFC') === s;

export const clientCredentialsGrant: Grant = {
  type: 'client_credentials',
  allowsPublicClients: false,
  async handle({ ctx, params, client, clientGeneration, proof }) {
    const localUser = optional(params, 'local_user', 512);
    if (localUser !== undefined) {
      if (!isLocalUser(localUser))
        throw invalidRequest(
          'local_user must be 1-128 characters in NFC, without control or format characters or surrounding spaces',
        );
      if (!client.localUsers)
        throw new OAuthError('unauthorized_client', 'client may not send local_user');
    }
    const allowed = grantScope(parseScope(optional(params, 'scope')), client.scopes);
    // RFC 8707: a resource restricts the token's audience and its scopes to what it serves.
    const target = await resolveResource(ctx, params.resource, splitScope(allowed));
    return issueNewGrant(ctx, {
      client,
      clientGeneration,
      grantType: 'client_credentials',
      subject: client.id,
      scope: target.scopes.join(' '),
      ...(localUser !== undefined ? { localUser } : {}),
      ...(target.resource !== undefined ? { resource: target.resource } : {}),
      withRefresh: client.clientCredentialsRefresh,
      ...(proof ? { jkt: proof.jkt } : {}),
    });
  },
};
