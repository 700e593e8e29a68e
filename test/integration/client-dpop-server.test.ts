// TokenManager with `dpop: true` against tokenward's own authorization server (nonces on) and a guard requiring DPoP: sign-in, refresh, guarded fetch, and what a stolen token or proof is worth.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import {
  createGuard,
  type FetchLike,
  MemoryStore,
  TokenManager,
  type TokenManagerOptions,
} from '../../lib';
import { MapStorage } from '../client/stack';
import { ALICE, APP, seed, WEB } from '../helpers/app';
import { testClock } from '../helpers/clock';
import { guardedApp, type LiveAuthServer, startAuthServer } from '../helpers/guard';

const clock = testClock();
const CODE_CLIENT = 'dpop-cli';

interface Sent {
  url: string;
  method: string;
  headers: Headers;
  status: number;
}

/** A fetch that records what the TokenManager sends (headers included) and the status it gets. */
function recordingFetch() {
  const sent: Sent[] = [];
  const fetch: FetchLike = async (input, init) => {
    const res = await globalThis.fetch(input, init);
    sent.push({
      url: String(input instanceof Request ? input.url : input),
      method: init?.method ?? 'GET',
      headers: new Headers(init?.headers),
      status: res.status,
    });
    return res;
  };
  return { fetch, sent };
}

let live: LiveAuthServer;
let store: MemoryStore;
let api: { server: Server; url: string };
beforeAll(async () => {
  store = new MemoryStore({ now: clock.seconds });
  live = await startAuthServer(store, {
    clock,
    accessTokenTtl: 60,
    dpop: { nonce: true },
    authorize: {
      authenticate: () => ({ tenantId: 'acme', username: ALICE.username }),
      loginUrl: '/login',
    },
  });
  await seed(live.auth);
  await live.auth.admin.upsertClient({
    id: CODE_CLIENT,
    public: true,
    tenantId: 'acme',
    grants: ['authorization_code', 'refresh_token'],
    scopes: ['print', 'scan'],
    redirectUris: ['http://127.0.0.1/callback'],
  });
  const guard = createGuard({ issuer: live.issuer, store, clock, dpop: 'required' });
  const server = createServer(guardedApp(guard));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
});
afterAll(async () => {
  api.server.closeAllConnections();
  await new Promise((resolve) => api.server.close(resolve));
  await live.close();
  await store.close();
});

function manager(extra: Partial<TokenManagerOptions> = {}) {
  const rec = recordingFetch();
  const storage = new MapStorage();
  const tm = new TokenManager({
    issuer: live.issuer,
    clientId: APP.id,
    storage,
    clock,
    dpop: true,
    fetch: rec.fetch,
    renewBeforeSeconds: 10,
    ...extra,
  });
  return { tm, storage, sent: rec.sent };
}

const tokenCalls = (sent: Sent[]) => sent.filter((s) => s.url.endsWith('/oauth2/token'));

