// TokenManager against a live auth server and guard (the client side of renewal hints): sign-in, hints, renewal, 401 retry, sign-out.
import express from 'express';
import { decodeJwt } from 'jose';
import { TokenManager, TokenManagerError, type TokenManagerOptions } from '../../lib';
import { ALICE, APP, refresh, revoke, WEB } from '../helpers/app';
import { testClock } from '../helpers/clock';
import { localGuard } from '../helpers/guard';
import { type ClientStack, closeServer, listen, MapStorage, startClientStack } from './stack';

// One clock for the auth server, its store, the guard and every TokenManager: tests move it.
const clock = testClock();
let s: ClientStack;
beforeAll(async () => {
  // 4 s tokens; clockTolerance 0 so "until its own expiry" is exact.
  s = await startClientStack({ accessTokenTtl: 4, clock }, { clockTolerance: 0 });
});
afterAll(() => s.close());

function manager(extra: Partial<TokenManagerOptions> = {}) {
  const storage = new MapStorage();
  const tm = new TokenManager({ issuer: s.issuer, clientId: APP.id, storage, clock, ...extra });
  return { tm, storage };
}

const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });

describe('sign-in and requests', () => {
  it('signs in with the password grant and sends the top-priority token to a guarded route', async () => {
    const { tm } = manager();
    const events: string[] = [];
    const expiries: Date[] = [];
    tm.on('signed-in', ({ expiresAt }) => {
      events.push('signed-in');
      expiries.push(expiresAt);
    });
    expect(await tm.isSignedIn()).toBe(false);
    await tm.signIn(ALICE.username, ALICE.password);
    const res = await tm.fetch(`${s.api}/me`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      subject: 'alice',
      clientId: APP.id,
      deviceId: await tm.deviceId(),
    });
    expect(body.token).toBe(await tm.getAccessToken());
    expect(events).toEqual(['signed-in']);
    const [top, ...rest] = tm.tokens();
    expect(rest).toEqual([]);
    expect(top).toMatchObject({ priority: 1, scope: 'print scan' });
    expect(top?.fingerprint).toMatch(/^[0-9a-f]{8}$/);
    expect(JSON.stringify(tm.tokens())).not.toContain(body.token);
    // Instants are Dates, in tokens() and in events alike: expires_in (4 s) from now. The guard's
    // req.auth.expiresAt is epoch seconds, as on the wire: the same instant to the second.
    expect(top?.expiresAt).toEqual(new Date(clock() + 4000));
    expect(expiries).toEqual([top?.expiresAt]);
    expect(Math.abs((top?.expiresAt.getTime() ?? 0) - body.expiresAt * 1000)).toBeLessThan(1000);
  });

  it('authenticates a confidential client with HTTP Basic', async () => {
    const { tm } = manager({ clientId: WEB.id, clientSecret: WEB.secret });
    await tm.signIn(ALICE.username, ALICE.password, 'print');
    const body = await (await tm.fetch(`${s.api}/me`)).json();
    expect(body).toMatchObject({ clientId: WEB.id, scopes: ['print'] });
  });

  it('reports a refused sign-in and a foreign issuer as typed errors', async () => {
    const { tm } = manager();
    await expect(tm.signIn(ALICE.username, 'wrong')).rejects.toMatchObject({
      code: 'invalid_grant',
      status: 400,
    });
    const foreign = new TokenManager({
      issuer: s.issuer.replace('localhost', '127.0.0.1'),
      clientId: 'app',
    });
    await expect(foreign.signIn(ALICE.username, ALICE.password)).rejects.toMatchObject({
      code: 'discovery_failed',
    });
    await expect(tm.fetch(`${s.api}/me`)).rejects.toBeInstanceOf(TokenManagerError);
    expect(() => new TokenManager({ issuer: s.issuer, clientID: 'x' } as never)).toThrow(
      /did you mean clientId/,
    );
  });

  it('reads Token-Expires-In on every response; never renews before half the lifetime', async () => {
    const { tm } = manager({ renewBeforeSeconds: 3 });
    await tm.signIn(ALICE.username, ALICE.password);
    const calls = s.tokenCalls();
    expect((await tm.fetch(`${s.api}/short?hint=2`)).status).toBe(200);
    const [top] = tm.tokens();
    expect(top?.expiresAt).toEqual(new Date(clock() + 2000));
    // 2 s < renewBeforeSeconds, but the token is brand new: no renewal yet.
    await tm.getAccessToken();
    expect(s.tokenCalls()).toBe(calls);
    expect(tm.tokens()[0]?.priority).toBe(1);
  });
});

