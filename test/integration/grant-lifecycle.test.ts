// Tokens follow the user and the client they were issued for, on MemoryStore, RedisStore and the
// 3-master cluster: deleting a user, a new password, revokeUserGrants, deleting a client,
// revokeClientGrants, a tenant move and turning off local users end every grant they should —
// refresh answers invalid_grant (RFC 6749 §5.2), guards refuse the access tokens (RFC 6750 §3.1),
// introspection says inactive (RFC 7662 §2.2) — and re-creating a name or an id revives nothing.
import type { Express } from 'express';
import request from 'supertest';
import type { AuthServer } from '../../lib';
import {
  ALICE,
  APP,
  BOB,
  buildApp,
  introspect,
  post,
  refresh,
  SVC,
  SVC_RT,
  seed,
  signIn,
  TOKEN,
  WEB,
} from '../helpers/app';
import { guardedApp, localGuard, seedScopes } from '../helpers/guard';
import { makeStore, STORE_KINDS, type TestStore } from '../helpers/stores';

interface Tokens {
  access_token: string;
  refresh_token: string;
}

describe.each(STORE_KINDS)('grant lifecycle (%s)', (kind) => {
  let ts: TestStore;
  let app: Express;
  let auth: AuthServer;
  let rs: Express;

  beforeAll(async () => {
    ts = await makeStore(kind, `grant-lifecycle-${kind}`);
    ({ app, auth } = buildApp(ts.store));
    await seed(auth);
    await seedScopes(auth);
    rs = guardedApp(localGuard('http://localhost:4000', ts.store));
  });
  afterAll(() => ts.close());

  /** A fresh user of acme, signed in through `app` (public) and `web` (confidential), one with a device. */
  async function freshUser(roles: string[] = ['printer']) {
    const username = `user-${Math.random().toString(36).slice(2, 8)}`;
    const password = 'first-password-123';
    await auth.admin.upsertUser({ tenantId: 'acme', username, password, roles });
    const user = { username, password };
    const plain = await signIn(app, user);
    const device = await signIn(app, user, { device_id: 'phone-1' });
    const res = await post(app, TOKEN, { grant_type: 'password', ...user }, WEB);
    expect(res.status).toBe(200);
    return { username, password, sessions: [plain, device, res.body as Tokens] };
  }

  const me = (t: Tokens) => request(rs).get('/me').set('Authorization', `Bearer ${t.access_token}`);
  const refreshAny = (t: Tokens, i: number) =>
    i === 2
      ? post(app, TOKEN, { grant_type: 'refresh_token', refresh_token: t.refresh_token }, WEB)
      : refresh(app, t.refresh_token);

  async function expectLive(sessions: Tokens[]) {
    for (const t of sessions) {
      expect((await me(t)).status).toBe(200);
      expect((await introspect(app, t.access_token)).active).toBe(true);
    }
  }
  async function expectEnded(sessions: Tokens[]) {
    for (const [i, t] of sessions.entries()) {
      const guarded = await me(t);
      expect(guarded.status).toBe(401);
      expect(guarded.headers['www-authenticate']).toContain('error="invalid_token"');
      expect(await introspect(app, t.access_token)).toStrictEqual({ active: false });
      expect(await introspect(app, t.refresh_token)).toStrictEqual({ active: false });
      const r = await refreshAny(t, i);
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('invalid_grant');
    }
  }

  it('deleteUser ends every grant of the user, with and without a device, in every client; a namesake created later inherits nothing', async () => {
    const u = await freshUser();
    const other = await signIn(app, BOB);
    await expectLive(u.sessions);
    expect(await auth.admin.deleteUser('acme', u.username)).toBe(true);
    await expectEnded(u.sessions);
    expect(await auth.admin.listDeviceSessions('acme', u.username)).toStrictEqual([]);
    await expectLive([other]);

    // Same name, new person, same password even: the old tokens stay dead, and roles do not pass.
    await auth.admin.upsertUser({
      tenantId: 'acme',
      username: u.username,
      password: u.password,
      roles: [],
    });
    await expectEnded(u.sessions);
    const fresh = await signIn(app, { username: u.username, password: u.password });
    expect((await me(fresh)).status).toBe(200);
    expect(
      (
        await request(rs)
          .get('/print')
          .set('Authorization', `Bearer ${u.sessions[0]?.access_token}`)
      ).status,
    ).toBe(401);
  });

  it('a new password ends every grant signed in with the old one; a change of roles alone, or the same password set again, ends none', async () => {
    const u = await freshUser();
    await auth.admin.upsertUser({ tenantId: 'acme', username: u.username, password: u.password });
    await expectLive(u.sessions);
    await auth.admin.upsertUser({
      tenantId: 'acme',
      username: u.username,
      roles: ['printer', 'admin'],
    });
    await expectLive(u.sessions);
    await auth.admin.upsertUser({
      tenantId: 'acme',
      username: u.username,
      password: 'second-password-456',
    });
    await expectEnded(u.sessions);
    // The old password no longer signs in; the new one does.
    const old = await post(app, TOKEN, {
      grant_type: 'password',
      client_id: APP.id,
      username: u.username,
      password: u.password,
    });
    expect(old.body.error).toBe('invalid_grant');
    await signIn(app, { username: u.username, password: 'second-password-456' });
  });

  it('revokeUserGrants ends them all and counts them; the user signs in again afresh; other users keep theirs', async () => {
    const u = await freshUser();
    const other = await signIn(app, ALICE);
    const ended: unknown[] = [];
    auth.events.on('user.grants_ended', (e) => ended.push(e));
    expect(await auth.admin.revokeUserGrants('acme', u.username)).toBe(3);
    await expectEnded(u.sessions);
    await expectLive([other]);
    await new Promise((r) => setImmediate(r));
    expect(ended).toStrictEqual([
      { tenantId: 'acme', username: u.username, reason: 'revoked', count: 3 },
    ]);
    const again = await signIn(app, { username: u.username, password: u.password });
    expect((await me(again)).status).toBe(200);
    expect(await auth.admin.revokeUserGrants('acme', u.username)).toBe(1);
  });

  it("deleteClient ends its grants (its own and its users'); re-creating the id revives no family", async () => {
    const own = await post(app, TOKEN, { grant_type: 'client_credentials' }, SVC_RT);
    expect(own.status).toBe(200);
    const viaWeb = (await post(app, TOKEN, { grant_type: 'password', ...ALICE }, WEB))
      .body as Tokens;
    const viaApp = await signIn(app, ALICE);
    const before = await auth.admin.getClient(WEB.id);

    expect(await auth.admin.deleteClient(SVC_RT.id)).toBe(true);
    expect(await auth.admin.deleteClient(WEB.id)).toBe(true);
    expect((await me(own.body)).status).toBe(401);
    expect((await me(viaWeb)).status).toBe(401);
    await expectLive([viaApp]);

    await auth.admin.upsertClient({
      ...SVC_RT,
      tenantId: 'beta',
      grants: ['client_credentials', 'refresh_token'],
      scopes: ['print'],
      clientCredentialsRefresh: true,
    });
    const { public: _p, ...web } = before as NonNullable<typeof before>;
    await auth.admin.upsertClient({ ...web, secret: WEB.secret });
    const revived = await post(
      app,
      TOKEN,
      { grant_type: 'refresh_token', refresh_token: own.body.refresh_token },
      SVC_RT,
    );
    expect(revived.status).toBe(400);
    expect(revived.body.error).toBe('invalid_grant');
    expect(await introspect(app, viaWeb.access_token)).toStrictEqual({ active: false });
    const r = await post(
      app,
      TOKEN,
      { grant_type: 'refresh_token', refresh_token: viaWeb.refresh_token },
      WEB,
    );
    expect(r.body.error).toBe('invalid_grant');
    expect((await me(viaWeb)).status).toBe(401);
  });

  it('revokeClientGrants ends every grant of the client only; a tenant move or turning off local users ends them too', async () => {
    const web = (await post(app, TOKEN, { grant_type: 'password', ...BOB }, WEB)).body as Tokens;
    const viaApp = await signIn(app, BOB);
    expect(await auth.admin.revokeClientGrants(WEB.id)).toBeGreaterThanOrEqual(1);
    expect((await me(web)).status).toBe(401);
    await expectLive([viaApp]);

    // local_user tokens of svc, then svc may no longer assert local users.
    const lu = await post(
      app,
      TOKEN,
      { grant_type: 'client_credentials', local_user: 'kiosk-7' },
      SVC,
    );
    expect(lu.status).toBe(200);
    const svc = await auth.admin.getClient(SVC.id);
    const { public: _p, ...rest } = svc as NonNullable<typeof svc>;
    await auth.admin.upsertClient({ ...rest, name: 'renamed' });
    expect((await me(lu.body)).status).toBe(200);
    await auth.admin.upsertClient({ ...rest, localUsers: false });
    expect((await me(lu.body)).status).toBe(401);

    // A move to another tenant.
    const moved = await post(app, TOKEN, { grant_type: 'client_credentials' }, SVC);
    expect((await me(moved.body)).status).toBe(200);
    await auth.admin.upsertClient({ ...rest, localUsers: false, tenantId: 'beta' });
    expect((await me(moved.body)).status).toBe(401);
    expect(await introspect(app, moved.body.access_token)).toStrictEqual({ active: false });
    await auth.admin.upsertClient({ ...rest });
  });

  it("narrowing a client's scopes narrows its families at their next refresh, and the access tokens issued before", async () => {
    const t = (
      await post(app, TOKEN, { grant_type: 'password', ...ALICE, scope: 'print scan' }, WEB)
    ).body as Tokens;
    expect((await me(t)).body.scopes).toStrictEqual(['print', 'scan']);
    const web = await auth.admin.getClient(WEB.id);
    const { public: _p, ...rest } = web as NonNullable<typeof web>;
    await auth.admin.upsertClient({ ...rest, scopes: ['scan'] });
    const r = await post(
      app,
      TOKEN,
      { grant_type: 'refresh_token', refresh_token: t.refresh_token },
      WEB,
    );
    expect(r.status).toBe(200);
    expect(r.body.scope).toBe('scan');
    expect((await me(r.body)).body.scopes).toStrictEqual(['scan']);
    // The token issued before the refresh is held to the narrowed family too.
    expect((await me(t)).body.scopes).toStrictEqual(['scan']);
    expect(
      (await request(rs).get('/print').set('Authorization', `Bearer ${t.access_token}`)).status,
    ).toBe(403);
    // Widening the client again does not widen the family.
    await auth.admin.upsertClient({ ...rest, scopes: ['print', 'scan'] });
    const again = await post(
      app,
      TOKEN,
      { grant_type: 'refresh_token', refresh_token: r.body.refresh_token, scope: 'print' },
      WEB,
    );
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_scope');
  });

  it('another instance with the client cached notices a new secret, a deletion and ended grants at its next grant', async () => {
    const b = buildApp(ts.store, { clientCacheTtl: 60 });
    const ok = await post(b.app, TOKEN, { grant_type: 'client_credentials' }, SVC);
    expect(ok.status).toBe(200); // b has svc cached now
    const svc = await auth.admin.getClient(SVC.id);
    const { public: _p, ...rest } = svc as NonNullable<typeof svc>;
    await auth.admin.upsertClient({ ...rest, secret: 'svc-new-secret-0123456789' });
    const stale = await post(b.app, TOKEN, { grant_type: 'client_credentials' }, SVC);
    expect(stale.status).toBe(401);
    expect(stale.body.error).toBe('invalid_client');
    const fresh = await post(
      b.app,
      TOKEN,
      { grant_type: 'client_credentials' },
      { id: SVC.id, secret: 'svc-new-secret-0123456789' },
    );
    expect(fresh.status).toBe(200);
    // Changed back elsewhere: b, which cached the new secret, takes the old one again at once.
    await auth.admin.upsertClient({ ...rest, secret: SVC.secret });
    expect((await post(b.app, TOKEN, { grant_type: 'client_credentials' }, SVC)).status).toBe(200);
  });

  it('an instance with a cached client record re-reads it after a change elsewhere, and what it then issues ends with the client', async () => {
    const b = buildApp(ts.store, { clientCacheTtl: 60 });
    expect((await post(b.app, TOKEN, { grant_type: 'client_credentials' }, SVC)).status).toBe(200);
    const svc = await auth.admin.getClient(SVC.id);
    const { public: _p, ...rest } = svc as NonNullable<typeof svc>;
    await auth.admin.upsertClient({ ...rest, name: 'changed elsewhere' });
    const issued = await post(b.app, TOKEN, { grant_type: 'client_credentials' }, SVC);
    expect(issued.status).toBe(200);
    expect((await me(issued.body)).status).toBe(200);
    // A (not b) ends svc's grants: the token b issued after the change is among them.
    expect(await auth.admin.revokeClientGrants(SVC.id)).toBeGreaterThanOrEqual(1);
    expect((await me(issued.body)).status).toBe(401);

    // Deleted on A while b still has it cached: b issues nothing more for it.
    expect((await post(b.app, TOKEN, { grant_type: 'client_credentials' }, SVC)).status).toBe(200);
    await auth.admin.deleteClient(SVC.id);
    const gone = await post(b.app, TOKEN, { grant_type: 'client_credentials' }, SVC);
    expect(gone.status).toBe(401);
    expect(gone.body.error).toBe('invalid_client');
    await auth.admin.upsertClient({ ...rest, secret: SVC.secret });
  });
});
