// RedisStore.getAccessTokenState keeps a grant's identity fields after the first read and asks Redis
// for the rest: what scripts change later (scope, session, revocation, the grant's end) is still read.
import type { Redis } from 'ioredis';
import { type GrantRecord, RedisStore } from '../../lib';
import { newGrantId } from '../../lib/core/grant-id';
import { redisKeys } from '../../lib/store/keys';
import { newRedis, uniquePrefix, waitReady } from '../helpers/redis';

const NOW = Math.floor(Date.now() / 1000);

describe('RedisStore access state after the first read', () => {
  let redis: Redis;
  let store: RedisStore;
  const prefix = uniquePrefix('access-state');
  const keys = redisKeys(prefix);

  beforeAll(async () => {
    redis = newRedis();
    await waitReady(redis);
    store = new RedisStore({ redis, prefix });
  });
  afterAll(() => redis.quit());

  const grantOf = (): GrantRecord => ({
    id: newGrantId(),
    clientId: 'svc',
    tenantId: 'acme',
    grantType: 'client_credentials',
    subject: 'svc',
    scope: 'read write',
    localUser: 'bob',
    resource: 'https://print.example',
    createdAt: NOW,
    maxExpiresAt: NOW + 3600,
  });
  const create = async (grant: GrantRecord) => {
    const created = await store.createGrant(grant, { jti: 'j1', accessExpiresAt: NOW + 600 });
    expect(created.refused).toBeUndefined();
  };

  it('a second read returns the same record, and sees a scope narrowed since', async () => {
    const grant = grantOf();
    await create(grant);
    expect(await store.getAccessTokenState(grant.id, 'j1', NOW)).toStrictEqual({
      grant,
      revoked: false,
    });
    expect(await store.getAccessTokenState(grant.id, 'j1', NOW)).toStrictEqual({
      grant,
      revoked: false,
    });
    // What a rotation with a narrower client scope writes.
    await redis.hset(keys.grant(grant.id), 'scope', 'read');
    expect(await store.getAccessTokenState(grant.id, 'j1', NOW)).toStrictEqual({
      grant: { ...grant, scope: 'read' },
      revoked: false,
    });
  });

  it('a second read sees the token revoked, then the family, then the grant gone', async () => {
    const grant = grantOf();
    await create(grant);
    expect((await store.getAccessTokenState(grant.id, 'j1', NOW)).revoked).toBe(false);
    await store.revokeAccessToken(grant.id, 'j1');
    expect(await store.getAccessTokenState(grant.id, 'j1', NOW)).toStrictEqual({
      grant,
      revoked: true,
    });
    expect((await store.getAccessTokenState(grant.id, 'j2', NOW)).revoked).toBe(false);
    await store.revokeGrant(grant.id, NOW);
    expect((await store.getAccessTokenState(grant.id, 'j2', NOW)).revoked).toBe(true);
    await redis.del(keys.grant(grant.id));
    expect(await store.getAccessTokenState(grant.id, 'j2', NOW)).toStrictEqual({
      revoked: false,
    });
  });
});