describe('renewal', () => {
  it('renews from the header hint alone when below renewBeforeSeconds', async () => {
    const { tm } = manager({ renewBeforeSeconds: 1.2 });
    const renewed: boolean[] = [];
    const expiries: Date[] = [];
    tm.on('renewed', (e) => {
      renewed.push(e.adopted);
      expiries.push(e.expiresAt);
    });
    await tm.signIn(ALICE.username, ALICE.password);
    const first = decodeJwt(await tm.getAccessToken()).jti;
    clock.advance(2050);
    const calls = s.tokenCalls();
    // Locally 1.95 s are left (above 1.2: no renewal before sending); the server says 1.
    const res = await tm.fetch(`${s.api}/short?hint=1`);
    expect(await res.json()).toEqual({ jti: first });
    await tm.getAccessToken(); // waits for the renewal the hint started
    expect(s.tokenCalls()).toBe(calls + 1);
    expect(renewed).toEqual([false]);
    expect(tm.tokens().map((t) => t.priority)).toEqual([2]);
    expect(expiries).toEqual([new Date(clock() + 4000)]);
    expect(tm.tokens()[0]?.expiresAt).toEqual(expiries[0]);
  });

  it('gives the new token top priority, discards the rest; the old token lives until its own expiry', async () => {
    const { tm } = manager({ renewBeforeSeconds: 2 });
    await tm.signIn(ALICE.username, ALICE.password);
    const old = await tm.getAccessToken();
    const oldExp = decodeJwt(old).exp as number;
    clock.advance(2100);
    const res = await tm.fetch(`${s.api}/me`); // renews before sending
    const body = await res.json();
    expect(body.token).not.toBe(old);
    expect(tm.tokens().map((t) => t.priority)).toEqual([2]);
    expect(res.headers.get('Token-Expires-In')).toMatch(/^[34]$/);
    clock.advance(oldExp * 1000 - clock() - 1);
    expect((await fetch(`${s.api}/me`, bearer(old))).status).toBe(200);
    clock.advance(1);
    expect((await fetch(`${s.api}/me`, bearer(old))).status).toBe(401);
    expect((await tm.fetch(`${s.api}/me`)).status).toBe(200);
    // Each new token rises above every earlier one and stays alone in the list.
    const before = tm.tokens()[0]?.priority as number;
    await revoke(s.live.app, await tm.getAccessToken());
    expect((await tm.fetch(`${s.api}/me`)).status).toBe(200);
    const after = tm.tokens();
    expect(after).toHaveLength(1);
    expect(after[0]?.priority).toBe(before + 1);
  });

  it('50 concurrent requests near expiry cause exactly one refresh, from expires_in or the hint', async () => {
    for (const [path, renewBeforeSeconds] of [
      ['/me', 2],
      ['/short?hint=1', 1.5],
    ] as const) {
      const { tm } = manager({ renewBeforeSeconds });
      let renewals = 0;
      tm.on('renewed', () => renewals++);
      await tm.signIn(ALICE.username, ALICE.password);
      clock.advance(2100);
      const calls = s.tokenCalls();
      const responses = await Promise.all(
        Array.from({ length: 50 }, () => tm.fetch(`${s.api}${path}`)),
      );
      await tm.getAccessToken();
      expect(responses.every((r) => r.status === 200)).toBe(true);
      expect(s.tokenCalls() - calls).toBe(1);
      expect(renewals).toBe(1);
    }
  });
});

