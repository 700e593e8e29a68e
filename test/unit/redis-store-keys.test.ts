// RedisStore on real Redis: TTLs on every token key, one cluster slot per grant, no plain secrets, scripts by SHA.
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import {
  ConfigError,
  type GrantRecord,
  RedisStore,
  type SigningKeyRecord,
  type Store,
} from '../../lib';
import { newGrantId } from '../../lib/core/grant-id';
import { redisKeys } from '../../lib/store/keys';
import { type ScriptName, scripts } from '../../lib/store/redis-scripts';
import { newRefreshToken, parseRefreshToken } from '../../lib/tokens/refresh-token';
import { hashSecret, randomId, sha256 } from '../../lib/tokens/secrets';
import { newRedis } from '../helpers/redis';
import { makeStore, type TestStore } from '../helpers/stores';

const NOW = Math.floor(Date.now() / 1000);

const grantRecord = (overrides: Partial<GrantRecord> = {}): GrantRecord => ({
  id: randomId(),
  clientId: 'app',
  tenantId: 'acme',
  grantType: 'password',
  subject: 'alice',
  scope: 'read write',
  createdAt: NOW,
  maxExpiresAt: NOW + 86400,
  ...overrides,
});

const signingKey = (kid: string): SigningKeyRecord => ({
  kid,
  alg: 'ES256',
  privateJwk: {},
  publicJwk: { kty: 'EC' },
  createdAt: NOW,
});

/** Master nodes holding the test's keys. */
const nodesOf = (ts: TestStore): Redis[] =>
  ts.kind === 'cluster' ? (ts.redis as Cluster).nodes('master') : [ts.redis as Redis];

/** Every key under the test prefix with its TTL, read on the node that holds it. */
async function ttls(ts: TestStore): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const node of nodesOf(ts)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${ts.prefix}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) out.set(key, await node.ttl(key));
    } while (cursor !== '0');
  }
  return out;
}

async function rotate(store: Store, grant: GrantRecord, presentedHash: string, now: number) {
  const next = newRefreshToken(grant.id);
  const result = await store.rotateRefreshToken({
    grantId: grant.id,
    presentedHash,
    clientId: grant.clientId,
    now,
    requestedScope: '',
    leewaySeconds: 0,
    next: {
      jti: randomId(16),
      accessExpiresAt: now + 600,
      refresh: { hash: next.hash, expiresAt: now + 3600 },
    },
  });
  expect(result.ok).toBe(true);
  return next;
}

