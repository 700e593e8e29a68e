// Sign-in in the system browser from Node (RFC 8252 loopback redirect): end to end through the host login, the answer page, wrong states ignored, errors, timeout, and the port closed every time.
import { createServer } from 'node:net';
import { TokenManager } from '../../lib';
import {
  ALICE_AT_HOST,
  type CodeServer,
  MALLORY_AT_HOST,
  startCodeServer,
} from './code-flow-server';
import { MapStorage } from './stack';

const CLIENT = 'cli';
let s: CodeServer;

beforeAll(async () => {
  s = await startCodeServer();
  // Any port of the loopback IP (RFC 8252 §7.3).
  await s.addClient(CLIENT, ['http://127.0.0.1/callback']);
});
afterAll(() => s.close());
afterEach(() => {
  jest.restoreAllMocks();
  s.signOutHost();
  s.loginAs(ALICE_AT_HOST);
});

/** A port nobody listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TokenManager of the loopback client, and a free port for the tests that choose one. */
async function loopbackClient() {
  const port = await freePort();
  const redirectUri = `http://127.0.0.1:${port}/callback`;
  const storage = new MapStorage();
  const tm = new TokenManager({ issuer: s.issuer, clientId: CLIENT, storage, fetch: s.fetch });
  return { tm, storage, port, redirectUri };
}

/** Whether something still listens on the port. */
const listening = (port: number) =>
  fetch(`http://127.0.0.1:${port}/callback`).then(
    () => true,
    () => false,
  );

/**
 * A browser: GET with redirects followed (no cookies). `loaded()` waits for the pages it shows:
 * signInWithBrowser returns once it has answered, not once the browser has read the answer.
 */
function browser() {
  const pages: { status: number; url: string; text: string }[] = [];
  const loading: Promise<void>[] = [];
  const open = (url: string) => {
    const load = (async () => {
      const res = await fetch(url);
      pages.push({ status: res.status, url: res.url, text: await res.text() });
    })();
    loading.push(load);
    return load;
  };
  const loaded = async () => {
    await Promise.all(loading);
    return pages;
  };
  return { open, loaded };
}

describe('signInWithBrowser', () => {
  it('signs in through the host login and the loopback redirect, answers the browser and closes the port', async () => {
    const { tm, storage } = await loopbackClient();
    const signedIn: unknown[] = [];
    tm.on('signed-in', (e) => signedIn.push(e));
    const { loaded, open } = browser();
    const before = { logins: s.logins.length, tokens: s.tokenRequests.length };
    await tm.signInWithBrowser({ open, scope: 'print' });
    const pages = await loaded();
    expect(await tm.isSignedIn()).toBe(true);
    expect(signedIn).toHaveLength(1);
    expect(storage.session()?.refreshToken).toBeDefined();
    // The browser went to the login page, back to authorize, then to the loopback page.
    expect(s.logins.length).toBe(before.logins + 1);
    const authorize = s.authorizeRequests.at(-1);
    // A port of the system's choosing on the loopback IP, registered as http://127.0.0.1/callback.
    const redirectUri = authorize?.get('redirect_uri') ?? '';
    expect(redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(authorize?.get('device_id')).toBe(await tm.deviceId());
    expect(authorize?.get('scope')).toBe('print');
    const [token, ...more] = s.tokenRequests.slice(before.tokens);
    expect(more).toEqual([]);
    expect(token?.get('grant_type')).toBe('authorization_code');
    expect(token?.get('redirect_uri')).toBe(redirectUri);
    expect(token?.get('code_verifier')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(pages).toHaveLength(1);
    expect(pages[0]?.url.startsWith(`${redirectUri}?code=`)).toBe(true);
    expect(pages[0]?.status).toBe(200);
    expect(pages[0]?.text).toMatch(/Signed in.*You may close this window/s);
    expect(await listening(Number(new URL(redirectUri).port))).toBe(false);
  });

  it('prints the URL to open when given no open function', async () => {
    const { tm, port } = await loopbackClient();
    const { loaded, open } = browser();
    const printed: string[] = [];
    jest.spyOn(console, 'log').mockImplementation((text: unknown) => {
      printed.push(String(text));
      // The user opens the printed URL.
      const url = String(text).match(/https?:\/\/\S+/)?.[0];
      if (url) void open(url);
    });
    await tm.signInWithBrowser({ port });
    expect((await loaded())[0]?.status).toBe(200);
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(
      new RegExp(`^Open this URL in your browser to sign in:\\n${s.issuer}/oauth2/authorize\\?`),
    );
    expect(await tm.isSignedIn()).toBe(true);
  });

  it('answers a request without its state with 400 and keeps waiting for its own', async () => {
    const { tm, port, redirectUri } = await loopbackClient();
    const { loaded, open } = browser();
    const forged: number[] = [];
    await tm.signInWithBrowser({
      port,
      open: async (url) => {
        // Another local page or process calls the loopback first.
        const res = await fetch(`${redirectUri}?code=stolen&state=guess`);
        forged.push(res.status);
        await res.body?.cancel();
        await open(url);
      },
    });
    expect(forged).toEqual([400]);
    expect(s.tokenRequests.at(-1)?.get('code')).not.toBe('stolen');
    expect((await loaded())[0]?.status).toBe(200);
    expect(await tm.isSignedIn()).toBe(true);
  });

  it('rejects with access_denied, tells the browser, and closes the port', async () => {
    const { tm, port } = await loopbackClient();
    s.loginAs(MALLORY_AT_HOST);
    const { loaded, open } = browser();
    await expect(tm.signInWithBrowser({ port, open })).rejects.toMatchObject({
      code: 'access_denied',
      oauthError: 'access_denied',
    });
    const pages = await loaded();
    expect(pages[0]?.status).toBe(400);
    expect(pages[0]?.text).toMatch(/could not sign you in \(access_denied\)/);
    expect(await tm.isSignedIn()).toBe(false);
    expect(await listening(port)).toBe(false);
  });

  it('gives up after timeoutMs when nobody signs in', async () => {
    const { tm } = await loopbackClient();
    let redirectUri = '';
    const wait = tm.signInWithBrowser({
      timeoutMs: 300,
      open: (url) => {
        redirectUri = new URL(url).searchParams.get('redirect_uri') ?? '';
      },
    });
    await expect(wait).rejects.toMatchObject({ code: 'timeout' });
    expect(redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(await listening(Number(new URL(redirectUri).port))).toBe(false);
  });

  it('fails at once when open fails, and closes the port', async () => {
    const { tm, port } = await loopbackClient();
    await expect(
      tm.signInWithBrowser({
        port,
        open: () => {
          throw new Error('no browser here');
        },
      }),
    ).rejects.toThrow('no browser here');
    expect(await listening(port)).toBe(false);
  });

  it('refuses a bad port or timeout before listening', async () => {
    const { tm } = await loopbackClient();
    await expect(tm.signInWithBrowser({ port: 70000 })).rejects.toThrow(/port/);
    await expect(tm.signInWithBrowser({ timeoutMs: 0 })).rejects.toThrow(/timeoutMs/);
  });
});
