// Grant ids: a device-bound grant's id carries its user's tag (`<user tag>~<random>`), so the grant,
// its refresh set and the user's device sessions share one Redis hash tag and one atomic script.
import { createHash, randomBytes } from 'node:crypto';

const SEPARATOR = '~';

/** A stable 22-character tag for (tenant, user): shared by the user's device sessions and device-bound grants. */
export function userTag(tenantId: string, username: string): string {
  return createHash('sha256').update(`${tenantId}\n${username}`).digest('base64url').slice(0, 22);
}

/** A new grant id: random, or `<user tag>~<random>` for a grant bound to one of the user's device sessions. */
export function newGrantId(device?: { tenantId: string; username: string }): string {
  const random = randomBytes(16).toString('base64url');
  return device ? `${userTag(device.tenantId, device.username)}${SEPARATOR}${random}` : random;
}

/** The user tag of a device-bound grant id, or undefined for other grants. */
export function tagOfGrant(grantId: string): string | undefined {
  const i = grantId.indexOf(SEPARATOR);
  return i < 0 ? undefined : grantId.slice(0, i);
}

/** Whether `grantId` names a device-bound grant. */
export function isDeviceGrant(grantId: string): boolean {
  return grantId.includes(SEPARATOR);
}