describe.each(['redis', 'cluster'] as const)('RedisStore keys on %s', (kind) => {
  let ts: TestStore;
  let store: Store;

  beforeAll(async () => {
    ts = await makeStore(kind, `keys-${kind}`);
    store = ts.store;
  });
  afterAll(() => ts.close());

  it('every key has a TTL except registry records, their indexes and the signing keys', async () => {
    const prefix = ts.prefix as string;
    const k = redisKeys(prefix);
    const isConfig = (key: string) =>
      key === k.signingKeys || key.startsWith(`${prefix}{reg}`) || key.startsWith(`${prefix}{u:`);

    /** Check every key, and that `live` keys exist with a TTL and `gone` keys do not exist. */
    async function check(step: string, live: string[], gone: string[] = []) {
      const all = await ttls(ts);
      for (const key of live)
        expect([step, key, all.get(key)]).toStrictEqual([step, key, expect.any(Number)]);
      for (const key of gone) expect([step, key, all.has(key)]).toStrictEqual([step, key, false]);
      for (const [key, ttl] of all) {
        if (isConfig(key)) expect([step, key, ttl]).toStrictEqual([step, key, -1]);
        else {
          expect([step, key, ttl > 0 && ttl <= 86400]).toStrictEqual([step, key, true]);
        }
      }
    }

    // Config: registry records and indexes, signing keys. They have no TTL.
    await store.putTenant({ id: 'acme', localUserMode: false });
    await store.putClient({
      id: 'app',
      tenantId: 'acme',
      grants: ['password', 'refresh_token'],
      scopes: ['read'],
      localUsers: false,
      introspect: false,
      clientCredentialsRefresh: false,
    });
    await store.putUser({
      tenantId: 'acme',
      username: 'alice',
      passwordHash: 'scrypt$x',
      roles: [],
    });
    await store.putScope({ name: 'read', roleCheck: false, roles: [] });
    await store.initSigningKeys(signingKey('k1'));
    await store.rotateSigningKeys(signingKey('k2'), NOW, 3600);
    await check('registry', [
      k.tenant('acme'),
      k.tenants,
      k.client('app'),
      k.clients,
      k.scopes,
      k.signingKeys,
    ]);

    // A grant with a refresh token: the grant hash alone (no set of issued hashes: O(1) per family).
    const withRefresh = grantRecord();
    const root = newRefreshToken(withRefresh.id);
    await store.createGrant(withRefresh, {
      jti: randomId(16),
      accessExpiresAt: NOW + 600,
      refresh: { hash: root.hash, expiresAt: NOW + 3600 },
    });
    await check(
      'createGrant with refresh',
      [k.grant(withRefresh.id)],
      [k.legacyIssued(withRefresh.id)],
    );

    // A lone access token: only the grant hash.
    const lone = grantRecord({ grantType: 'client_credentials', subject: 'app' });
    await store.createGrant(lone, { jti: randomId(16), accessExpiresAt: NOW + 600 });
    await check('createGrant without refresh', [k.grant(lone.id)], [k.legacyIssued(lone.id)]);

    const r1 = await rotate(store, withRefresh, root.hash, NOW + 10);
    await check('rotateRefreshToken', [k.grant(withRefresh.id)], [k.legacyIssued(withRefresh.id)]);

    await store.revokeAccessToken(withRefresh.id, randomId(16), NOW + 11);
    await store.revokeAccessToken(randomId(), randomId(16), NOW + 11); // unknown grant: no key created
    await check('revokeAccessToken', [k.grant(withRefresh.id)]);

    expect(await store.revokeByRefreshToken(withRefresh.id, r1.hash, 'app', NOW + 12)).toBe(
      'revoked',
    );
    // The grant hash (its generation and family proof) outlives revocation, so a foreign client's
    // revocation of a revoked family's token is still recognised as not theirs.
    await check('revokeByRefreshToken', [k.grant(withRefresh.id)]);

    expect(await store.revokeGrant(lone.id, NOW + 13)).toBe('revoked');
    await check('revokeGrant', [k.grant(lone.id)]);

    // Reuse detection revokes through the rotation script.
    const reused = grantRecord();
    const reusedRoot = newRefreshToken(reused.id);
    await store.createGrant(reused, {
      jti: randomId(16),
      accessExpiresAt: NOW + 600,
      refresh: { hash: reusedRoot.hash, expiresAt: NOW + 3600 },
    });
    await rotate(store, reused, reusedRoot.hash, NOW + 10);
    const replay = await store.rotateRefreshToken({
      grantId: reused.id,
      presentedHash: reusedRoot.hash,
      clientId: 'app',
      now: NOW + 20,
      requestedScope: '',
      leewaySeconds: 0,
      next: {
        jti: randomId(16),
        accessExpiresAt: NOW + 620,
        refresh: { hash: sha256(randomId(32)), expiresAt: NOW + 3620 },
      },
    });
    expect(replay).toStrictEqual({ ok: false, reason: 'reused' });
    await check('reuse', [k.grant(reused.id)], [k.legacyIssued(reused.id)]);
  });

  it('no refresh token, client secret or password appears in plain text in a dump', async () => {
    const clientSecret = `cs-${randomId(24)}`;
    const password = `pw-${randomId(24)}`;
    await store.putClient({
      id: 'secret-client',
      tenantId: 'acme',
      secretHash: await hashSecret(clientSecret),
      grants: ['client_credentials'],
      scopes: [],
      localUsers: false,
      introspect: false,
      clientCredentialsRefresh: true,
    });
    await store.putUser({
      tenantId: 'acme',
      username: 'dana',
      passwordHash: await hashSecret(password),
      roles: [],
    });

    const grant = grantRecord();
    const root = newRefreshToken(grant.id);
    expect(parseRefreshToken(root.token)?.hash).toBe(root.hash);
    await store.createGrant(grant, {
      jti: randomId(16),
      accessExpiresAt: NOW + 600,
      refresh: { hash: root.hash, expiresAt: NOW + 3600 },
    });
    const next = await rotate(store, grant, root.hash, NOW + 1);

    const dump = await ts.snapshot();
    // The dump is not vacuous: it holds the tokens' ids, hashes (and the grant id, not a secret).
    expect(dump).toContain(root.hash.split('.')[0]);
    expect(dump).toContain(next.hash.split('.')[0]);
    for (const secret of [root.token, next.token, clientSecret, password]) {
      expect(dump).not.toContain(secret);
    }
    // Nor the random part of a refresh token on its own, nor its family secret.
    for (const token of [root.token, next.token]) {
      expect(dump).not.toContain(token.slice(token.indexOf('~') + 1, -22));
      expect(dump).not.toContain(token.slice(-22));
    }
  });
});

