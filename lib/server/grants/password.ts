// Resource owner password credentials grant (RFC 6749 §4.3): first-party clients only, rate limited.
import { DEVICE_ID } from '../../core/ids';
import { invalidRequest, OAuthError } from '../../errors';
import type { UserRecord } from '../../store/store';
import { dummyHash, verifySecret } from '../../tokens/secrets';
import type { ServerContext } from '../context';
import { issueNewGrant } from '../issue';
import { optional, required } from '../params';
import { usernameKey } from '../rate-limit';
import { grantScope, parseScope } from '../scope';
import type { Grant } from './grant';

/**
 * Re-hash a password verified against a hash made at a lower scrypt cost, and store it only if the
 * stored hash is still the verified one (a password changed meanwhile is never overwritten). Best
 * effort: a busy hashing queue or a store error leaves the old hash for the next sign-in.
 */
async function upgradeHash(ctx: ServerContext, user: UserRecord, password: string): Promise<void> {
  if (!ctx.hashing.needsRehash(user.passwordHash)) return;
  try {
    const next = await ctx.hashing.hash(password);
    await ctx.store.upgradePasswordHash(user.tenantId, user.username, user.passwordHash, next);
  } catch (err) {
    ctx.config.logger.warn?.(
      { tenantId: user.tenantId, err: (err as Error).message },
      'password hash upgrade skipped',
    );
  }
}

export const passwordGrant: Grant = {
  type: 'password',
  allowsPublicClients: true,
  async handle({ ctx, ip, params, client, clientGeneration }) {
    const username = required(params, 'username', 256);
    const password = required(params, 'password', 1024);
    const deviceId = optional(params, 'device_id', 512);
    if (deviceId !== undefined && !DEVICE_ID.test(deviceId)) {
      throw invalidRequest('device_id must be 1-128 characters of A-Z a-z 0-9 . _ : -');
    }
    const scope = grantScope(parseScope(optional(params, 'scope')), client.scopes);
    // The user's ledger generation first, then the record: a password changed (or the user
    // deleted) after this read makes the grant creation below refuse (GrantLedgerStore).
    const userGeneration = await ctx.store.getLedgerGeneration({
      tenantId: client.tenantId,
      username,
    });
    const user = await ctx.store.getUser(client.tenantId, username);
    // Unknown users cost the same scrypt as wrong passwords and get the same answer (no enumeration).
    const stored = user?.passwordHash ?? dummyHash(ctx.config.passwordHashing.scryptCost);
    const limits = ctx.limits;
    const userKey = usernameKey(client.tenantId, username);
    const ok = await ctx.hashing.run(async () => {
      // Only failures count, so a sign-in reads the counts and a failure adds to them. Read inside
      // the hashing turn: at most maxConcurrent guesses run on counts read before the others land.
      await limits?.assertUnder([
        ['password_ip', ip],
        ['password_username', userKey],
      ]);
      return verifySecret(password, stored);
    });
    if (!user || !ok) {
      await Promise.all([
        limits?.add('password_ip', ip),
        limits?.add('password_username', userKey),
      ]);
      ctx.events.emit('password.failed', {
        clientId: client.id,
        tenantId: client.tenantId,
        username,
      });
      throw new OAuthError('invalid_grant', 'invalid username or password');
    }
    await upgradeHash(ctx, user, password);
    return issueNewGrant(ctx, {
      client,
      clientGeneration,
      userGeneration,
      grantType: 'password',
      subject: user.username,
      scope,
      ...(deviceId !== undefined ? { deviceId } : {}),
      withRefresh: client.grants.includes('refresh_token'),
    });
  },
};
