// Sign-in with a redirect (the browser TokenManager): PKCE S256, state and RFC 9207 iss checked, error answers surfaced, the code redeemed with the verifier, the pending request used once.
import { createHash } from 'node:crypto';
import { TokenManager, type TokenManagerOptions } from '../../lib/client/browser';
import { closeTabs, followUntil, openTab, type Tab } from './browser-tab';
import {
  ALICE_AT_HOST,
  type CodeServer,
  MALLORY_AT_HOST,
  startCodeServer,
} from './code-flow-server';
import { MapStorage } from './stack';

const CLIENT = 'spa';
const REDIRECT = 'https://app.example/cb';
let s: CodeServer;

beforeAll(async () => {
  s = await startCodeServer();
  await s.addClient(CLIENT, [REDIRECT]);
});
afterAll(() => s.close());
afterEach(() => {
  closeTabs();
  s.signOutHost();
  s.loginAs(ALICE_AT_HOST);
});

/** A TokenManager of the `spa` client in a fresh tab. */
function manager(extra: Partial<TokenManagerOptions> = {}) {
  const storage = new MapStorage();
  const tab = openTab('https://app.example/start');
  const tm = new TokenManager({
    issuer: s.issuer,
    clientId: CLIENT,
    redirectUri: REDIRECT,
    storage,
    fetch: s.fetch,
    ...extra,
  });
  return { tm, storage, tab };
}

/** The URL the tab was sent to, followed through the login until it comes back to the app. */
async function callbackOf(tab: Tab): Promise<string> {
  const authorize = tab.assigned.at(-1);
  if (!authorize) throw new Error('signInWithRedirect did not navigate');
  return followUntil(authorize, REDIRECT);
}

const pendingKeys = (tab: Tab) => [...tab.sessionStorage.map.keys()];
const withParam = (url: string, name: string, value: string | undefined) => {
  const u = new URL(url);
  if (value === undefined) u.searchParams.delete(name);
  else u.searchParams.set(name, value);
  return u.href;
};

