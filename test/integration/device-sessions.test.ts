// Device sessions over HTTP: two apps on one device keep each other alive through the guard, in both modes.
import type { Express } from 'express';
import request from 'supertest';
import { type Guard, MemoryStore } from '../../lib';
import { ALICE, BOB, post, refresh, seed, signIn, TOKEN, WEB } from '../helpers/app';
import { testClock } from '../helpers/clock';
import { eventually } from '../helpers/eventually';
import {
  guardedApp,
  type LiveAuthServer,
  localGuard,
  remoteGuard,
  startAuthServer,
} from '../helpers/guard';
import { makeStore, type StoreKind, type TestStore } from '../helpers/stores';

const IDLE = 3;

const MODES: { name: string; store: StoreKind; remote: boolean }[] = [
  { name: 'local mode, MemoryStore', store: 'memory', remote: false },
  { name: 'local mode, RedisStore on Cluster', store: 'cluster', remote: false },
  { name: 'remote mode', store: 'redis', remote: true },
];

describe.each(MODES)('device sessions: $name', (mode) => {
  // One clock for the authorization server, the store and the guard: idle deadlines pass when the
  // test moves it (the store compares deadlines with the `now` it is given, Redis included).
  const clock = testClock();
  let ts: TestStore;
  let live: LiveAuthServer;
  let guard: Guard;
  let api: Express;

  beforeAll(async () => {
    ts = await makeStore(mode.store, `devices-${mode.store}-${mode.remote}`, {
      now: clock.seconds,
    });
    live = await startAuthServer(ts.store, {
      deviceIdleTtl: IDLE,
      deviceSessionMaxAge: 3600,
      clock,
    });
    await seed(live.auth);
    guard = mode.remote
      ? remoteGuard(live.issuer, {}, { clock })
      : localGuard(live.issuer, ts.store, { clock });
    api = guardedApp(guard);
  });
  afterAll(async () => {
    await live.close();
    await ts.close();
  });

  const get = (token: string) => request(api).get('/me').set('Authorization', `Bearer ${token}`);

  /** Sign in through the confidential `web` app (the second app on the device). */
  async function signInWeb(user: typeof ALICE, device: string) {
    const res = await post(
      live.app,
      TOKEN,
      { grant_type: 'password', ...user, device_id: device },
      WEB,
    );
    expect(res.status).toBe(200);
    return res.body as { access_token: string; refresh_token: string; expires_in: number };
  }

  it('binds tokens to the device and answers Token-Expires-In as the earlier of exp and the deadline', async () => {
    const a = await signIn(live.app, ALICE, { device_id: 'phone-1' });
    expect(a.expires_in).toBe(IDLE);
    const res = await get(a.access_token);
    expect(res.status).toBe(200);
    expect(res.body.deviceId).toBe('phone-1');
    expect(Number(res.headers['token-expires-in'])).toBeLessThanOrEqual(IDLE);
    expect(Number(res.headers['token-expires-in'])).toBeGreaterThanOrEqual(IDLE - 1);
  });

  it('activity from app A alone keeps app B alive past the idle TTL; bob on the same device is not kept', async () => {
    const device = `kiosk-${mode.store}-${mode.remote}`;
    const a = await signIn(live.app, ALICE, { device_id: device });
    const b = await signInWeb(ALICE, device);
    const bob = await signIn(live.app, BOB, { device_id: device });
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      expect((await get(a.access_token)).status).toBe(200);
    }
    // 5 s > IDLE since B or bob were last used.
    expect((await get(b.access_token)).status).toBe(200);
    expect((await get(bob.access_token)).status).toBe(401);
    expect((await refresh(live.app, bob.refresh_token)).status).toBe(400);
    // B's refresh works, and the session lists both apps.
    const renewed = await post(
      live.app,
      TOKEN,
      { grant_type: 'refresh_token', refresh_token: b.refresh_token },
      WEB,
    );
    expect(renewed.status).toBe(200);
    const sessions = await live.auth.admin.listDeviceSessions('acme', 'alice');
    const mine = sessions.find((s) => s.deviceId === device);
    expect(mine?.apps.map((x) => x.clientId)).toEqual(['app', 'web']);
  });

  it('with no activity every token of the session dies, refresh tokens included', async () => {
    const device = `tablet-${mode.store}-${mode.remote}`;
    const a = await signIn(live.app, ALICE, { device_id: device });
    const b = await signInWeb(ALICE, device);
    // Alive up to the deadline, dead from it on.
    clock.advance(IDLE * 1000 - 1000);
    expect((await get(b.access_token)).status).toBe(200); // B's use keeps A alive too...
    clock.advance(IDLE * 1000 + 200); // ...until IDLE passes with no use at all
    expect((await get(a.access_token)).status).toBe(401);
    expect((await get(b.access_token)).status).toBe(401);
    const res = await refresh(live.app, a.refresh_token);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    // Signing in again starts a new session; the old tokens stay dead.
    const again = await signIn(live.app, ALICE, { device_id: device });
    expect((await get(again.access_token)).status).toBe(200);
    expect((await get(a.access_token)).status).toBe(401);
  });

  it('admin revocation of a device session refuses every token of it, in every app, on the next request', async () => {
    const device = `desk-${mode.store}-${mode.remote}`;
    const a = await signIn(live.app, ALICE, { device_id: device });
    const b = await signInWeb(ALICE, device);
    const other = await signIn(live.app, ALICE, { device_id: `${device}-2` });
    expect((await get(b.access_token)).status).toBe(200);
    expect(await live.auth.admin.revokeDeviceSession('acme', 'alice', device)).toBe(true);
    expect((await get(a.access_token)).status).toBe(401);
    expect((await get(b.access_token)).status).toBe(401);
    expect((await refresh(live.app, a.refresh_token)).status).toBe(400);
    expect((await get(other.access_token)).status).toBe(200);
    expect(await live.auth.admin.revokeDeviceSessions('acme', 'alice')).toBeGreaterThanOrEqual(1);
    expect((await get(other.access_token)).status).toBe(401);
  });

  it('introspection exp reflects the device deadline', async () => {
    const a = await signIn(live.app, ALICE, { device_id: `intro-${mode.store}` });
    const res = await post(
      live.app,
      '/oauth2/introspect',
      { token: a.access_token },
      { id: 'print-rs', secret: 'print-rs-secret-0123456789' },
    );
    expect(res.body.active).toBe(true);
    expect(res.body.exp).toBe(clock.seconds() + IDLE);
    expect(res.body.device_id).toBe(`intro-${mode.store}`);
  });
});

