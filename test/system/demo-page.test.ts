// The sample's demo page (GET /demo) in headless Chromium: its walkthrough, two apps signing in on one device through the sample's login page (signInWithRedirect) with DPoP, calling the API, a copied token refused, renewing, keeping each other alive, and buttons on only when they can work.
import { calculateJwkThumbprint, decodeProtectedHeader, type JWK } from 'jose';
import type { Browser, BrowserContext, Locator, Page, Request } from 'playwright-core';
import { type Sample, startSample } from '../../sample-app/sample';
import { launchChromium } from '../client/chromium';

jest.setTimeout(60_000);

const IDLE = 4;
const A = 'mobile-app';
const B = 'print-app';

let sample: Sample;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const panel = (app: string): Locator => page.locator(`section[data-app="${app}"]`);
const text = async (app: string, field: string) =>
  ((await panel(app).locator(`[data-field="${field}"]`).textContent()) ?? '').trim();
const countdown = async (app: string) => Number(await text(app, 'countdown'));
const priorities = async (app: string) =>
  (await panel(app).locator('[data-field="tokens"] tr td:first-child').allTextContents()).map((t) =>
    Number.parseInt(t, 10),
  );
const log = async (app: string) => panel(app).locator('[data-field="log"] li').allTextContents();

type Action = 'sign-in' | 'call' | 'renew' | 'sign-out' | 'copied-token';
const ACTIONS: Action[] = ['sign-in', 'call', 'renew', 'sign-out', 'copied-token'];
/** Which of an app's buttons can be pressed now. */
async function enabled(app: string): Promise<Record<Action, boolean>> {
  const states = await Promise.all(
    ACTIONS.map((a) => panel(app).locator(`[data-action="${a}"]`).isEnabled()),
  );
  return Object.fromEntries(ACTIONS.map((a, i) => [a, states[i]])) as Record<Action, boolean>;
}
const SIGNED_OUT = {
  'sign-in': true,
  call: false,
  renew: false,
  'sign-out': false,
  'copied-token': false,
};
const SIGNED_IN = {
  'sign-in': true,
  call: true,
  renew: true,
  'sign-out': true,
  'copied-token': true,
};
const BUSY = {
  'sign-in': false,
  call: false,
  renew: false,
  'sign-out': false,
  'copied-token': false,
};

/** Click one of an app's buttons and wait until the page has finished that action. */
async function act(app: string, action: Action): Promise<void> {
  const done = Number((await panel(app).getAttribute('data-actions')) ?? 0);
  await panel(app).locator(`[data-action="${action}"]`).click();
  await page.waitForSelector(`section[data-app="${app}"][data-actions="${done + 1}"]`);
}

/** The tab's requests to the authorize endpoint and the login page (GET), and its callbacks. */
const visited: { authorize: URL[]; login: URL[]; callbacks: string[] } = {
  authorize: [],
  login: [],
  callbacks: [],
};

/** The tab's requests to the print API's /print/jobs. */
const jobsCalls: Request[] = [];

/** Wait for a page load of /demo that has finished starting (and handled any callback). */
async function demoReady(): Promise<void> {
  await page.waitForSelector('body[data-ready="true"]:not([data-left])');
  expect(page.url()).toBe(`${sample.printUrl}/demo`);
}

/**
 * Press an app's "sign in": the tab goes to the authorization endpoint, then — when nobody is
 * signed in at the sample's login page — to that page, where `user` signs in, and back to /demo.
 */
async function signIn(app: string, user?: { username: string; password: string }): Promise<void> {
  // Marks this document: the one the sign-in comes back to is a new one.
  await page.evaluate(() => {
    document.body.dataset.left = 'true';
  });
  await panel(app).locator('[data-action="sign-in"]').click();
  if (user) {
    await page.waitForURL((url) => url.pathname === '/login');
    await page.locator('input[name="username"]').fill(user.username);
    await page.locator('input[name="password"]').fill(user.password);
    await page.locator('button[type="submit"]').click();
  }
  await demoReady();
}

/** Press "sign out of the login page": the sample's login session ends, the tab comes back. */
async function signOutOfLoginPage(): Promise<void> {
  await page.evaluate(() => {
    document.body.dataset.left = 'true';
  });
  await page.locator('[data-action="host-sign-out"]').click();
  await demoReady();
}

