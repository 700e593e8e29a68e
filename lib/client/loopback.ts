// The loopback redirect of native apps (RFC 8252 §7.3), Node only: a one-shot HTTP server on 127.0.0.1 that waits for the authorization response.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenManagerError } from './errors';

/** The path the authorization server redirects the browser to. */
export const CALLBACK_PATH = '/callback';

/** An authorization response that reached the loopback server, and the browser waiting for a page. */
export interface LoopbackCallback {
  params: URLSearchParams;
  /** Answer the browser (`ok`: signed in, else why not) and let the server close. */
  answer(ok: boolean, message: string): void;
}

/** A listening loopback server. */
export interface Loopback {
  /** `http://127.0.0.1:<port>/callback`: the redirect URI to send and register. */
  redirectUri: string;
  /** The first callback whose `state` is `state`; rejects with `timeout` after `timeoutMs`. */
  callback(state: string, timeoutMs: number): Promise<LoopbackCallback>;
  /** Stop listening and drop open connections. */
  close(): Promise<void>;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res: ServerResponse, status: number, title: string, message: string): void {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></body></html>\n`;
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    // The page's URL holds the authorization code: no link or resource of it may leak it.
    'Referrer-Policy': 'no-referrer',
    'Content-Security-Policy': "default-src 'none'",
  });
  res.end(html);
}

/**
 * Listen on 127.0.0.1 — the IP literal, not `localhost`, which may resolve to another interface or
 * family (RFC 8252 §8.3) — on `port` (0: any free port, as RFC 8252 §7.3 lets the app choose).
 */
export async function listenLoopback(port = 0): Promise<Loopback> {
  let expected: string | undefined;
  let deliver: ((cb: LoopbackCallback) => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== CALLBACK_PATH) return page(res, 404, 'Not found', 'Nothing here.');
    if (req.method !== 'GET') return page(res, 405, 'Method not allowed', 'Use GET.');
    const params = url.searchParams;
    // Any local page or process can reach this port: a request without the state we sent is not
    // our sign-in, and must neither end the wait nor be redeemed.
    if (deliver === undefined || params.get('state') !== expected)
      return page(
        res,
        400,
        'Not the expected sign-in',
        'This is not the sign-in the app is waiting for. Start again from the app.',
      );
    const resolve = deliver;
    deliver = undefined;
    resolve({
      params,
      answer: (ok, message) =>
        page(
          res,
          ok ? 200 : 400,
          ok ? 'Signed in' : 'Sign-in failed',
          `${message} You may close this window.`,
        ),
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject).listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    redirectUri: `http://127.0.0.1:${bound}${CALLBACK_PATH}`,
    callback: (state, timeoutMs) =>
      new Promise((resolve, reject) => {
        expected = state;
        timer = setTimeout(() => {
          deliver = undefined;
          reject(
            new TokenManagerError(
              'timeout',
              `nobody completed the sign-in in the browser within ${Math.round(timeoutMs / 1000)} s`,
            ),
          );
        }, timeoutMs);
        deliver = (cb) => {
          clearTimeout(timer);
          resolve(cb);
        };
      }),
    close: () =>
      new Promise<void>((resolve) => {
        // A wait abandoned (open failed) must not keep the process alive until its timeout.
        clearTimeout(timer);
        deliver = undefined;
        server.close(() => resolve());
        // The browser may keep its connection alive: the answer is sent, nothing else is awaited.
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      }),
  };
}
