// Grant ids: a user's grant carries its user's tag (`<user tag>~<random>` when bound to a device
// session, `<user tag>.<random>` otherwise), so the grant, its refresh set, the user's device
// sessions and the user's grant ledger share one Redis hash tag and one atomic script.
import { createHash, randomBytes } from 'node:crypto';

const DEVICE = '~';
const USER = '.';

/** A stable 22-character tag for (tenant, user): shared by the user's device sessions and grants. */
export function userTag(tenantId: string, username: string): string {
  return createHash('sha256').update(`${tenantId}\n${username}`).digest('base64url').slice(0, 22);
}

/**
 * A new grant id: random for a client's own grant, `<user tag>.<random>` for a user's grant, and
 * `<user tag>~<random>` for a user's grant bound to one of their device sessions.
 */
export function newGrantId(user?: { tenantId: string; username: string; device: boolean }): string {
  const random = randomBytes(16).toString('base64url');
  if (!user) return random;
  return `${userTag(user.tenantId, user.username)}${user.device ? DEVICE : USER}${random}`;
}

/** The user tag of a user's grant id, or undefined for a client's own grant. */
export function tagOfGrant(grantId: string): string | undefined {
  const i = grantId.search(/[~.]/);
  return i < 0 ? undefined : grantId.slice(0, i);
}

/** Whether `grantId` names a grant bound to a device session. */
export function isDeviceGrant(grantId: string): boolean {
  return grantId.includes(DEVICE);
}
