// pooledRandomId: base64url ids of the asked length, never one handed out twice, across pool refills.
import { pooledRandomId } from '../../lib/tokens/random-pool';

describe('pooledRandomId', () => {
  it('16 bytes give 22 base64url characters; 10,000 ids (many pool refills) are all distinct', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = pooledRandomId(16);
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      ids.add(id);
    }
    expect(ids.size).toBe(10_000);
  });

  it('other lengths, and ids that straddle a refill, decode to that many bytes', () => {
    for (let i = 0; i < 600; i++) {
      const bytes = 1 + (i % 48);
      expect(Buffer.from(pooledRandomId(bytes), 'base64url')).toHaveLength(bytes);
    }
  });
});