describe('signInWithRedirect', () => {
  it('sends the tab to the authorization endpoint with an S256 challenge, state and the device id', async () => {
    const { tm, tab } = manager({ scope: 'print' });
    await tm.signInWithRedirect({ resource: 'https://print.example' });
    expect(tab.assigned).toHaveLength(1);
    const url = new URL(tab.assigned[0] ?? '');
    expect(`${url.origin}${url.pathname}`).toBe(`${s.issuer}/oauth2/authorize`);
    const q = url.searchParams;
    expect(Object.fromEntries(q)).toMatchObject({
      response_type: 'code',
      client_id: CLIENT,
      redirect_uri: REDIRECT,
      code_challenge_method: 'S256',
      scope: 'print',
      device_id: await tm.deviceId(),
      resource: 'https://print.example',
    });
    // The verifier stays in this tab's sessionStorage, under a key naming the issuer and client.
    const [key, ...others] = pendingKeys(tab);
    expect(others).toEqual([]);
    expect(key).toContain(encodeURIComponent(s.issuer));
    expect(key).toContain(CLIENT);
    const pending = JSON.parse(tab.sessionStorage.getItem(key ?? '') ?? '{}');
    expect(pending.verifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(q.get('code_challenge')).toBe(
      createHash('sha256').update(pending.verifier).digest('base64url'),
    );
    expect(q.get('state')).toBe(pending.state);
    expect(pending.state.length).toBeGreaterThanOrEqual(22);
    // A second start draws new values.
    await tm.signInWithRedirect();
    const again = new URL(tab.assigned[1] ?? '').searchParams;
    expect(again.get('state')).not.toBe(q.get('state'));
    expect(again.get('code_challenge')).not.toBe(q.get('code_challenge'));
  });

  it('needs the redirectUri option, an absolute URL without a fragment', async () => {
    const { tm } = manager({ redirectUri: undefined });
    await expect(tm.signInWithRedirect()).rejects.toThrow(/redirectUri option/);
    for (const redirectUri of ['/cb', 'https://app.example/cb#', 'https://app.example/cb#x', ''])
      expect(() => manager({ redirectUri })).toThrow(/redirectUri must be/);
  });
});

describe('handleRedirectCallback', () => {
  it('redeems the code with the verifier, stores the tokens, clears the pending request and says where to go', async () => {
    const { tm, storage, tab } = manager();
    const signedIn: Date[] = [];
    tm.on('signed-in', ({ expiresAt }) => signedIn.push(expiresAt));
    s.signOutHost();
    await tm.signInWithRedirect({ returnTo: '/jobs' });
    const logins = s.logins.length;
    const callback = await callbackOf(tab);
    // Nobody was signed in at the host: the browser went through its login page and back.
    expect(s.logins.length).toBe(logins + 1);
    expect(s.logins.at(-1)).toMatch(/^\/oauth2\/authorize\?/);
    const cb = new URL(callback).searchParams;
    expect(cb.get('iss')).toBe(s.issuer);
    const pending = JSON.parse(tab.sessionStorage.getItem(pendingKeys(tab)[0] ?? '') ?? '{}');
    const before = s.tokenRequests.length;
    const result = await tm.handleRedirectCallback(`${callback}&lang=en`);
    expect(result).toEqual({ url: 'https://app.example/cb?lang=en', returnTo: '/jobs' });
    const sent = s.tokenRequests.slice(before);
    expect(sent).toHaveLength(1);
    expect(Object.fromEntries(sent[0] ?? [])).toEqual({
      grant_type: 'authorization_code',
      code: cb.get('code'),
      redirect_uri: REDIRECT,
      code_verifier: pending.verifier,
      client_id: CLIENT,
    });
    expect(await tm.isSignedIn()).toBe(true);
    expect(signedIn).toHaveLength(1);
    expect(storage.session()?.refreshToken).toEqual(expect.any(String));
    // Used once: the pending request is gone from the tab.
    expect(pendingKeys(tab)).toEqual([]);
  });

  it('reads location.href when given no URL', async () => {
    const { tm, tab } = manager();
    await tm.signInWithRedirect();
    const callback = await callbackOf(tab);
    (globalThis as unknown as { location: { href: string } }).location.href = callback;
    expect(await tm.handleRedirectCallback()).toEqual({ url: REDIRECT, returnTo: undefined });
    expect(await tm.isSignedIn()).toBe(true);
  });

  it('refuses a state it did not send (CSRF), redeems nothing and keeps the pending request', async () => {
    const { tm, tab } = manager();
    await tm.signInWithRedirect();
    const callback = await callbackOf(tab);
    const before = s.tokenRequests.length;
    await expect(
      tm.handleRedirectCallback(withParam(callback, 'state', 'forged')),
    ).rejects.toMatchObject({ name: 'TokenManagerError', code: 'state_mismatch' });
    await expect(
      tm.handleRedirectCallback(withParam(callback, 'state', undefined)),
    ).rejects.toMatchObject({ code: 'state_mismatch' });
    expect(s.tokenRequests.length).toBe(before);
    expect(await tm.isSignedIn()).toBe(false);
    // A forged callback cannot cancel the real one.
    expect(pendingKeys(tab)).toHaveLength(1);
    await tm.handleRedirectCallback(callback);
    expect(await tm.isSignedIn()).toBe(true);
  });

  it('refuses a callback when nothing is pending: reloaded, or in another tab', async () => {
    const { tm, tab } = manager();
    await tm.signInWithRedirect();
    const callback = await callbackOf(tab);
    // Another tab (its own sessionStorage) gets the callback: refused, nothing redeemed.
    openTab('https://app.example/other');
    const before = s.tokenRequests.length;
    await expect(tm.handleRedirectCallback(callback)).rejects.toMatchObject({
      code: 'state_mismatch',
      message: expect.stringMatching(/no sign-in with a redirect is pending in this tab/),
    });
    expect(s.tokenRequests.length).toBe(before);
    // Back in the tab that started it: accepted once, refused when reloaded.
    tab.focus();
    await tm.handleRedirectCallback(callback);
    await expect(tm.handleRedirectCallback(callback)).rejects.toMatchObject({
      code: 'state_mismatch',
    });
    expect(s.tokenRequests.length).toBe(before + 1);
  });

  it('refuses a callback naming another issuer, or none (RFC 9207)', async () => {
    const { tm, tab } = manager();
    for (const iss of ['https://evil.example', undefined]) {
      await tm.signInWithRedirect();
      const callback = await callbackOf(tab);
      const before = s.tokenRequests.length;
      await expect(
        tm.handleRedirectCallback(withParam(callback, 'iss', iss)),
      ).rejects.toMatchObject({ code: 'issuer_mismatch' });
      expect(s.tokenRequests.length).toBe(before);
      // The state matched: the request is spent even though nothing was redeemed.
      expect(pendingKeys(tab)).toEqual([]);
    }
    expect(await tm.isSignedIn()).toBe(false);
  });

  it('surfaces error=access_denied as a TokenManagerError and clears the pending request', async () => {
    const { tm, tab } = manager();
    s.loginAs(MALLORY_AT_HOST);
    await tm.signInWithRedirect();
    const callback = await callbackOf(tab);
    expect(new URL(callback).searchParams.get('error')).toBe('access_denied');
    const before = s.tokenRequests.length;
    await expect(tm.handleRedirectCallback(callback)).rejects.toMatchObject({
      name: 'TokenManagerError',
      code: 'access_denied',
      oauthError: 'access_denied',
      message: expect.stringMatching(/answered access_denied: the user does not belong/),
    });
    expect(s.tokenRequests.length).toBe(before);
    expect(pendingKeys(tab)).toEqual([]);
    expect(await tm.isSignedIn()).toBe(false);
  });

  it('stores the tokens under the renewal lock, in the storage other tabs share', async () => {
    const storage = new LockingStorage();
    const { tm, tab } = manager({ storage });
    await tm.signInWithRedirect();
    await tm.handleRedirectCallback(await callbackOf(tab));
    expect(storage.writesUnderLock).toContainEqual(expect.stringMatching(/:session:spa$/));
    const other = new TokenManager({ issuer: s.issuer, clientId: CLIENT, storage });
    expect(await other.isSignedIn()).toBe(true);
    expect(await other.getAccessToken()).toBe(await tm.getAccessToken());
  });
});

/** Records which keys were written while a lock named `…:renew` was held. */
class LockingStorage extends MapStorage {
  readonly writesUnderLock: string[] = [];
  private holding = false;
  override async set(key: string, value: string) {
    if (this.holding) this.writesUnderLock.push(key);
    await super.set(key, value);
  }
  async lock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const renew = name.endsWith(':renew');
    if (renew) this.holding = true;
    try {
      return await fn();
    } finally {
      if (renew) this.holding = false;
    }
  }
}
