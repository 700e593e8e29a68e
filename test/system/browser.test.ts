// The browser bundle (tokenward/client) in real headless Chromium: sign-in, localStorage, CORS hints, two tabs renewing once, DPoP across origins.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { decodeJwt } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { TokenManager } from '../../lib/client/browser';
import { launchChromium } from '../client/chromium';
import { type ClientStack, closeServer, listen, sleep, startClientStack } from '../client/stack';
import { ALICE, APP, revoke } from '../helpers/app';

jest.setTimeout(60_000);

declare global {
  interface Window {
    tw: { tm: TokenManager; api: string; log: string[] };
  }
}

const ROOT = path.join(__dirname, '..', '..');

/** The demo page: loads the bundle, builds a TokenManager on LocalStorage from the query string. */
function page(issuer: string, api: string): string {
  const config = JSON.stringify({ issuer, api, clientId: APP.id });
  return `<!doctype html><meta charset="utf-8"><title>tokenward client</title>
<script type="module">
import { LocalStorage, TokenManager } from '/client.mjs';
const { issuer, api, clientId } = ${config};
const q = new URLSearchParams(location.search);
const storage = new LocalStorage({ webLocks: q.get('locks') !== 'off' });
const tm = new TokenManager({ issuer, clientId, storage, renewBeforeSeconds: Number(q.get('renew') ?? 60), dpop: q.get('dpop') === 'on' });
const log = [];
for (const name of ['signed-in', 'renewed', 'renewal-failed', 'signed-out'])
  tm.on(name, (e) => log.push(name + (e.adopted ? ':adopted' : '')));
window.tw = { tm, api, log };
</script>`;
}

let s: ClientStack;
let browser: Browser;
let site: { server: Server; url: string };
let outDir: string;
const pageErrors: string[] = [];

beforeAll(async () => {
  // Build the bundle as `npm run build` does, so the test needs no prior build.
  outDir = mkdtempSync(path.join(os.tmpdir(), 'tokenward-bundle-'));
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-client.mjs'), outDir], {
    stdio: 'pipe',
  });
  // Nonces on: a proof's first token request is answered 400 use_dpop_nonce (Bearer ones are not).
  s = await startClientStack({ accessTokenTtl: 4, dpop: { nonce: true } }, { clockTolerance: 0 });
  const bundle = readFileSync(path.join(outDir, 'client.mjs'), 'utf8');
  const app = express();
  app.get('/', (_req, res) => {
    res.type('html').send(page(s.issuer, s.api));
  });
  app.get('/client.mjs', (_req, res) => {
    res.type('text/javascript').send(bundle);
  });
  site = await listen(app);
  browser = await launchChromium();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  if (site) await closeServer(site.server);
  await s?.close();
  rmSync(outDir, { recursive: true, force: true });
});

afterEach(() => {
  expect(pageErrors).toEqual([]);
});

async function open(context: BrowserContext, query: string): Promise<Page> {
  const p = await context.newPage();
  p.on('pageerror', (e) => pageErrors.push(e.message));
  await p.goto(`${site.url}/${query}`);
  await p.waitForFunction(() => window.tw !== undefined);
  return p;
}

const signIn = (p: Page) =>
  p.evaluate(({ username, password }) => window.tw.tm.signIn(username, password), ALICE);