describe('device_session.extended (guard event, local mode)', () => {
  it('fires after each authorized device-bound request with the new deadline', async () => {
    const store = new MemoryStore();
    const live = await startAuthServer(store, { deviceIdleTtl: 60 });
    try {
      await seed(live.auth);
      const guard = localGuard(live.issuer, store);
      const seen: unknown[] = [];
      guard.events.on('device_session.extended', (e) => seen.push(e));
      const a = await signIn(live.app, ALICE, { device_id: 'phone-x' });
      const plain = await signIn(live.app, ALICE);
      const api = guardedApp(guard);
      expect(
        (await request(api).get('/me').set('Authorization', `Bearer ${a.access_token}`)).status,
      ).toBe(200);
      expect(
        (await request(api).get('/me').set('Authorization', `Bearer ${plain.access_token}`)).status,
      ).toBe(200);
      // Emitted once each response is out (after supertest has it, at the latest the next turn).
      await eventually(() => seen.length > 0);
      await new Promise((r) => setImmediate(r));
      const now = Math.floor(Date.now() / 1000);
      expect(seen).toEqual([
        {
          tenantId: 'acme',
          subject: 'alice',
          deviceId: 'phone-x',
          clientId: 'app',
          deadline: expect.any(Number),
        },
      ]);
      expect((seen[0] as { deadline: number }).deadline).toBeGreaterThanOrEqual(now + 58);
    } finally {
      await live.close();
      await store.close();
    }
  });
});
