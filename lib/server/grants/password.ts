// Resource owner password credentials grant (RFC 6749 §4.3): first-party clients only, rate limited.
import { DEVICE_ID, splitScope } from '../../core/ids';
import { invalidRequest, OAuthError } from '../../errors';
import type { UserRecord } from '../../store/store';
import { dummyHash, verifySecret } from '../../tokens/secrets';
import type { ServerContext } from '../context';
import { issueNewGrant } from '../issue';
import { optional, required } from '../params';
import { usernameKey } from '../rate-limit';
import { resolveResource } from '../resource';
import { grantScope, parseScope } from '../scope';
import type { Grant } from './grant';

/**
 * The password check `verify` under the failed-password limits. Only failures count, yet the
 * per-username count must hold exactly when guesses arrive at once on several instances: the
 * attempt is reserved first (one atomic increment: past the limit, 429 without a check), and
 * handed back when the password was right or was not checked (a full hashing queue). The per-IP
 * count is added to on failure only; this instance refuses an IP once it has seen it at its limit.
 * A sign-in therefore costs two counter round trips (reserve, hand back), a failure two (reserve,
 * IP).
 */
async function limited(
  ctx: ServerContext,
  ip: string,
  userKey: string,
  verify: () => Promise<boolean>,
): Promise<boolean> {
  const limits = ctx.limits;
  if (!limits) return verify();
  limits.assertNotKnownOver('password_ip', ip);
  await limits.reserve('password_username', userKey);
  let ok = false;
  try {
    ok = await verify();
  } catch (err) {
    await limits.remove('password_username', userKey);
    throw err;
  }
  if (ok) await limits.remove('password_username', userKey);
  else await limits.add('password_ip', ip);
  return ok;
}

/**
 * Re-hash a password verified against a hash made at a lower scrypt cost, and store it only if the
 * stored hash is still the verified one (a password changed meanwhile is never overwritten). Best
 * effort: a busy hashing queue or a store error leaves the old hash for the next sign-in.
 */
async function upgradeHash(ctx: ServerContext, user: UserRecord, password: string): Promise<void> {
  if (user.passwordHash === undefined || !ctx.hashing.needsRehash(user.passwordHash)) return;
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
  async handle({ ctx, ip, params, client, clientGeneration, proof }) {
    const username = required(params, 'username', 256);
    const password = required(params, 'password', 1024);
    const deviceId = optional(params, 'device_id', 512);
    if (deviceId !== undefined && !DEVICE_ID.test(deviceId)) {
      throw invalidRequest('device_id must be 1-128 characters of A-Z a-z 0-9 . _ : -');
    }
    const allowed = grantScope(parseScope(optional(params, 'scope')), client.scopes);
    // The user's ledger generation is read before the record: a password changed (or the user
    // deleted) after this read makes the grant creation below refuse (GrantLedgerStore). The
    // resource (RFC 8707) is resolved in the same wait; a bad one is refused before any password
    // check, so it costs no scrypt and counts against no limit.
    const [target, { user, generation: userGeneration }] = await Promise.all([
      resolveResource(ctx, params.resource, splitScope(allowed)),
      ctx.store.getUserWithGeneration(client.tenantId, username),
    ]);
    // Unknown users cost the same scrypt as wrong passwords and get the same answer (no enumeration).
    const stored = user?.passwordHash ?? dummyHash(ctx.config.passwordHashing.scryptCost);
    const ok = await limited(ctx, ip, usernameKey(client.tenantId, username), () =>
      ctx.hashing.run(() => verifySecret(password, stored)),
    );
    if (!user || !ok) {
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
      scope: target.scopes.join(' '),
      ...(deviceId !== undefined ? { deviceId } : {}),
      ...(target.resource !== undefined ? { resource: target.resource } : {}),
      withRefresh: client.grants.includes('refresh_token'),
      ...(proof ? { jkt: proof.jkt } : {}),
    });
  },
};
