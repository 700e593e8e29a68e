// fetchJson: the remote guard's HTTP client — keep-alive reuse, one resend on a reset reused socket, and every failure a 503.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OAuthError } from '../../lib/errors';
import { fetchJson } from '../../lib/guard/fetch-json';

let server: http.Server;
let base: string;
let handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
const sockets = new Set<unknown>();

beforeAll(async () => {
  server = http.createServer((req, res) => handler(req, res));
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => sockets.clear());

/** Close the server's idle kept-alive connections so that the next request opens a new socket. */
async function fresh() {
  server.closeIdleConnections();
  await new Promise((r) => setTimeout(r, 20));
  sockets.clear();
}

const json = (res: http.ServerResponse, body: unknown, status = 200) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

async function unavailable(p: Promise<unknown>) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OAuthError);
  expect(err).toMatchObject({ error: 'temporarily_unavailable', status: 503 });
  expect((err as OAuthError).headers['Retry-After']).toMatch(/^\d+$/);
}

it('posts the body with its length and reuses one kept-alive connection', async () => {
  const seen: string[] = [];
  handler = (req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      seen.push(`${req.method} ${req.headers['content-length']} ${body}`);
      json(res, { ok: true });
    });
  };
  for (let i = 0; i < 3; i++)
    await expect(
      fetchJson(`${base}/x`, { method: 'POST', body: 'token=abc' }, 1000),
    ).resolves.toEqual({ ok: true });
  expect(seen).toEqual(Array(3).fill('POST 9 token=abc'));
  expect(sockets.size).toBe(1);
});

it('sends once more on a fresh socket when a reused one is reset before answering', async () => {
  let calls = 0;
  handler = (req, res) => {
    calls++;
    // The second request on the kept-alive connection: drop it as a server closing idle sockets would.
    if (calls === 2) req.socket.destroy();
    else json(res, { n: calls });
  };
  await fresh();
  await expect(fetchJson(`${base}/x`, {}, 1000)).resolves.toEqual({ n: 1 });
  await expect(fetchJson(`${base}/x`, {}, 1000)).resolves.toEqual({ n: 3 });
  expect(sockets.size).toBe(2);
});

it('a reset on a fresh socket is not resent: 503', async () => {
  let calls = 0;
  handler = (req) => {
    calls++;
    req.socket.destroy();
  };
  await fresh();
  await unavailable(fetchJson(`${base}/x`, {}, 1000));
  expect(calls).toBe(1);
});

it('does not follow redirects, refuses non-200 and non-object answers: 503', async () => {
  handler = (req, res) => {
    if (req.url === '/redirect') {
      res.writeHead(302, { location: `${base}/ok` });
      return res.end();
    }
    if (req.url === '/ok') return json(res, { ok: true });
    if (req.url === '/array') return json(res, [1]);
    if (req.url === '/text') return res.end('not json');
    json(res, { error: 'server_error' }, 500);
  };
  await unavailable(fetchJson(`${base}/redirect`, {}, 1000));
  await unavailable(fetchJson(`${base}/array`, {}, 1000));
  await unavailable(fetchJson(`${base}/text`, {}, 1000));
  await unavailable(fetchJson(`${base}/500`, {}, 1000));
});

it('stops reading an oversized body: 503', async () => {
  handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`{"a":"${'x'.repeat(300 * 1024)}"}`);
  };
  await unavailable(fetchJson(`${base}/big`, {}, 1000));
});

it('gives up at the deadline when the server does not answer: 503', async () => {
  handler = () => {};
  const start = Date.now();
  await unavailable(fetchJson(`${base}/slow`, {}, 150));
  const took = Date.now() - start;
  expect(took).toBeGreaterThanOrEqual(140);
  expect(took).toBeLessThan(2000);
});

it('an unreachable server or a bad URL: 503', async () => {
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  await unavailable(fetchJson(`http://127.0.0.1:${port}/`, {}, 1000));
  await unavailable(fetchJson('not a url', {}, 1000));
  await unavailable(fetchJson('ftp://127.0.0.1/', {}, 1000));
});
