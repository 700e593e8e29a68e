// Signing out of a device: two apps' TokenManagers on one device share a device session; the first to sign out leaves it to the other, the last ends it.
import type { Express } from 'express';
import request from 'supertest';
import { type Guard, type Store, TokenManager } from '../../lib';
import { MapStorage } from '../client/stack';
import { ALICE, APP, seed, WEB } from '../helpers/app';
import {
  guardedApp,
  type LiveAuthServer,
  localGuard,
  remoteGuard,
  startAuthServer,
} from '../helpers/guard';
import { makeStore, type StoreKind, type TestStore } from '../helpers/stores';

const MODES: { name: string; store: StoreKind; remote: boolean }[] = [
  { name: 'local mode, MemoryStore', store: 'memory', remote: false },
  { name: 'local mode, RedisStore on Cluster', store: 'cluster', remote: false },
  { name: 'remote mode, RedisStore', store: 'redis', remote: true },
];

/** The store methods that change or read grants and device sessions: each call is one round trip. */
const TOKEN_METHODS = [
  'revokeByRefreshToken',
  'revokeAccessToken',
  'revokeGrant',
  'revokeDeviceSession',
  'revokeDeviceSessions',
  'listDeviceSessions',
  'getRefreshTokenState',
  'getAccessTokenState',
] as const;

/** Record the calls of TOKEN_METHODS on `store` (its own methods, wrapped in place). */
function recordCalls(store: Store): string[] {
  const calls: string[] = [];
  const s = store as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of TOKEN_METHODS) {
    const original = s[name]?.bind(store);
    if (!original) continue;
    s[name] = (...args: unknown[]) => {
      calls.push(name);
      return original(...args);
    };
  }
  return calls;
}

describe.each(MODES)('signing out of a device: $name', (mode) => {
  let ts: TestStore;
  let live: LiveAuthServer;
  let guard: Guard;
  let api: Express;
  let calls: string[];

  beforeAll(async () => {
    ts = await makeStore(mode.store, `sign-out-${mode.store}-${mode.remote}`);
    calls = recordCalls(ts.store);
    live = await startAuthServer(ts.store);
    await seed(live.auth);
    guard = mode.remote ? remoteGuard(live.issuer) : localGuard(live.issuer, ts.store);
    api = guardedApp(guard);
  });
  afterAll(async () => {
    await live.close();
    await ts.close();
  });

  const get = (token: string) => request(api).get('/me').set('Authorization', `Bearer ${token}`);
  const sessionOf = async (deviceId: string) =>
    (await live.auth.admin.listDeviceSessions('acme', ALICE.username)).find(
      (s) => s.deviceId === deviceId,
    );

  it('the first app to sign out keeps the session for the other; the last ends it and its tokens are refused', async () => {
    // Two apps of one device: one storage, so one generated device id.
    const storage = new MapStorage();
    const phone = new TokenManager({ issuer: live.issuer, clientId: APP.id, storage });
    const web = new TokenManager({
      issuer: live.issuer,
      clientId: WEB.id,
      clientSecret: WEB.secret,
      storage,
    });
    const deviceId = await phone.deviceId();
    expect(await web.deviceId()).toBe(deviceId);
    await phone.signIn(ALICE.username, ALICE.password);
    await web.signIn(ALICE.username, ALICE.password);
    const phoneToken = await phone.getAccessToken();
    const webToken = await web.getAccessToken();
    const session = await sessionOf(deviceId);
    expect(session?.apps.map((a) => a.clientId)).toEqual([APP.id, WEB.id]);
    expect((await get(phoneToken)).status).toBe(200);
    expect((await get(webToken)).body).toMatchObject({ deviceId, clientId: WEB.id });

    const revoked: string[] = [];
    live.auth.events.on('family.revoked', ({ clientId }) => revoked.push(clientId ?? ''));
    const ended: unknown[] = [];
    live.auth.events.on('device_session.ended', (e) => void ended.push(e));

    // The first app signs out: its tokens die, the device session lives on for the other app.
    expect(await phone.signOut()).toEqual({ revoked: true });
    expect((await get(phoneToken)).status).toBe(401);
    expect((await get(webToken)).status).toBe(200);
    expect((await sessionOf(deviceId))?.sessionId).toBe(session?.sessionId);

    // The last app signs out: one store call revokes its family and ends the session.
    calls.length = 0;
    expect(await web.signOut()).toEqual({ revoked: true });
    expect(calls).toEqual(['revokeByRefreshToken']);
    expect(await sessionOf(deviceId)).toBeUndefined();
    const refused = await get(webToken);
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toContain('error="invalid_token"');
    await new Promise((resolve) => setImmediate(resolve)); // event listeners run after the response
    expect(revoked).toEqual([APP.id, WEB.id]);
    // Only the last sign-out ended the session, and said so.
    expect(ended).toEqual([
      { clientId: WEB.id, grantId: expect.any(String), reason: 'last_grant_revoked' },
    ]);

    // Signing in again on the device starts a new session; the old tokens stay refused.
    await phone.signIn(ALICE.username, ALICE.password);
    const again = await sessionOf(deviceId);
    expect(again?.sessionId).toEqual(expect.any(String));
    expect(again?.sessionId).not.toBe(session?.sessionId);
    expect(again?.apps.map((a) => a.clientId)).toEqual([APP.id]);
    expect((await get(await phone.getAccessToken())).status).toBe(200);
    expect((await get(webToken)).status).toBe(401);
    await phone.signOut();
  });

  it("another user's session on the same device, and the user's other devices, are not ended", async () => {
    const device = (id: string) =>
      new TokenManager({ issuer: live.issuer, clientId: APP.id, deviceId: id });
    const alice = device('shared-tablet');
    const bob = new TokenManager({
      issuer: live.issuer,
      clientId: WEB.id,
      clientSecret: WEB.secret,
      deviceId: 'shared-tablet',
    });
    const aliceLaptop = device('alice-laptop');
    await alice.signIn(ALICE.username, ALICE.password);
    await bob.signIn('bob', 'bob-password');
    await aliceLaptop.signIn(ALICE.username, ALICE.password);

    await alice.signOut();
    expect(await sessionOf('shared-tablet')).toBeUndefined();
    expect((await get(await bob.getAccessToken())).status).toBe(200);
    expect((await get(await aliceLaptop.getAccessToken())).status).toBe(200);
    expect(await sessionOf('alice-laptop')).toBeDefined();
    await bob.signOut();
    await aliceLaptop.signOut();
  });
});