beforeAll(async () => {
  [sample, browser] = await Promise.all([
    startSample({ authPort: 0, printPort: 0, deviceIdleTtl: IDLE }),
    launchChromium(),
  ]);
  context = await browser.newContext();
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (url.origin === sample.issuer && url.pathname === '/oauth2/authorize')
      visited.authorize.push(url);
    // The login form shown (its POST is the form sent back).
    if (url.origin === sample.issuer && url.pathname === '/login' && req.method() === 'GET')
      visited.login.push(url);
    if (url.pathname.startsWith('/demo/callback/')) visited.callbacks.push(url.href);
    if (url.origin === sample.printUrl && url.pathname === '/print/jobs') jobsCalls.push(req);
  });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await sample?.close();
});

afterEach(() => {
  expect(pageErrors).toEqual([]);
});

let deviceId = '';
/** The device key's thumbprint, as app A's panel shows it when the page first starts. */
let thumbprint = '';

/** Both panels' device key thumbprints, which must agree (one key per issuer). */
async function thumbprints(): Promise<string> {
  const [a, b] = await Promise.all([text(A, 'thumbprint'), text(B, 'thumbprint')]);
  expect(b).toBe(a);
  return a;
}

it('serves the page, its script and the client bundle from the print server', async () => {
  const bundle = await fetch(`${sample.printUrl}/demo/tokenward-client.mjs`);
  expect(bundle.status).toBe(200);
  expect(bundle.headers.get('content-type')).toMatch(/javascript/);
  expect(await bundle.text()).toMatch(/export \{[^}]*\bTokenManager\b/);
  // Before its script runs (or if it cannot), no button of the page can be pressed.
  const html = await (await fetch(`${sample.printUrl}/demo`)).text();
  const buttons = html.match(/<button\b[^>]*>/g) ?? [];
  // Each app's four, and "sign out of the login page".
  expect(buttons).toHaveLength(ACTIONS.length + 1);
  for (const b of buttons) expect(b).toMatch(/\sdisabled[\s>]/);
  await page.goto(`${sample.printUrl}/demo`);
  await page.waitForSelector('body[data-ready="true"]');
  expect(await page.locator('[data-field="issuer"]').first().textContent()).toBe(sample.issuer);
  expect(await page.locator('[data-field="idle-ttl"]').first().textContent()).toBe(String(IDLE));
  // Both apps present the one device id stored in localStorage.
  deviceId = ((await page.locator('[data-field="device-id"]').textContent()) ?? '').trim();
  expect(deviceId).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
  // One DPoP key for both apps: the RFC 7638 thumbprint of a P-256 key, the same in both panels.
  thumbprint = await thumbprints();
  expect(thumbprint).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(await text(A, 'token-type')).toBe('—');
  expect(await text(A, 'state')).toBe('signed out');
  // Signed out, only "sign in" can work.
  expect(await enabled(A)).toEqual(SIGNED_OUT);
  expect(await enabled(B)).toEqual(SIGNED_OUT);
});

