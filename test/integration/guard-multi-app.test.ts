// Refresh-token families, local users and service scopes across processes: a local-mode guard on its own Redis client sees revocations, key rotation and registry changes made through the authorization server on its very next request.
import type { Express } from 'express';
import type { Cluster, Redis } from 'ioredis';
import request from 'supertest';
import { RedisStore } from '../../lib';
import {
  buildApp,
  ISSUER,
  post,
  refresh,
  revoke,
  SVC,
  seed,
  signIn,
  type TestApp,
  TOKEN,
} from '../helpers/app';
import { guardedApp, localGuard, seedScopes } from '../helpers/guard';
import { newCluster, newRedis, waitReady } from '../helpers/redis';
import { makeStore, type TestStore } from '../helpers/stores';

function jwtPart(token: string, i: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[i] as string, 'base64url').toString());
}

describe.each(['redis', 'cluster'] as const)('a guard in another app sharing %s', (kind) => {
  let ts: TestStore;
  let as: TestApp;
  /** The second app's own client: what a separate resource-server process would hold. */
  let otherClient: Redis | Cluster;
  let rs: Express;

  beforeAll(async () => {
    ts = await makeStore(kind, `guard-multi-${kind}`);
    as = buildApp(ts.store);
    await seed(as.auth);
    await seedScopes(as.auth);
    otherClient = kind === 'redis' ? newRedis() : newCluster();
    await waitReady(otherClient);
    rs = guardedApp(localGuard(ISSUER, new RedisStore({ redis: otherClient, prefix: ts.prefix })));
  });
  afterAll(async () => {
    await otherClient.quit();
    await ts.close();
  });

  const get = (token: string, path = '/me') =>
    request(rs).get(path).set('Authorization', `Bearer ${token}`);

  async function expectRefused(token: string): Promise<void> {
    const res = await get(token);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
  }

  it('revoking an access token at the authorization server: refused on the next request', async () => {
    const s = await signIn(as.app);
    const other = await signIn(as.app);
    // Seen (and its signature cached) before the revocation: the live state is still read.
    expect((await get(s.access_token)).status).toBe(200);
    expect((await revoke(as.app, s.access_token)).status).toBe(200);
    await expectRefused(s.access_token);
    // Only that access token: its refresh token and other sessions still work.
    expect((await get(other.access_token)).status).toBe(200);
    const r = await refresh(as.app, s.refresh_token);
    expect(r.status).toBe(200);
    expect((await get(r.body.access_token)).status).toBe(200);
  });

  it('revoking the root refresh token after two rotations: every access token of the family refused', async () => {
    const s0 = await signIn(as.app);
    const r1 = await refresh(as.app, s0.refresh_token);
    const r2 = await refresh(as.app, r1.body.refresh_token);
    expect(r2.status).toBe(200);
    const family = [s0.access_token, r1.body.access_token, r2.body.access_token] as string[];
    // Overlapping tokens: a renewal does not cut the older access tokens short.
    for (const at of family) expect((await get(at)).status).toBe(200);
    expect((await revoke(as.app, s0.refresh_token)).status).toBe(200);
    for (const at of family) await expectRefused(at);
    expect((await refresh(as.app, r2.body.refresh_token)).body.error).toBe('invalid_grant');
  });

  it('refresh-token reuse revokes the family: its access tokens refused on the next request', async () => {
    const s0 = await signIn(as.app);
    const r1 = await refresh(as.app, s0.refresh_token);
    expect(r1.status).toBe(200);
    expect((await get(s0.access_token)).status).toBe(200);
    expect((await get(r1.body.access_token)).status).toBe(200);
    const replay = await refresh(as.app, s0.refresh_token);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    await expectRefused(s0.access_token);
    await expectRefused(r1.body.access_token);
  });

  it('admin revokeGrant: refused on the next request', async () => {
    const s = await signIn(as.app);
    expect((await get(s.access_token)).status).toBe(200);
    const gid = jwtPart(s.access_token, 1).gid as string;
    expect(await as.auth.admin.revokeGrant(gid)).toBe(true);
    await expectRefused(s.access_token);
  });

  it('a revocation racing 30 guarded requests and a refresh: once it has returned, nothing is admitted', async () => {
    const s = await signIn(as.app);
    expect((await get(s.access_token)).status).toBe(200);
    const during = Array.from({ length: 30 }, () => get(s.access_token).then((r) => r.status));
    const racingRefresh = refresh(as.app, s.refresh_token).then((r) => r);
    const revoked = await revoke(as.app, s.refresh_token);
    expect(revoked.status).toBe(200);
    // Whatever the refresh got (it may have won the race), the family is dead now.
    const rotated = await racingRefresh;
    const tokens: string[] = [s.access_token];
    if (rotated.status === 200) tokens.push(rotated.body.access_token);
    else expect(rotated.body.error).toBe('invalid_grant');
    const after = await Promise.all(
      tokens.flatMap((t) => Array.from({ length: 30 }, () => get(t).then((r) => r.status))),
    );
    expect(after.every((status) => status === 401)).toBe(true);
    // Requests overlapping the revocation were answered one way or the other, never an error.
    for (const status of await Promise.all(during)) expect([200, 401]).toContain(status);
  });

  it('key rotation at the authorization server: new-kid tokens accepted at once, old tokens still accepted', async () => {
    const before = await signIn(as.app);
    expect((await get(before.access_token)).status).toBe(200);
    const newKid = await as.auth.admin.rotateKeys();
    const after = await signIn(as.app);
    expect(jwtPart(after.access_token, 0).kid).toBe(newKid);
    expect(jwtPart(before.access_token, 0).kid).not.toBe(newKid);
    // The guard's key set predates the rotation: the unknown kid makes it reload from the store.
    const res = await get(after.access_token);
    expect(res.status).toBe(200);
    expect(res.body.subject).toBe('alice');
    expect((await get(before.access_token)).status).toBe(200);
  });

  it("flipping the tenant's localUserMode through admin switches the identity on the next request", async () => {
    const cc = await post(
      as.app,
      TOKEN,
      { grant_type: 'client_credentials', local_user: 'kiosk-7' },
      SVC,
    );
    expect(cc.status).toBe(200);
    const token = cc.body.access_token as string;
    const kiosk = { kind: 'local_user', id: 'kiosk-7', tenantId: 'acme', clientId: SVC.id };
    const identity = async () => {
      const res = await get(token);
      expect(res.status).toBe(200);
      return res.body.identity;
    };
    try {
      expect(await identity()).toEqual(kiosk);
      await as.auth.admin.upsertTenant({ id: 'acme', localUserMode: false });
      expect(await identity()).toEqual({ kind: 'client', id: SVC.id, tenantId: 'acme' });
      await as.auth.admin.upsertTenant({ id: 'acme', localUserMode: true });
      expect(await identity()).toEqual(kiosk);
    } finally {
      await as.auth.admin.upsertTenant({ id: 'acme', localUserMode: true });
    }
  });

  it("removing the user's role through admin: requireService('print') denies 403 on the next request", async () => {
    const s = await signIn(as.app);
    expect((await get(s.access_token, '/print')).status).toBe(200);
    try {
      await as.auth.admin.upsertUser({ tenantId: 'acme', username: 'alice', roles: [] });
      const denied = await get(s.access_token, '/print');
      expect(denied.status).toBe(403);
      expect(denied.body.error).toBe('insufficient_scope');
      expect(denied.headers['www-authenticate']).toContain('error="insufficient_scope"');
      expect(denied.headers['www-authenticate']).toContain('scope="print"');
      // The token itself is still fine, and a scope without role check still admits.
      expect((await get(s.access_token, '/scan')).status).toBe(200);
      await as.auth.admin.upsertUser({ tenantId: 'acme', username: 'alice', roles: ['printer'] });
      expect((await get(s.access_token, '/print')).status).toBe(200);
    } finally {
      await as.auth.admin.upsertUser({ tenantId: 'acme', username: 'alice', roles: ['printer'] });
    }
  });
});
