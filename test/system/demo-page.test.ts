// The sample's demo page (GET /demo) in headless Chromium: two apps sign in on one device, call the API, renew, and keep each other alive.
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
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

/** Click one of an app's buttons and wait until the page has finished that action. */
async function act(app: string, action: 'sign-in' | 'call' | 'renew' | 'sign-out'): Promise<void> {
  const done = Number((await panel(app).getAttribute('data-actions')) ?? 0);
  await panel(app).locator(`[data-action="${action}"]`).click();
  await page.waitForSelector(`section[data-app="${app}"][data-actions="${done + 1}"]`);
}

async function signIn(app: string, username: string, password: string): Promise<void> {
  await panel(app).locator('[data-field="username"]').fill(username);
  await panel(app).locator('[data-field="password"]').fill(password);
  await act(app, 'sign-in');
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
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await sample?.close();
});

afterEach(() => {
  expect(pageErrors).toEqual([]);
});

let deviceId = '';

it('serves the page, its script and the client bundle from the print server', async () => {
  const bundle = await fetch(`${sample.printUrl}/demo/tokenward-client.mjs`);
  expect(bundle.status).toBe(200);
  expect(bundle.headers.get('content-type')).toMatch(/javascript/);
  expect(await bundle.text()).toMatch(/export \{[^}]*\bTokenManager\b/);
  await page.goto(`${sample.printUrl}/demo`);
  await page.waitForSelector('body[data-ready="true"]');
  expect(await page.locator('[data-field="issuer"]').first().textContent()).toBe(sample.issuer);
  expect(await page.locator('[data-field="idle-ttl"]').first().textContent()).toBe(String(IDLE));
  // Both apps present the one device id stored in localStorage.
  deviceId = ((await page.locator('[data-field="device-id"]').textContent()) ?? '').trim();
  expect(deviceId).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
  expect(await text(A, 'state')).toBe('signed out');
});

it('signs both apps in through the form: one token each, priority 1', async () => {
  await signIn(A, 'alice', 'alice-password');
  await signIn(B, 'alice', 'alice-password');
  for (const app of [A, B]) {
    expect(await text(app, 'state')).toBe('signed in as alice');
    expect(await priorities(app)).toEqual([1]);
    expect((await log(app))[0]).toMatch(/signed in as alice: priority 1$/);
  }
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
    expect(await text(app, 'countdown')).toMatch(/^\d$/);
    expect(await countdown(app)).toBeGreaterThanOrEqual(2);
    expect(await countdown(app)).toBeLessThanOrEqual(IDLE);
  }
  expect(await text(B, 'countdown-source')).toMatch(/GET \/print\/jobs → 200/);
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
  await act(B, 'sign-out');
  expect(await text(B, 'state')).toBe('signed out');
  expect(await text(B, 'countdown')).toBe('—');
});
