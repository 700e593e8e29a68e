// Secret helpers: scrypt hashes verify in constant time, refresh tokens carry ≥128 bits and hash to SHA-256.

import { newRefreshToken, parseRefreshToken } from '../../lib/tokens/refresh-token';
import { DUMMY_HASH, hashSecret, randomId, sha256, verifySecret } from '../../lib/tokens/secrets';

describe('secrets', () => {
  it('scrypt: a hash verifies its secret only, salts differ', async () => {
    const h1 = await hashSecret('correct horse');
    const h2 = await hashSecret('correct horse');
    expect(h1).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(h1).not.toBe(h2);
    expect(await verifySecret('correct horse', h1)).toBe(true);
    expect(await verifySecret('correct horsf', h1)).toBe(false);
    expect(await verifySecret('anything', DUMMY_HASH)).toBe(false);
    expect(await verifySecret('anything', 'md5$abc')).toBe(false);
  });

  it('refresh tokens: 256 random bits after the grant id, stored as SHA-256 only', () => {
    const gid = randomId(16);
    const { token, hash } = newRefreshToken(gid);
    expect(token.startsWith(`${gid}.`)).toBe(true);
    expect(Buffer.from(token.split('.')[1] as string, 'base64url')).toHaveLength(32);
    expect(hash).toBe(sha256(token));
    expect(parseRefreshToken(token)).toEqual({ grantId: gid, hash });
    expect(parseRefreshToken(`${token}x`)).toBeUndefined();
    expect(parseRefreshToken('a.b.c')).toBeUndefined();
  });
});