describe('RedisStore on the cluster: one slot per grant and per script', () => {
  let ts: TestStore;
  let cluster: Cluster;

  beforeAll(async () => {
    ts = await makeStore('cluster', 'slots');
    cluster = ts.redis as Cluster;
  });
  afterAll(() => ts.close());

  const slot = async (key: string) => Number(await cluster.call('CLUSTER', 'KEYSLOT', key));

  it('all keys of one grant hash to the same slot', async () => {
    const prefix = ts.prefix as string;
    const grant = grantRecord();
    const root = newRefreshToken(grant.id);
    await ts.store.createGrant(grant, {
      jti: randomId(16),
      accessExpiresAt: NOW + 600,
      refresh: { hash: root.hash, expiresAt: NOW + 3600 },
    });
    await rotate(ts.store, grant, root.hash, NOW + 1);
    await ts.store.revokeAccessToken(grant.id, randomId(16), NOW + 2);

    const keys = [...(await ttls(ts)).keys()].filter((key) => key.includes(grant.id));
    expect(keys.sort()).toStrictEqual([redisKeys(prefix).grant(grant.id)]);
    const slots = new Set(await Promise.all(keys.map(slot)));
    expect(slots.size).toBe(1);
  });

  it("registry keys share a slot, and a tenant's users share one", async () => {
    const k = redisKeys(ts.prefix as string);
    const registry = [
      k.tenant('acme'),
      k.tenants,
      k.client('app'),
      k.clients,
      k.scope('read'),
      k.scopes,
    ];
    expect(new Set(await Promise.all(registry.map(slot))).size).toBe(1);
    const users = [k.user('acme', 'alice'), k.user('acme', 'bob'), k.users('acme')];
    expect(new Set(await Promise.all(users.map(slot))).size).toBe(1);
    // And the store really works across those slots on the cluster.
    await ts.store.putUser({ tenantId: 'acme', username: 'alice', passwordHash: 'x', roles: [] });
    await ts.store.putUser({ tenantId: 'acme', username: 'bob', passwordHash: 'y', roles: [] });
    expect((await ts.store.listUsers('acme')).map((u) => u.username).sort()).toStrictEqual([
      'alice',
      'bob',
    ]);
  });
});

