// `npm start` end to end: both sample servers answer, a token works on the print API, and SIGTERM exits 0.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { DEMO } from '../../sample-app/seed';

const ROOT = path.join(__dirname, '..', '..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().once('error', reject);
    srv.listen(0, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls until no process is left in process group `pgid`. */
async function groupGone(pgid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe('npm start (sample-app/start.ts)', () => {
  let child: ChildProcess | undefined;
  let output = '';
  let port = 0;
  let printPort = 0;

  beforeAll(async () => {
    port = await freePort();
    printPort = await freePort();
    const { REDIS_URL: _, ...env } = process.env;
    // Own process group, so afterAll can kill npm and the node it started together.
    child = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { ...env, AUTH_PORT: String(port), PRINT_PORT: String(printPort) },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
  });

  afterAll(() => {
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('serves metadata on AUTH_PORT', async () => {
    const url = `http://localhost:${port}/.well-known/oauth-authorization-server`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child?.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
      const res = await fetch(url).catch(() => undefined);
      if (res?.ok) {
        expect((await res.json()).issuer).toBe(`http://localhost:${port}`);
        break;
      }
      if (Date.now() > deadline) throw new Error(`no answer from ${url} within 60 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(output).toContain('curl -s -u print-service:print-service-secret');
    expect(output).toContain(`cloud print API:      http://localhost:${printPort}`);
  }, 70_000);

  it('issues a client_credentials token to print-service', async () => {
    const { id, secret } = DEMO.printService;
    const res = await fetch(`http://localhost:${port}/oauth2/token`, {
      method: 'POST',
      headers: { Authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'print' }),
    });
    const body = await res.json();
    expect({ status: res.status, body }).toMatchObject({
      status: 200,
      body: { token_type: 'Bearer', scope: 'print' },
    });
    expect(typeof body.access_token).toBe('string');
    // The print server (remote-mode guard) admits it on the scan service, refuses it on print (no user).
    const call = (path: string) =>
      fetch(`http://localhost:${printPort}${path}`, {
        headers: { authorization: `Bearer ${body.access_token}` },
      });
    const scan = await call('/scan');
    expect(scan.status).toBe(403); // the token holds scope print only
    const me = await call('/me');
    expect(me.status).toBe(200);
    expect(me.headers.get('token-expires-in')).toMatch(/^\d+$/);
    expect((await me.json()).identity).toEqual({ kind: 'client', id: id, tenantId: 'acme' });
    expect((await call('/print/jobs')).status).toBe(403);
    expect((await fetch(`http://localhost:${printPort}/print/jobs`)).status).toBe(401);
    // The auth server's Prometheus metrics count the issue, and the event stream is printed.
    const metrics = await (await fetch(`http://localhost:${port}/metrics`)).text();
    expect(metrics).toMatch(
      /tokenward_auth_events_total\{event="token.issued",detail="client_credentials"\} [1-9]/,
    );
    for (let i = 0; i < 20 && !output.includes('event token.issued'); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(output).toContain('event token.issued {"grantType":"client_credentials"');
    expect(output).not.toContain(body.access_token);
  });

  it('exits 0 within 5 s of SIGTERM, leaving no process behind', async () => {
    const proc = child as ChildProcess;
    const exited = once(proc, 'close'); // after stdout is drained too
    proc.kill('SIGTERM');
    const timeout = new Promise((_, reject) =>
      setTimeout(
        () => reject(new Error(`still running 5 s after SIGTERM:\n${output}`)),
        5000,
      ).unref(),
    );
    const [code, signal] = (await Promise.race([exited, timeout])) as [
      number | null,
      string | null,
    ];
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(output).toContain('SIGTERM: shutting down');
    expect(await groupGone(proc.pid as number, 3000)).toBe(true); // npm and the node it started both ended
  }, 10_000);
});
