// Secret helpers: scrypt hashes verify in constant time, refresh tokens carry ≥128 bits and hash to SHA-256.

import { newRefreshToken, parseRefreshToken } from '../../lib/tokens/refresh-token';
import {
  DUMMY_HASH,
  dummyHash,
  hashSecret,
  needsRehash,
  randomId,
  sha256,
  verifySecret,
} from '../../lib/tokens/secrets';

describe('secrets', () => {
  it('scrypt: a hash verifies its secret only, salts differ', async () => {
    const h1 = await hashSecret('correct horse', 14);
    const h2 = await hashSecret('correct horse', 14);
    expect(h1).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(h1).not.toBe(h2);
    expect(await verifySecret('correct horse', h1)).toBe(true);
    expect(await verifySecret('correct horsf', h1)).toBe(false);
    expect(await verifySecret('anything', DUMMY_HASH)).toBe(false);
    expect(await verifySecret('anything', 'md5$abc')).toBe(false);
  });

  it('scrypt: a stored N past 2^20 or other r, p never match (no check can be made to take gigabytes); lower costs need a re-hash', async () => {
    const h = await hashSecret('correct horse', 14);
    const [, , , , salt, key] = h.split('$');
    expect(await verifySecret('correct horse', `scrypt$${2 ** 21}$8$1$${salt}$${key}`)).toBe(false);
    expect(await verifySecret('correct horse', `scrypt$16384$16$1$${salt}$${key}`)).toBe(false);
    expect(await verifySecret('correct horse', `${h}$extra`)).toBe(false);
    expect(needsRehash(h, 14)).toBe(false);
    expect(needsRehash(h, 17)).toBe(true);
    expect(needsRehash(h)).toBe(true);
    expect(needsRehash('md5$abc')).toBe(false);
    expect(dummyHash(15)).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(DUMMY_HASH).toMatch(/^scrypt\$131072\$8\$1\$/);
  });

  it('refresh tokens: generation, 256 random bits and a family secret after the grant id, stored as a digest only', () => {
    const gid = randomId(16);
    const { token, hash } = newRefreshToken(gid);
    expect(token.startsWith(`${gid}.0~`)).toBe(true);
    expect(Buffer.from(token.slice(token.indexOf('~') + 1, -22), 'base64url')).toHaveLength(32);
    expect(hash.startsWith(`${sha256(token).slice(0, 22)}.0.`)).toBe(true);
    expect(hash).not.toContain(token.slice(-22));
    expect(parseRefreshToken(token)).toEqual({
      grantId: gid,
      hash,
      generation: 0,
      familySecret: token.slice(-22),
    });
    // A token of the old format (before generations) is still read: its digest is its SHA-256.
    const legacy = `${gid}.${randomId(32)}`;
    expect(parseRefreshToken(legacy)).toEqual({ grantId: gid, hash: sha256(legacy) });
    expect(parseRefreshToken(`${token}x`)).toBeUndefined();
    expect(parseRefreshToken('a.b.c')).toBeUndefined();
  });
});