describe('401 invalid_token', () => {
  it('renews once and retries once with the same body', async () => {
    const { tm } = manager();
    await tm.signIn(ALICE.username, ALICE.password);
    const first = await tm.getAccessToken();
    expect((await revoke(s.live.app, first)).status).toBe(200); // the access token only
    const calls = s.tokenCalls();
    const res = await tm.fetch(`${s.api}/echo`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: 'hello',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ body: 'hello' });
    expect(s.tokenCalls()).toBe(calls + 1);
    const second = await tm.getAccessToken();
    expect(second).not.toBe(first);
    // A Request object is cloned before the first send, so its body goes out again.
    await revoke(s.live.app, second);
    const req = new Request(`${s.api}/echo`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: 'as a Request',
    });
    const again = await tm.fetch(req);
    expect(await again.json()).toMatchObject({ body: 'as a Request' });
    expect(s.tokenCalls()).toBe(calls + 2);
  });

  it('returns a second 401 to the caller, and never retries a stream body', async () => {
    // A resource server of another audience: every token is invalid there.
    const guard = localGuard(s.issuer, s.store, { audience: 'https://elsewhere.example' });
    let hits = 0;
    const app = express();
    app.use((_req, _res, next) => {
      hits++;
      next();
    });
    app.all('/me', guard.authenticate(), (_req, res) => {
      res.json({});
    });
    const other = await listen(app);
    try {
      const { tm } = manager();
      await tm.signIn(ALICE.username, ALICE.password);
      const calls = s.tokenCalls();
      const res = await tm.fetch(`${other.url}/me`);
      expect(res.status).toBe(401);
      expect(res.headers.get('WWW-Authenticate')).toContain('error="invalid_token"');
      expect(hits).toBe(2);
      expect(s.tokenCalls()).toBe(calls + 1);

      const stream = new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode('once'));
          c.close();
        },
      });
      const init = { method: 'POST', body: stream, duplex: 'half' } as RequestInit;
      expect((await tm.fetch(`${other.url}/me`, init)).status).toBe(401);
      expect(hits).toBe(3);
      await tm.getAccessToken();
    } finally {
      await closeServer(other.server);
    }
  });

  it('a refused refresh (invalid_grant) signs out and emits renewal-failed', async () => {
    const { tm, storage } = manager();
    const seen: string[] = [];
    tm.on('renewal-failed', (e) => seen.push(`failed:${e.signedOut}`));
    tm.on('signed-out', (e) => seen.push(`out:${e.reason}`));
    await tm.signIn(ALICE.username, ALICE.password);
    const gid = decodeJwt(await tm.getAccessToken()).gid as string;
    await s.live.auth.admin.revokeGrant(gid);
    const res = await tm.fetch(`${s.api}/me`);
    expect(res.status).toBe(401);
    expect(seen).toEqual(['failed:true', 'out:invalid_grant']);
    expect(await tm.isSignedIn()).toBe(false);
    expect(storage.session()).toBeUndefined();
    await expect(tm.fetch(`${s.api}/me`)).rejects.toMatchObject({ code: 'not_signed_in' });
  });
});

describe('signOut', () => {
  it('revokes the family: the refresh token is dead and the guard refuses the access token', async () => {
    const { tm, storage } = manager();
    await tm.signIn(ALICE.username, ALICE.password);
    const root = storage.session()?.refreshToken as string;
    await revoke(s.live.app, await tm.getAccessToken());
    expect((await tm.fetch(`${s.api}/me`)).status).toBe(200); // rotated once: root is now spent
    const access = await tm.getAccessToken();
    const current = storage.session()?.refreshToken as string;
    expect(current).not.toBe(root);
    const out: string[] = [];
    tm.on('signed-out', (e) => out.push(e.reason));
    const deviceId = await tm.deviceId();
    const sessions = () => s.live.auth.admin.listDeviceSessions('acme', ALICE.username);
    expect((await sessions()).map((d) => d.deviceId)).toContain(deviceId);
    expect(await tm.signOut()).toEqual({ revoked: true });
    expect(out).toEqual(['sign-out']);
    expect(storage.session()).toBeUndefined();
    expect(await tm.isSignedIn()).toBe(false);
    expect((await refresh(s.live.app, current)).body).toMatchObject({ error: 'invalid_grant' });
    expect((await fetch(`${s.api}/me`, bearer(access))).status).toBe(401);
    // The only app of the device signed out: the device session ended with it. The device id is
    // kept: signing in again is the same device (in a new session).
    expect((await sessions()).map((d) => d.deviceId)).not.toContain(deviceId);
    expect(await tm.deviceId()).toBe(deviceId);
  });

  it('on a device with two apps, the first sign-out keeps the device session; the last ends it', async () => {
    const { tm: first, storage } = manager();
    const second = new TokenManager({
      issuer: s.issuer,
      clientId: WEB.id,
      clientSecret: WEB.secret,
      storage,
      clock,
    });
    const deviceId = await first.deviceId();
    await first.signIn(ALICE.username, ALICE.password);
    await second.signIn(ALICE.username, ALICE.password);
    const session = async () =>
      (await s.live.auth.admin.listDeviceSessions('acme', ALICE.username)).find(
        (d) => d.deviceId === deviceId,
      );
    const started = await session();
    expect(started?.apps.map((a) => a.clientId)).toEqual([APP.id, WEB.id]);
    await first.signOut();
    expect((await session())?.sessionId).toBe(started?.sessionId);
    expect((await second.fetch(`${s.api}/me`)).status).toBe(200);
    const last = await second.getAccessToken();
    await second.signOut();
    expect(await session()).toBeUndefined();
    expect((await fetch(`${s.api}/me`, bearer(last))).status).toBe(401);
  });

  it('still signs out locally when the server cannot be reached', async () => {
    const gone = await startClientStack();
    const storage = new MapStorage();
    const tm = new TokenManager({
      issuer: gone.issuer,
      clientId: APP.id,
      storage,
      timeoutMs: 2000,
    });
    await tm.signIn(ALICE.username, ALICE.password);
    await gone.close();
    expect(await tm.signOut()).toEqual({ revoked: false });
    expect(storage.session()).toBeUndefined();
    expect(await tm.isSignedIn()).toBe(false);
  });
});
