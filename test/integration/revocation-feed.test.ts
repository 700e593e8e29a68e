// The revocation feed: Server-Sent Events of what ended, and remote guards that subscribe to it.
import express from 'express';
import request from 'supertest';
import type { Guard, GuardEvents } from '../../lib';
import { userTag } from '../../lib/core/grant-id';
import { ALICE, BOB, post, RS, revoke, SVC, SVC_RT, seed, signIn, TOKEN } from '../helpers/app';
import { testClock } from '../helpers/clock';
import { eventually } from '../helpers/eventually';
import { openFeed, type RawFeed } from '../helpers/feed';
import { guardedApp, type LiveAuthServer, remoteGuard, startAuthServer } from '../helpers/guard';
import { makeStore, STORE_KINDS, type TestStore } from '../helpers/stores';

const FEED_PATH = '/oauth2/revocation-feed';

/** The grant id (`gid` claim) of an access token. */
const gidOf = (accessToken: string): string =>
  JSON.parse(Buffer.from(accessToken.split('.')[1] as string, 'base64url').toString()).gid;

describe.each(STORE_KINDS)('revocation feed on %s', (kind) => {
  let ts: TestStore;
  let live: LiveAuthServer;
  const feeds: RawFeed[] = [];
  const guards: Guard[] = [];
  let introspections = 0;
  const url = () => `${live.issuer}${FEED_PATH}`;
  const open = async (
    ...args: Parameters<typeof openFeed> extends [unknown, ...infer R] ? R : never
  ) => {
    const f = await openFeed(url(), ...args);
    feeds.push(f);
    return f;
  };

  beforeAll(async () => {
    ts = await makeStore(kind, `feed-${kind}`);
    live = await startAuthServer(ts.store, { revocationFeed: { heartbeat: 1 } });
    live.server.on('request', (req) => {
      if (req.url === '/oauth2/introspect') introspections++;
    });
    await seed(live.auth);
    await live.auth.admin.upsertClient({
      id: 'beta-rs',
      secret: 'beta-rs-secret-0123456789',
      tenantId: 'beta',
      grants: ['client_credentials'],
      introspect: true,
    });
    await live.auth.admin.upsertClient({
      id: 'all-rs',
      secret: 'all-rs-secret-0123456789',
      tenantId: 'acme',
      grants: ['client_credentials'],
      introspect: true,
      introspectAllTenants: true,
    });
  });
  afterEach(async () => {
    for (const f of feeds.splice(0)) f.close();
    for (const g of guards.splice(0)) await g.close();
  });
  afterAll(async () => {
    await live.auth.close();
    await live.close();
    await ts.close();
  });

  const ccToken = async (client = SVC) =>
    (await post(live.app, TOKEN, { grant_type: 'client_credentials' }, client)).body
      .access_token as string;

  test('metadata advertises the feed; a subscriber gets `ready` with the heartbeat, then heartbeats', async () => {
    const meta = await request(live.app).get('/.well-known/oauth-authorization-server');
    expect(meta.body.revocation_feed_endpoint).toBe(url());
    const f = await open(RS);
    expect(f.status).toBe(200);
    await f.ready();
    expect(JSON.parse(f.events[0]?.data ?? '{}')).toEqual({ heartbeat: 1 });
    expect(f.events[0]?.id).toMatch(/^[A-Za-z0-9_-]+\.\d+$/);
    await eventually(() => f.events.some((e) => e.event === 'heartbeat'), 4000);
  });

  test('refusals are RFC-style errors, never a 500, and open no stream', async () => {
    const none = await open(undefined);
    expect([none.status, none.body?.error]).toEqual([401, 'invalid_client']);
    const wrong = await open({ id: RS.id, secret: 'not-the-secret-000000' });
    expect([wrong.status, wrong.body?.error]).toEqual([401, 'invalid_client']);
    const notIntrospecting = await open(SVC);
    expect([notIntrospecting.status, notIntrospecting.body?.error]).toEqual([
      403,
      'unauthorized_client',
    ]);
    for (const bad of ['x', 'a.b', `${'a'.repeat(40)}.1`, 'a.1, b.2', 'a.1\u00e9']) {
      const f = await open(RS, bad).catch(() => undefined);
      if (f) expect([f.status, f.body?.error]).toEqual([400, 'invalid_request']);
    }
    const postRes = await request(live.app).post(FEED_PATH).auth(RS.id, RS.secret);
    expect(postRes.status).toBe(405);
    const query = await request(live.app).get(`${FEED_PATH}?x=1`).auth(RS.id, RS.secret);
    expect([query.status, query.body.error]).toEqual([400, 'invalid_request']);
  });

  test('revocations over RFC 7009 and by admin arrive typed, in order, to their tenant only', async () => {
    const acme = await open(RS);
    const beta = await open({ id: 'beta-rs', secret: 'beta-rs-secret-0123456789' });
    const all = await open({ id: 'all-rs', secret: 'all-rs-secret-0123456789' });
    await Promise.all([acme.ready(), beta.ready(), all.ready()]);

    const alice = await signIn(live.app);
    const gid = gidOf(alice.access_token);
    expect((await revoke(live.app, alice.refresh_token)).status).toBe(200);
    const svcToken = await ccToken();
    const claims = JSON.parse(
      Buffer.from(svcToken.split('.')[1] as string, 'base64url').toString(),
    );
    expect(
      (await revoke(live.app, svcToken, { client_id: SVC.id, client_secret: SVC.secret })).status,
    ).toBe(200);
    const betaToken = await ccToken(SVC_RT);
    await live.auth.admin.revokeToken(betaToken);
    await live.auth.admin.revokeUserGrants('acme', ALICE.username);
    await live.auth.admin.upsertScope({ name: 'print', service: 'print', roleCheck: false });

    const seen = await acme.waitForChanges(4);
    expect(seen.map((e) => [e.event, JSON.parse(e.data)])).toEqual([
      ['grant.revoked', { grant_id: gid, tenant_id: 'acme' }],
      ['access_token.revoked', { grant_id: claims.gid, jti: claims.jti, tenant_id: 'acme' }],
      ['user.ended', { tenant_id: 'acme', user: userTag('acme', ALICE.username) }],
      ['scope.changed', { scope: 'print' }],
    ]);
    // beta's resource server sees only beta's token, and the scope change (scopes have no tenant).
    const betaSeen = await beta.waitForChanges(2);
    expect(betaSeen.map((e) => e.event)).toEqual(['access_token.revoked', 'scope.changed']);
    expect(JSON.parse(betaSeen[0]?.data ?? '{}').tenant_id).toBe('beta');
    // introspectAllTenants sees everything.
    expect((await all.waitForChanges(5)).map((e) => e.event)).toEqual([
      'grant.revoked',
      'access_token.revoked',
      'access_token.revoked',
      'user.ended',
      'scope.changed',
    ]);
    // No username, secret or token on the wire.
    const wire = JSON.stringify(all.events);
    for (const secret of [ALICE.username, alice.refresh_token, alice.access_token, svcToken])
      expect(wire).not.toContain(secret);
  });

  test('Last-Event-ID resumes exactly after it; a position the log cannot resume gets `reset`', async () => {
    const first = await open(RS);
    await first.ready();
    const at = first.lastId() as string;
    first.close();
    const a = await signIn(live.app);
    const b = await signIn(live.app);
    await revoke(live.app, a.refresh_token);
    await revoke(live.app, b.refresh_token);
    const resumed = await open(RS, at);
    const missed = await resumed.waitForChanges(2);
    expect(missed.map((e) => JSON.parse(e.data).grant_id)).toEqual([
      gidOf(a.access_token),
      gidOf(b.access_token),
    ]);
    await resumed.ready();
    // Sent before `ready`: the subscriber has caught up when it sees it.
    expect(resumed.events.findIndex((e) => e.event === 'ready')).toBeGreaterThan(
      resumed.events.findIndex((e) => e.event === 'grant.revoked'),
    );
    const other = await open(RS, 'otherEpoch.5');
    await other.ready();
    expect(other.events[0]?.event).toBe('reset');
  });

  test('a subscribed remote guard keeps answers long, and drops one when its token is revoked', async () => {
    const clock = testClock();
    const guard = remoteGuard(live.issuer, { cacheTtl: 1, feed: true }, { clock, metrics: true });
    guards.push(guard);
    const seen: GuardEvents['feed.change'][] = [];
    guard.events.on('feed.change', (e) => seen.push(e));
    const app = guardedApp(guard);
    await eventually(() => guard.feedStatus() === 'subscribed');
    const alice = await signIn(live.app);
    const get = () => request(app).get('/me').set('Authorization', `Bearer ${alice.access_token}`);
    expect((await get()).status).toBe(200);
    const before = introspections;
    // 40 s later (cacheTtl is 1 s) the answer is still served from the cache: no introspection.
    clock.advance(40_000);
    expect((await get()).status).toBe(200);
    expect(introspections).toBe(before);
    // A revocation at the authorization server reaches the guard through the feed.
    expect((await revoke(live.app, alice.refresh_token)).status).toBe(200);
    await eventually(() => seen.some((e) => e.type === 'grant.revoked'));
    expect((await get()).status).toBe(401);
    expect(introspections).toBe(before + 1);
    const metrics = express().get('/m', guard.metricsHandler());
    const text = (await request(metrics).get('/m')).text;
    expect(text).toContain(
      'tokenward_guard_events_total{event="feed.change",detail="grant.revoked"} 1',
    );
    expect(text).toContain('tokenward_guard_events_total{event="feed.connected",detail=""} 1');
  });

  test('a device-bound token is still asked about every cacheTtl: its activity keeps its device session alive', async () => {
    const clock = testClock();
    const guard = remoteGuard(live.issuer, { cacheTtl: 1, feed: true }, { clock });
    guards.push(guard);
    const app = guardedApp(guard);
    await eventually(() => guard.feedStatus() === 'subscribed');
    const s = await signIn(live.app, ALICE, { device_id: 'alice-tablet' });
    const get = () => request(app).get('/me').set('Authorization', `Bearer ${s.access_token}`);
    expect((await get()).status).toBe(200);
    const before = introspections;
    clock.advance(500);
    expect((await get()).status).toBe(200);
    expect(introspections).toBe(before); // within cacheTtl (the refresh ahead starts at 750 ms)
    clock.advance(1_000);
    expect((await get()).status).toBe(200);
    expect(introspections).toBe(before + 1);
  });

  test("a change written by another instance reaches this instance's subscribers", async () => {
    const other = await startAuthServer(ts.store, {
      revocationFeed: { heartbeat: 1 },
      metrics: true,
    });
    try {
      const f = await open(RS);
      await f.ready();
      const s = await signIn(other.app);
      expect((await revoke(other.app, s.refresh_token)).status).toBe(200);
      const [got] = await f.waitForChanges(1);
      expect([got?.event, JSON.parse(got?.data ?? '{}').grant_id]).toEqual([
        'grant.revoked',
        gidOf(s.access_token),
      ]);
      // Counted by type in the metrics.
      const metrics = express().get('/m', other.auth.metricsHandler());
      expect((await request(metrics).get('/m')).text).toContain(
        'tokenward_auth_events_total{event="feed.published",detail="grant.revoked"} 1',
      );
    } finally {
      await other.auth.close();
      await other.close();
    }
  });

  test('user, device session, tenant, client and scope changes drop exactly the answers they affect', async () => {
    const clock = testClock();
    const guard = remoteGuard(live.issuer, { cacheTtl: 1, feed: true }, { clock });
    guards.push(guard);
    const heard: string[] = [];
    guard.events.on('feed.change', (e) => heard.push(e.type));
    const app = guardedApp(guard);
    await eventually(() => guard.feedStatus() === 'subscribed');
    const bob = await signIn(live.app, BOB, { device_id: 'bob-phone' });
    const svc = await ccToken();
    const get = (t: string) => request(app).get('/me').set('Authorization', `Bearer ${t}`);
    const asked = async (t: string) => {
      const before = introspections;
      expect((await get(t)).status).toBe(200);
      return introspections - before;
    };
    expect(await asked(bob.access_token)).toBe(1);
    expect(await asked(svc)).toBe(1);
    const hear = async (type: string, change: () => Promise<unknown>) => {
      const n = heard.filter((h) => h === type).length;
      await change();
      await eventually(() => heard.filter((h) => h === type).length > n);
    };
    // Bob's roles: his answer is dropped (asked again), the service token's kept.
    await hear('user.changed', () =>
      live.auth.admin.upsertUser({ tenantId: 'acme', username: BOB.username, roles: ['printer'] }),
    );
    expect(await asked(bob.access_token)).toBe(1);
    expect(await asked(svc)).toBe(0);
    // The tenant's mode: every acme answer.
    await hear('tenant.changed', () =>
      live.auth.admin.upsertTenant({ id: 'acme', localUserMode: false }),
    );
    expect(await asked(svc)).toBe(1);
    expect(await asked(bob.access_token)).toBe(1);
    await live.auth.admin.upsertTenant({ id: 'acme', localUserMode: true });
    await eventually(() => heard.filter((h) => h === 'tenant.changed').length === 2);
    await asked(svc);
    await asked(bob.access_token);
    // A scope the service token holds.
    await hear('scope.changed', () =>
      live.auth.admin.upsertScope({ name: 'scan', service: 'scan', roleCheck: false }),
    );
    expect(await asked(svc)).toBe(1);
    // Bob's device session ends: his token is refused, the service token untouched.
    await hear('device_session.ended', () =>
      live.auth.admin.revokeDeviceSession('acme', BOB.username, 'bob-phone'),
    );
    expect((await get(bob.access_token)).status).toBe(401);
    expect(await asked(svc)).toBe(0);
    // The service client's grants end: refused.
    await hear('client.ended', () => live.auth.admin.revokeClientGrants(SVC.id));
    expect((await get(svc)).status).toBe(401);
  });

  test('unsubscribed, the guard falls back to cacheTtl; subscribed again, it resumes', async () => {
    const clock = testClock();
    const guard = remoteGuard(live.issuer, { cacheTtl: 1, feed: true }, { clock });
    guards.push(guard);
    const connected: GuardEvents['feed.connected'][] = [];
    guard.events.on('feed.connected', (e) => connected.push(e));
    const app = guardedApp(guard);
    await eventually(() => guard.feedStatus() === 'subscribed');
    const token = await ccToken();
    const get = () => request(app).get('/me').set('Authorization', `Bearer ${token}`);
    expect((await get()).status).toBe(200);
    const before = introspections;
    // The authorization server closes its streams (a restart): the guard reconnects by itself.
    await live.auth.close();
    await eventually(() => guard.feedStatus() === 'connecting');
    clock.advance(2_000);
    expect((await get()).status).toBe(200);
    expect(introspections).toBe(before + 1); // older than cacheTtl: asked again
    // The closed hub refuses new streams until a new server is made: a fresh instance on the same
    // store and port stands for the restarted one.
    const port = live.port;
    await live.close();
    live = await startAuthServer(ts.store, { port, revocationFeed: { heartbeat: 1 } });
    live.server.on('request', (req) => {
      if (req.url === '/oauth2/introspect') introspections++;
    });
    await eventually(() => guard.feedStatus() === 'subscribed', 15_000);
    expect(connected.at(-1)).toEqual({ resumed: true });
  }, 30_000);
});