describe('against the authorization server and a guard requiring DPoP', () => {
  it('signs in (one nonce retry), fetches, refreshes with the kept nonce and fetches again', async () => {
    const { tm, sent } = manager();
    await tm.signIn(ALICE.username, ALICE.password);
    // The first proof had no nonce: use_dpop_nonce, then the retry with it.
    expect(tokenCalls(sent).map((s) => s.status)).toEqual([400, 200]);
    expect(tm.tokens()[0]?.tokenType).toBe('DPoP');
    const token = await tm.getAccessToken();
    const jkt = await tm.dpopThumbprint();
    expect(decodeJwt(token).cnf).toEqual({ jkt });
    const me = await tm.fetch(`${api.url}/me`);
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ subject: 'alice', clientId: APP.id });
    clock.advance(55_000);
    const again = await tm.fetch(`${api.url}/me`);
    expect(again.status).toBe(200);
    expect(await tm.getAccessToken()).not.toBe(token);
    // The refresh went through at once with the nonce the sign-in answer carried.
    expect(tokenCalls(sent).map((s) => s.status)).toEqual([400, 200, 200]);
    expect(decodeJwt(await tm.getAccessToken()).cnf).toEqual({ jkt });
  });

  it('a stolen token is refused without a proof of the key, and a proof is accepted once', async () => {
    const { tm, sent } = manager();
    await tm.signIn(ALICE.username, ALICE.password);
    const token = await tm.getAccessToken();
    const asBearer = await fetch(`${api.url}/me`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(asBearer.status).toBe(401);
    const noProof = await fetch(`${api.url}/me`, { headers: { Authorization: `DPoP ${token}` } });
    expect(noProof.status).toBe(401);
    expect((await tm.fetch(`${api.url}/me`)).status).toBe(200);
    const used = sent.at(-1);
    const replay = await fetch(`${api.url}/me`, {
      headers: {
        Authorization: String(used?.headers.get('Authorization')),
        DPoP: String(used?.headers.get('DPoP')),
      },
    });
    expect(replay.status).toBe(401);
    expect(replay.headers.get('WWW-Authenticate')).toMatch(/^DPoP /);
  });

  it('stolen tokens are useless on another device (another key)', async () => {
    const { tm, storage } = manager();
    await tm.signIn(ALICE.username, ALICE.password);
    // The thief copies the whole session record; its TokenManager proves its own key.
    const session = [...storage.map].find(([k]) => k.includes(':session:'));
    if (!session) throw new Error('no session stored');
    const thief = manager();
    await thief.storage.set(...session);
    const res = await thief.tm.fetch(`${api.url}/me`);
    expect(res.status).toBe(401);
    clock.advance(55_000);
    await expect(thief.tm.getAccessToken()).rejects.toMatchObject({ code: 'invalid_grant' });
  });

  it('two apps of one device prove one key; the key survives sign-out', async () => {
    const storage = new MapStorage();
    const app = manager({ storage });
    const web = manager({ storage, clientId: WEB.id, clientSecret: WEB.secret });
    await app.tm.signIn(ALICE.username, ALICE.password);
    await web.tm.signIn(ALICE.username, ALICE.password, 'print');
    const jkt = await app.tm.dpopThumbprint();
    expect(await web.tm.dpopThumbprint()).toBe(jkt);
    expect(decodeJwt(await web.tm.getAccessToken()).cnf).toEqual({ jkt });
    expect((await web.tm.fetch(`${api.url}/me`)).status).toBe(200);
    await app.tm.signOut();
    await web.tm.signOut();
    await app.tm.signIn(ALICE.username, ALICE.password);
    expect(decodeJwt(await app.tm.getAccessToken()).cnf).toEqual({ jkt });
  });

  it('another key claiming a bound device id is refused', async () => {
    const deviceId = 'dpop-device-1';
    await manager({ deviceId }).tm.signIn(ALICE.username, ALICE.password);
    const other = manager({ deviceId });
    await expect(other.tm.signIn(ALICE.username, ALICE.password)).rejects.toMatchObject({
      code: 'invalid_grant',
      status: 400,
    });
  });

  it('a device that lost its key but kept its device id signs in again, as a new device', async () => {
    const { tm, storage } = manager();
    await tm.signIn(ALICE.username, ALICE.password);
    const lostDevice = await tm.deviceId();
    // The key goes, the device id and the session record stay (IndexedDB cleared, localStorage kept).
    const keyName = [...storage.map.keys()].find((k) => k.endsWith(':dpop_key')) ?? '';
    await storage.delete(keyName);
    // With the lost key's device id the server refuses the sign-in: that session is the lost key's.
    const stale = manager({ deviceId: lostDevice });
    await expect(stale.tm.signIn(ALICE.username, ALICE.password)).rejects.toMatchObject({
      code: 'invalid_grant',
    });
    const again = manager({ storage });
    await again.tm.signIn(ALICE.username, ALICE.password);
    expect(await again.tm.deviceId()).not.toBe(lostDevice);
    expect(decodeJwt(await again.tm.getAccessToken()).cnf).toEqual({
      jkt: await again.tm.dpopThumbprint(),
    });
    expect((await again.tm.fetch(`${api.url}/me`)).status).toBe(200);
  });

  it('an app that turns dpop on keeps its session: the next refresh proves the key and gets DPoP tokens', async () => {
    const storage = new MapStorage();
    const before = manager({ storage, dpop: false, deviceId: 'dpop-upgrade-1' });
    await before.tm.signIn(ALICE.username, ALICE.password);
    expect(tokenCalls(before.sent)[0]?.headers.has('DPoP')).toBe(false);
    expect(before.tm.tokens()[0]?.tokenType).toBe('Bearer');
    const after = manager({ storage, deviceId: 'dpop-upgrade-1' });
    // The Bearer token held is sent as Bearer; the guard requiring DPoP refuses it (invalid_token),
    // so the TokenManager renews, with a proof, and retries with the DPoP token it gets.
    expect((await after.tm.fetch(`${api.url}/me`)).status).toBe(200);
    expect(
      after.sent
        .filter((c) => !c.url.includes('/.well-known/'))
        .map((c) => [
          c.url.endsWith('/oauth2/token') ? 'token' : 'api',
          c.headers.get('Authorization')?.split(' ')[0] ?? 'none',
          c.headers.has('DPoP'),
          c.status,
        ]),
    ).toEqual([
      ['api', 'Bearer', false, 401],
      ['token', 'none', true, 400], // use_dpop_nonce: this TokenManager had no nonce yet
      ['token', 'none', true, 200],
      ['api', 'DPoP', true, 200],
    ]);
    expect(after.tm.tokens()[0]?.tokenType).toBe('DPoP');
  });

  it('the code flow redeems with a proof: signInWithBrowser gets DPoP tokens', async () => {
    const { tm } = manager({ clientId: CODE_CLIENT });
    await tm.signInWithBrowser({
      open: async (url) => {
        // The browser: follows the redirects to the loopback callback.
        let at = url;
        for (let i = 0; i < 5; i++) {
          const res = await fetch(at, { redirect: 'manual' });
          const next = res.headers.get('Location');
          if (!next) break;
          at = new URL(next, at).href;
        }
      },
    });
    expect(tm.tokens()[0]?.tokenType).toBe('DPoP');
    expect(decodeJwt(await tm.getAccessToken()).cnf).toEqual({ jkt: await tm.dpopThumbprint() });
    expect((await tm.fetch(`${api.url}/me`)).status).toBe(200);
  });
});
