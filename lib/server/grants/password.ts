// Resource owner password credentials grant (RFC 6749 §4.3): first-party clients only, rate limited.
import { DEVICE_ID } from '../../core/ids';
import { invalidRequest, OAuthError } from '../../errors';
import { DUMMY_HASH, verifySecret } from '../../tokens/secrets';
import { issueNewGrant } from '../issue';
import { optional, required } from '../params';
import { grantScope, parseScope } from '../scope';
import type { Grant } from './grant';

export const passwordGrant: Grant = {
  type: 'password',
  allowsPublicClients: true,
  async handle({ ctx, params, client }) {
    const username = required(params, 'username', 256);
    const password = required(params, 'password', 1024);
    const deviceId = optional(params, 'device_id', 512);
    if (deviceId !== undefined && !DEVICE_ID.test(deviceId)) {
      throw invalidRequest('device_id must be 1-128 characters of A-Z a-z 0-9 . _ : -');
    }
    const scope = grantScope(parseScope(optional(params, 'scope')), client.scopes);
    const user = await ctx.store.getUser(client.tenantId, username);
    // Unknown users cost the same scrypt as wrong passwords and get the same answer (no enumeration).
    const ok = await verifySecret(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !ok) {
      ctx.events.emit('password.failed', {
        clientId: client.id,
        tenantId: client.tenantId,
        username,
      });
      throw new OAuthError('invalid_grant', 'invalid username or password');
    }
    return issueNewGrant(ctx, {
      client,
      grantType: 'password',
      subject: user.username,
      scope,
      ...(deviceId !== undefined ? { deviceId } : {}),
      withRefresh: client.grants.includes('refresh_token'),
    });
  },
};