it('walks the reader through what the page offers, in numbered steps', async () => {
  const walkthrough = page.locator('ol[data-field="walkthrough"]');
  expect(await walkthrough.isVisible()).toBe(true);
  const steps = (await walkthrough.locator(':scope > li').allTextContents()).map((t) =>
    t.replace(/\s+/g, ' ').trim(),
  );
  // The order this test walks in.
  const order = [
    /^Sign in app A\. .*press sign in/,
    /^Sign in app B /,
    /^Call the API\. Press call API as app A/,
    /^Try a copied token\. Press try a copied token .*Bearer.*DPoP without a proof\. Both get 401/,
    /^Renew\. Press renew/,
    /^Keep one app alive\. /,
    /^Let the device idle out\. /,
    /^Sign out\. Press sign out/,
  ];
  expect(steps).toHaveLength(order.length);
  steps.forEach((step, i) => {
    expect(step).toMatch(order[i] as RegExp);
  });
  expect(steps[6]).toContain(`more than ${IDLE} s`);
  expect(steps[0]).toMatch(/the tab goes to the sample's login page/);
  expect(steps[1]).toMatch(/still signed in at the login page, so it comes straight back/);
  expect(steps[7]).toContain('press sign out of the login page');
  // Every button is named as it is labelled.
  for (const label of await panel(A).locator('button').allTextContents())
    expect(steps.join(' ')).toContain(label.trim());
  // One line per part of each app's panel says what it shows.
  for (const app of [A, B]) {
    const help = panel(app).locator('.panel-help');
    expect(await help.count()).toBe(4);
    for (const line of await help.allTextContents()) expect(line.trim()).not.toBe('');
    expect(await text(app, 'panel-help')).toContain(app);
    expect(await text(app, 'tokens-help')).toContain('tm.tokens()');
  }
});

it('signs app A in through the login page with a redirect: PKCE, the device id, one token of priority 1', async () => {
  await page.evaluate(() => {
    document.body.dataset.left = 'true';
  });
  await panel(A).locator('[data-action="sign-in"]').click();
  // Nobody is signed in at the sample's login: the authorize endpoint sends the tab there.
  await page.waitForURL((url) => url.pathname === '/login');
  const [authorize] = visited.authorize;
  expect(Object.fromEntries(authorize?.searchParams ?? [])).toMatchObject({
    response_type: 'code',
    client_id: A,
    redirect_uri: `${sample.printUrl}/demo/callback/${A}`,
    code_challenge_method: 'S256',
    device_id: deviceId,
  });
  expect(authorize?.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(visited.login[0]?.searchParams.get('return_to')).toMatch(/^\/oauth2\/authorize\?/);
  // A wrong password stays on the login page.
  await page.locator('input[name="username"]').fill('alice');
  await page.locator('input[name="password"]').fill('wrong');
  await page.locator('button[type="submit"]').click();
  expect(await page.locator('[role="alert"]').textContent()).toBe('Wrong username or password.');
  await page.locator('input[name="password"]').fill('alice-password');
  await page.locator('button[type="submit"]').click();
  await demoReady();
  // Back with a code at A's callback; the page's URL has lost it.
  expect(visited.callbacks).toHaveLength(1);
  expect(visited.callbacks[0]).toMatch(
    new RegExp(`^${sample.printUrl}/demo/callback/${A}\\?code=[^&]+&state=[^&]+&iss=`),
  );
  expect(await text(A, 'state')).toBe('signed in as alice');
  expect(await priorities(A)).toEqual([1]);
  expect((await log(A))[0]).toMatch(/signed in as alice: priority 1$/);
  expect(await enabled(A)).toEqual(SIGNED_IN);
  expect(await enabled(B)).toEqual(SIGNED_OUT);
  // The code was redeemed with a proof: the token is bound to the key this page load found again.
  expect(await text(A, 'token-type')).toBe('DPoP');
  expect(await text(B, 'token-type')).toBe('—');
  expect(await thumbprints()).toBe(thumbprint);
});

it("refuses the login page's forms posted from another site (login CSRF)", async () => {
  for (const path of ['/login', '/logout']) {
    const res = await fetch(`${sample.issuer}${path}`, {
      method: 'POST',
      headers: {
        Origin: 'https://evil.example',
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: 'username=alice&password=alice-password',
      redirect: 'manual',
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('set-cookie')).toBeNull();
  }
});

it('signs app B in without the login form: the login page still knows alice', async () => {
  const logins = visited.login.length;
  await signIn(B);
  expect(visited.login.length).toBe(logins);
  expect(visited.authorize.at(-1)?.searchParams.get('device_id')).toBe(deviceId);
  for (const app of [A, B]) {
    expect(await text(app, 'state')).toBe('signed in as alice');
    expect(await priorities(app)).toEqual([1]);
    expect(await enabled(app)).toEqual(SIGNED_IN);
    expect(await text(app, 'token-type')).toBe('DPoP');
  }
  expect((await log(B))[0]).toMatch(/signed in as alice: priority 1$/);
  expect(await thumbprints()).toBe(thumbprint);
});

it('refuses a callback opened again (its state was used): nothing changes', async () => {
  const used = visited.callbacks[0] ?? '';
  await page.evaluate(() => {
    document.body.dataset.left = 'true';
  });
  await page.goto(used);
  await demoReady();
  expect((await log(A))[0]).toMatch(/sign-in failed: state_mismatch/);
  expect(await text(A, 'state')).toBe('signed in as alice');
  expect(await priorities(A)).toEqual([1]);
});

it("turns an app's buttons off while its request runs, and back on when it ends", async () => {
  const me = `${sample.printUrl}/me`;
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let arrived = () => {};
  const sent = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  await page.route(me, async (route) => {
    arrived();
    await held;
    await route.continue();
  });
  try {
    const done = Number((await panel(A).getAttribute('data-actions')) ?? 0);
    await panel(A).locator('[data-action="call"]').click();
    // Fail at once, saying why, when the call ends without reaching /me (a renewal refused, say).
    const ended = page
      .waitForSelector(`section[data-app="${A}"][data-actions="${done + 1}"]`, { timeout: 20_000 })
      .then(async () => {
        throw new Error(`the call ended without reaching /me: ${(await log(A)).join(' | ')}`);
      });
    ended.catch(() => undefined);
    await Promise.race([sent, ended]);
    expect(await enabled(A)).toEqual(BUSY);
    expect(await text(A, 'activity')).toBe('calling the API…');
    expect(await panel(A).getAttribute('aria-busy')).toBe('true');
    // The other app is not waiting on anything.
    expect(await enabled(B)).toEqual(SIGNED_IN);
    release();
    await page.waitForSelector(`section[data-app="${A}"][data-actions="${done + 1}"]`);
  } finally {
    release();
    await page.unroute(me);
  }
  expect(await text(A, 'me-status')).toBe('200');
  expect(await enabled(A)).toEqual(SIGNED_IN);
  expect(await text(A, 'activity')).toBe('');
  expect(await panel(A).getAttribute('aria-busy')).toBe('false');
});

it('calls the API as each app: identity, statuses and a Token-Expires-In countdown', async () => {
  await act(A, 'call');
  await act(B, 'call');
  for (const app of [A, B]) {
    expect(await text(app, 'me-status')).toBe('200');
    expect(await text(app, 'identity')).toBe(
      `user alice (tenant acme), client ${app}, device ${deviceId}`,
    );
    expect(await text(app, 'jobs-status')).toBe('200 (0 jobs)');
    expect(await text(app, 'token-type')).toBe('DPoP');
    expect(await text(app, 'countdown')).toMatch(/^\d$/);
    expect(await countdown(app)).toBeGreaterThanOrEqual(2);
    expect(await countdown(app)).toBeLessThanOrEqual(IDLE);
  }
  expect(await text(B, 'countdown-source')).toMatch(/GET \/print\/jobs → 200/);
});

it("refuses app A's token copied and sent without the key, beside the app's own tm.fetch", async () => {
  const before = jobsCalls.length;
  await act(A, 'copied-token');
  expect(await text(A, 'copied-status')).toBe(
    'Bearer → 401 invalid_token, DPoP → 401 invalid_dpop_proof; tm.fetch → 200',
  );
  const lines = (await log(A)).slice(0, 3).reverse();
  expect(lines[0]).toMatch(/copied token as Bearer: GET \/print\/jobs → 401 invalid_token$/);
  expect(lines[1]).toMatch(
    /copied token as DPoP without a proof: GET \/print\/jobs → 401 invalid_dpop_proof$/,
  );
  expect(lines[2]).toMatch(/own tm\.fetch \(token type DPoP, with a proof\): .* → 200$/);
  // What went out: the copied token without a proof, twice; then the app's, with a proof.
  const sent = await Promise.all(
    jobsCalls.slice(before).map(async (req) => {
      const headers = await req.allHeaders();
      return { scheme: headers.authorization?.split(' ')[0], proof: headers.dpop };
    }),
  );
  expect(sent.map((c) => [c.scheme, c.proof !== undefined])).toEqual([
    ['Bearer', false],
    ['DPoP', false],
    ['DPoP', true],
  ]);
  const proof = decodeProtectedHeader(sent[2]?.proof ?? '');
  expect(proof).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256' });
  expect(await calculateJwkThumbprint(proof.jwk as JWK)).toBe(thumbprint);
});

it('counts down every second', async () => {
  const before = await countdown(A);
  // The page redraws every 250 ms: 2.5 s are at least two whole seconds on its clock.
  await sleep(2500);
  const after = await countdown(A);
  expect(after).toBeLessThanOrEqual(before - 2);
  expect(after).toBeGreaterThanOrEqual(0);
});

it("goes back up for app B after app A's activity (one device session)", async () => {
  const before = await countdown(B);
  expect(before).toBeLessThanOrEqual(2);
  await act(A, 'call');
  expect(await text(A, 'me-status')).toBe('200');
  expect(await countdown(B)).toBeGreaterThan(before);
  expect(await text(B, 'countdown-source')).toMatch(/^from mobile-app: .*same device session/);
});

it('renews on demand: the new token takes a higher priority, the old one is dropped', async () => {
  const [before] = await priorities(A);
  await act(A, 'renew');
  const after = await priorities(A);
  expect(after).toHaveLength(1);
  expect(after[0]).toBeGreaterThan(before ?? Number.POSITIVE_INFINITY);
  expect((await log(A)).join('\n')).toMatch(/renewed: priority \d+/);
});

it('keeps app B alive while only app A is active, longer than the idle time', async () => {
  const end = Date.now() + (IDLE + 1) * 1000;
  while (Date.now() < end) {
    await act(A, 'call');
    expect(await text(A, 'me-status')).toBe('200');
    await sleep(800);
  }
  // B has not called for more than deviceIdleTtl: its session lived because A's did.
  await act(B, 'call');
  expect(await text(B, 'me-status')).toBe('200');
  expect(await text(B, 'state')).toBe('signed in as alice');
});

it('signs both apps out once the whole device has been idle', async () => {
  await sleep((IDLE + 1) * 1000);
  expect(await countdown(A)).toBe(0);
  expect(await countdown(B)).toBe(0);
  await act(A, 'call');
  expect(await text(A, 'me-status')).toMatch(/^call failed: invalid_grant/);
  expect(await text(A, 'state')).toBe('signed out');
  expect(await priorities(A)).toEqual([]);
  expect((await log(A)).join('\n')).toMatch(/renewal failed: invalid_grant.*signed out/);
  // Signed out by the server, the app offers only sign-in; the other app is still signed in.
  expect(await enabled(A)).toEqual(SIGNED_OUT);
  expect(await enabled(B)).toEqual(SIGNED_IN);
  await act(B, 'sign-out');
  expect(await text(B, 'state')).toBe('signed out');
  expect(await text(B, 'countdown')).toBe('—');
  expect(await enabled(B)).toEqual(SIGNED_OUT);
});

it('turns the buttons back on at the next sign-in, and off again at sign-out', async () => {
  // Another user: end the login page's session first, or it would sign alice in again.
  await signOutOfLoginPage();
  expect(await enabled(A)).toEqual(SIGNED_OUT);
  const logins = visited.login.length;
  await signIn(A, { username: 'bob', password: 'bob-password' });
  expect(visited.login.length).toBe(logins + 1);
  expect(await text(A, 'state')).toBe('signed in as bob');
  expect(await enabled(A)).toEqual(SIGNED_IN);
  expect(await enabled(B)).toEqual(SIGNED_OUT);
  await act(A, 'call');
  expect(await text(A, 'identity')).toMatch(/^user bob \(tenant acme\)/);
  await act(A, 'sign-out');
  expect(await text(A, 'state')).toBe('signed out');
  expect(await enabled(A)).toEqual(SIGNED_OUT);
});

it('keeps the device key in IndexedDB, non-extractable, nothing of it in localStorage, the same after a reload', async () => {
  const seen = () =>
    page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const open = indexedDB.open('tokenward');
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
      const records = await new Promise<unknown[]>((resolve, reject) => {
        const all = db.transaction('dpop-keys').objectStore('dpop-keys').getAll();
        all.onsuccess = () => resolve(all.result);
        all.onerror = () => reject(all.error);
      });
      db.close();
      const keys = [];
      for (const record of records) {
        const { privateKey, publicKey } = record as CryptoKeyPair;
        const exported = await crypto.subtle.exportKey('jwk', privateKey).then(
          () => 'exported',
          (e: Error) => e.name,
        );
        const jwk = await crypto.subtle.exportKey('jwk', publicKey);
        keys.push({
          isCryptoKey: privateKey instanceof CryptoKey,
          type: privateKey.type,
          extractable: privateKey.extractable,
          algorithm: privateKey.algorithm,
          usages: privateKey.usages,
          exported,
          jwk,
        });
      }
      return { keys, local: Object.entries(localStorage) };
    });
  const first = await seen();
  expect(first.keys).toHaveLength(1);
  const [key] = first.keys;
  expect(key).toMatchObject({
    isCryptoKey: true,
    type: 'private',
    extractable: false,
    algorithm: { name: 'ECDSA', namedCurve: 'P-256' },
    usages: ['sign'],
    exported: 'InvalidAccessError',
  });
  expect(await calculateJwkThumbprint(key?.jwk as JWK)).toBe(thumbprint);
  // localStorage holds the device id and the sessions, and nothing of the key.
  const local = JSON.stringify(first.local);
  expect(first.local.map(([k]) => k).some((k) => k.endsWith(':device_id'))).toBe(true);
  expect(first.local.map(([k]) => k).some((k) => /dpop/i.test(k))).toBe(false);
  for (const part of [key?.jwk.x, key?.jwk.y, thumbprint]) expect(local).not.toContain(part);
  await page.evaluate(() => {
    document.body.dataset.left = 'true';
  });
  await page.reload();
  await demoReady();
  expect(await thumbprints()).toBe(thumbprint);
  expect(((await page.locator('[data-field="device-id"]').textContent()) ?? '').trim()).toBe(
    deviceId,
  );
  expect((await seen()).keys.map((k) => k.jwk)).toEqual([key?.jwk]);
});
