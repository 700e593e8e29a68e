// Refresh tokens: opaque `<grantId>.<secret>` strings; the grant id routes to the family's keys.
import { randomId, sha256 } from './secrets';

// The grant id is 22 characters, or `<22>~<22>` / `<22>.<22>` for users' grants (grant-id.ts).
const FORMAT = /^([A-Za-z0-9_-]{22}(?:[~.][A-Za-z0-9_-]{22})?)\.([A-Za-z0-9_-]{43})$/;

/** A new refresh token for a grant: 256 random bits after the grant id. */
export function newRefreshToken(grantId: string): { token: string; hash: string } {
  const token = `${grantId}.${randomId(32)}`;
  return { token, hash: sha256(token) };
}

/** Split a presented refresh token, or undefined when it is not one of ours in shape. */
export function parseRefreshToken(token: string): { grantId: string; hash: string } | undefined {
  const m = FORMAT.exec(token);
  return m?.[1] ? { grantId: m[1], hash: sha256(token) } : undefined;
}