it('has no Node import in the bundle', () => {
  expect(readFileSync(path.join(outDir, 'client.mjs'), 'utf8')).not.toMatch(
    /from ["']node:|require\(/,
  );
});

it('signs in, calls a guarded API on another origin reading Token-Expires-In, and survives a reload', async () => {
  const context = await browser.newContext();
  const tab = await open(context, '');
  await signIn(tab);
  const first = await tab.evaluate(async () => {
    const res = await window.tw.tm.fetch(`${window.tw.api}/me`);
    return {
      origin: location.origin,
      status: res.status,
      hint: res.headers.get('Token-Expires-In'),
      body: await res.json(),
      deviceId: await window.tw.tm.deviceId(),
      stored: Object.entries(localStorage),
    };
  });
  expect(first.origin).not.toBe(new URL(s.api).origin);
  expect(first.status).toBe(200);
  expect(first.hint).toMatch(/^[0-4]$/);
  expect(first.body).toMatchObject({ subject: 'alice', deviceId: first.deviceId });
  const keys = first.stored.map(([k]) => k);
  expect(keys.some((k) => k.includes(':session:'))).toBe(true);
  expect(keys.some((k) => k.endsWith(':device_id'))).toBe(true);
  expect(JSON.stringify(first.stored)).not.toContain(ALICE.password);

  const calls = s.tokenCalls();
  await tab.reload();
  await tab.waitForFunction(() => window.tw !== undefined);
  const after = await tab.evaluate(async () => ({
    signedIn: await window.tw.tm.isSignedIn(),
    status: (await window.tw.tm.fetch(`${window.tw.api}/me`)).status,
    deviceId: await window.tw.tm.deviceId(),
  }));
  expect(after).toEqual({ signedIn: true, status: 200, deviceId: first.deviceId });
  expect(s.tokenCalls()).toBe(calls);
  await context.close();
});

it('renews from the Token-Expires-In hint of a cross-origin response', async () => {
  const context = await browser.newContext();
  const tab = await open(context, '?renew=1.2');
  await signIn(tab);
  const first = await tab.evaluate(() => window.tw.tm.tokens()[0]?.fingerprint);
  const firstJti = decodeJwt(await tab.evaluate(() => window.tw.tm.getAccessToken())).jti;
  await sleep(2050);
  const calls = s.tokenCalls();
  const out = await tab.evaluate(async () => {
    // Locally ~1.9 s are left (above 1.2: sent as is); the cross-origin answer says 1.
    const res = await window.tw.tm.fetch(`${window.tw.api}/short?hint=1`);
    const hint = res.headers.get('Token-Expires-In');
    const { jti } = await res.json();
    await window.tw.tm.getAccessToken();
    return { status: res.status, hint, jti, tokens: window.tw.tm.tokens(), log: window.tw.log };
  });
  // Sent with the first token; the renewal came from the hint in its answer.
  expect(out).toMatchObject({ status: 200, hint: '1', jti: firstJti });
  expect(out.log).toEqual(['signed-in', 'renewed']);
  expect(out.tokens.map((t) => t.priority)).toEqual([2]);
  expect(out.tokens[0]?.fingerprint).not.toBe(first);
  expect(s.tokenCalls()).toBe(calls + 1);
  await context.close();
});

it('renews and retries once on a cross-origin 401 invalid_token (the guard exposes its challenge)', async () => {
  const context = await browser.newContext();
  const tab = await open(context, '');
  await signIn(tab);
  const revoked = await tab.evaluate(() => window.tw.tm.getAccessToken());
  await revoke(s.live.app, revoked);
  const calls = s.tokenCalls();
  const out = await tab.evaluate(async (token) => {
    const raw = await fetch(`${window.tw.api}/me`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const res = await window.tw.tm.fetch(`${window.tw.api}/echo`, {
      method: 'POST',
      body: 'again',
    });
    return {
      raw: [raw.status, raw.headers.get('WWW-Authenticate')],
      status: res.status,
      body: await res.json(),
    };
  }, revoked);
  expect(out).toMatchObject({
    raw: [401, expect.stringContaining('error="invalid_token"')],
    status: 200,
    body: { body: 'again' },
  });
  expect(s.tokenCalls()).toBe(calls + 1);
  await context.close();
});

it('DPoP across origins: the nonce retry, a bound token sent with proofs, refused when copied', async () => {
  const context = await browser.newContext();
  const tab = await open(context, '?dpop=on');
  const calls = s.tokenCalls();
  await signIn(tab);
  // The first proof had no nonce; the 400 named one in DPoP-Nonce, readable across origins.
  expect(s.tokenCalls() - calls).toBe(2);
  const out = await tab.evaluate(async () => {
    const { tm, api } = window.tw;
    const res = await tm.fetch(`${api}/me`);
    const token = await tm.getAccessToken();
    const copied = async (authorization: string) => {
      const r = await fetch(`${api}/me`, { headers: { Authorization: authorization } });
      return [r.status, r.headers.get('WWW-Authenticate')];
    };
    return {
      status: res.status,
      body: await res.json(),
      type: tm.tokens()[0]?.tokenType,
      jkt: await tm.dpopThumbprint(),
      token,
      bearer: await copied(`Bearer ${token}`),
      noProof: await copied(`DPoP ${token}`),
      local: JSON.stringify(Object.entries(localStorage)),
    };
  });
  expect(out).toMatchObject({ status: 200, body: { subject: 'alice' }, type: 'DPoP' });
  expect(decodeJwt(out.token).cnf).toEqual({ jkt: out.jkt });
  expect(out.bearer).toEqual([401, expect.stringContaining('error="invalid_token"')]);
  expect(out.noProof).toEqual([401, expect.stringContaining('error="invalid_dpop_proof"')]);
  expect(out.local).not.toContain(out.jkt);
  expect(out.local).not.toContain('dpop_key');
  // Another tab of the origin (a reload, another app) finds the same key in IndexedDB.
  const other = await open(context, '?dpop=on');
  expect(await other.evaluate(() => window.tw.tm.dpopThumbprint())).toBe(out.jkt);
  expect(
    await other.evaluate(async () => (await window.tw.tm.fetch(`${window.tw.api}/me`)).status),
  ).toBe(200);
  await context.close();
});

describe.each([
  ['Web Locks', 'on'],
  ['a localStorage lease', 'off'],
])('two tabs renewing at the same moment (%s)', (_name, locks) => {
  it('refresh once between them and keep the family alive', async () => {
    const context = await browser.newContext();
    const a = await open(context, `?renew=1.5&locks=${locks}`);
    await signIn(a);
    const b = await open(context, `?renew=1.5&locks=${locks}`);
    expect(await b.evaluate(() => window.tw.tm.isSignedIn())).toBe(true);
    await sleep(2100);
    const calls = s.tokenCalls();
    const renewBoth = (p: Page) =>
      p.evaluate(async () => {
        const res = await window.tw.tm.fetch(`${window.tw.api}/short?hint=1`);
        await window.tw.tm.getAccessToken();
        return res.status;
      });
    expect(await Promise.all([renewBoth(a), renewBoth(b)])).toEqual([200, 200]);
    expect(s.tokenCalls() - calls).toBe(1);
    const top = (p: Page) => p.evaluate(() => window.tw.tm.tokens()[0]?.fingerprint);
    expect(await top(a)).toBe(await top(b));
    const me = (p: Page) =>
      p.evaluate(async () => (await window.tw.tm.fetch(`${window.tw.api}/me`)).status);
    expect([await me(a), await me(b)]).toEqual([200, 200]);

    // The family was not revoked as reuse: B renews again, and A adopts B's tokens from the
    // storage event without a request of its own.
    const adopted = (p: Page) =>
      p.evaluate(() => window.tw.log.filter((e) => e === 'renewed:adopted').length);
    const before = await adopted(a);
    await revoke(s.live.app, await b.evaluate(() => window.tw.tm.getAccessToken()));
    expect(await me(b)).toBe(200);
    expect(s.tokenCalls() - calls).toBe(2);
    await a.waitForFunction(
      (n) => window.tw.log.filter((e) => e === 'renewed:adopted').length > n,
      before,
    );
    expect(await top(a)).toBe(await top(b));
    expect(await me(a)).toBe(200);
    expect(s.tokenCalls() - calls).toBe(2);

    // Signing out in one tab signs the other out.
    await a.evaluate(() => window.tw.tm.signOut());
    await b.waitForFunction(() => window.tw.log.includes('signed-out'));
    expect(await b.evaluate(() => window.tw.tm.isSignedIn())).toBe(false);
    await context.close();
  });
});