describe('RedisStore scripts: loaded once per connection, then run by SHA', () => {
  let ts: TestStore;
  let monitor: Redis;
  const seen: { cmd: string; first: string }[] = [];

  beforeAll(async () => {
    ts = await makeStore('redis', 'scripts');
    const prefix = ts.prefix as string;
    // monitor() opens its own connection; the lazy client it is called on never connects.
    monitor = await newRedis({ lazyConnect: true }).monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const cmd = String(args[0]).toLowerCase();
      // EVAL/EVALSHA <script|sha> <numkeys> <first key> ...: keep only this test's calls.
      if (
        source !== 'lua' &&
        (cmd === 'eval' || cmd === 'evalsha') &&
        String(args[3]).startsWith(prefix)
      ) {
        seen.push({ cmd, first: String(args[1]) });
      }
    });
  });
  afterAll(async () => {
    monitor.disconnect();
    await ts.close();
  });

  const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

  it('each script is sent once as EVAL at most, then always as EVALSHA of its text; SCRIPT EXISTS is 1', async () => {
    const store = ts.store;
    const order: ScriptName[] = [];
    /** One call of every script, in a known order. */
    async function everyScript(round: number) {
      const grant = grantRecord();
      const root = newRefreshToken(grant.id);
      await store.createGrant(grant, {
        jti: randomId(16),
        accessExpiresAt: NOW + 600,
        refresh: { hash: root.hash, expiresAt: NOW + 3600 },
      });
      order.push('twCreateGrant');
      const next = await rotate(store, grant, root.hash, NOW + 1);
      order.push('twRotate');
      await store.abandonRotation(grant.id, root.hash, next.hash);
      order.push('twAbandonRotation');
      await store.getRefreshTokenState(grant.id, next.hash, NOW + 1);
      order.push('twRefreshState');
      // Device-bound grants only: others are read with a plain HMGET.
      await store.getAccessTokenState(
        newGrantId({ tenantId: 'acme', username: 'alice', device: true }),
        randomId(16),
        NOW + 1,
      );
      order.push('twAccessState');
      await store.revokeAccessToken(grant.id, randomId(16), NOW + 2);
      order.push('twRevokeAccess');
      await store.revokeByRefreshToken(grant.id, next.hash, grant.clientId, NOW + 3);
      order.push('twRevokeRefresh');
      await store.revokeGrant(grant.id, NOW + 4);
      order.push('twRevokeGrant');
      await store.revokeDeviceSession('t', 'alice', 'dev-1');
      order.push('twRevokeDevice');
      await store.revokeDeviceSessions('t', 'alice');
      order.push('twRevokeDevices');
      await store.putScope({ name: `s${round}`, roleCheck: false, roles: [] });
      order.push('twPutRecord');
      await store.deleteScope(`s${round}`);
      order.push('twDeleteRecord');
      await store.initSigningKeys(signingKey(`k${round}`));
      order.push('twInitKeys');
      await store.rotateSigningKeys(signingKey(`r${round}`), NOW + round, 3600);
      order.push('twRotateKeys');
      await store.addClientGrant(
        grant.clientId,
        grant.id,
        { generation: '', until: NOW + 60 },
        NOW,
      );
      order.push('twAddClientGrant');
      await store.renewLedger({ clientId: grant.clientId }, `g${round}`, false, NOW);
      order.push('twRenewLedger');
      await store.upgradePasswordHash('t', 'alice', 'old', 'new');
      order.push('twUpgradePasswordHash');
    }
    for (let round = 0; round < 3; round++) await everyScript(round);
    expect(new Set(order)).toStrictEqual(new Set(Object.keys(scripts)));

    // MONITOR output arrives asynchronously.
    for (let i = 0; i < 100 && seen.length < order.length; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(seen).toHaveLength(order.length);

    const evals = new Map<ScriptName, number>();
    order.forEach((name, i) => {
      const call = seen[i];
      const sha = sha1(scripts[name].lua);
      if (call?.cmd === 'eval') {
        // Loading it is allowed only on its first use on this connection.
        expect([name, order.indexOf(name) === i]).toStrictEqual([name, true]);
        evals.set(name, (evals.get(name) ?? 0) + 1);
      } else {
        expect([name, call]).toStrictEqual([name, { cmd: 'evalsha', first: sha }]);
      }
    });
    for (const n of evals.values()) expect(n).toBeLessThanOrEqual(1);

    const shas = Object.values(scripts).map((s) => sha1(s.lua));
    const exists = await (ts.redis as Redis).call('SCRIPT', 'EXISTS', ...shas);
    expect(exists).toStrictEqual(shas.map(() => 1));
  });
});

describe('RedisStore options', () => {
  it('a prefix containing { or } is a ConfigError', () => {
    const redis = newRedis({ lazyConnect: true });
    try {
      for (const prefix of ['tw{:', 'a{b}:', '{g}', 'tw}:']) {
        expect(() => new RedisStore({ redis, prefix })).toThrow(ConfigError);
      }
      expect(() => new RedisStore({ redis, prefix: 'ok:' })).not.toThrow();
    } finally {
      redis.disconnect();
    }
  });
});
