// client_credentials grant (RFC 6749 §4.4), with the optional local_user a client may assert for its tenant.
import { invalidRequest, OAuthError } from '../../errors';
import { issueNewGrant } from '../issue';
import { optional } from '../params';
import { grantScope, parseScope } from '../scope';
import type { Grant } from './grant';

/** 1–128 characters, no control characters (the local user a client asserts). */
const LOCAL_USER = /^[^\p{Cc}]{1,128}$/u;

export const clientCredentialsGrant: Grant = {
  type: 'client_credentials',
  allowsPublicClients: false,
  async handle({ ctx, params, client }) {
    const localUser = optional(params, 'local_user', 512);
    if (localUser !== undefined) {
      if (!LOCAL_USER.test(localUser)) throw invalidRequest('local_user must be 1-128 characters');
      if (!client.localUsers)
        throw new OAuthError('unauthorized_client', 'client may not send local_user');
    }
    const scope = grantScope(parseScope(optional(params, 'scope')), client.scopes);
    return issueNewGrant(ctx, {
      client,
      grantType: 'client_credentials',
      subject: client.id,
      scope,
      ...(localUser !== undefined ? { localUser } : {}),
      withRefresh: client.clientCredentialsRefresh,
    });
  },
};
