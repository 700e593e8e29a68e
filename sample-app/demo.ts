// `npm run demo`: a scripted client walking through refresh-token families, renewal hints, device
// sessions, tenants and local users, and service scopes against the sample; exits 1 on a misstep.
import { onEachEvent, startSample } from './sample';
import { DEMO } from './seed';

/** Seconds of device-session idleness when the demo starts its own sample. */
const OWN_IDLE = 4;

interface Reply {
  status: number;
  body: Record<string, unknown>;
  expiresIn?: number;
  challenge?: string;
}

interface TokenPair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

let failures = 0;
/** Audit events of a sample the demo started itself, printed under the step that caused them. */
const seen: string[] = [];
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

class Unexpected extends Error {}

function expect(what: string, ok: boolean, detail: string): void {
  if (!ok) throw new Unexpected(`${what}: ${detail}`);
}

async function step(title: string, run: () => Promise<string[]>): Promise<void> {
  try {
    const lines = await run();
    await new Promise((r) => setImmediate(r)); // listeners run after the responses
    console.log(`\n✓ ${title}`);
    for (const line of lines) console.log(`    ${line}`);
    for (const line of seen.splice(0)) console.log(`      ${line}`);
  } catch (err) {
    failures++;
    console.log(`\n✗ ${title}\n    ${err instanceof Unexpected ? err.message : String(err)}`);
  }
}

async function reply(res: Response): Promise<Reply> {
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { text };
  }
  const left = res.headers.get('token-expires-in');
  const challenge = res.headers.get('www-authenticate');
  return {
    status: res.status,
    body,
    ...(left !== null ? { expiresIn: Number(left) } : {}),
    ...(challenge !== null ? { challenge } : {}),
  };
}

function client(issuer: string, printUrl: string) {
  const form = (path: string, fields: Record<string, string>, basic?: [string, string]) =>
    fetch(`${issuer}${path}`, {
      method: 'POST',
      headers: basic
        ? { authorization: `Basic ${Buffer.from(basic.join(':')).toString('base64')}` }
        : {},
      body: new URLSearchParams(fields),
    }).then(reply);
  const ps: [string, string] = [DEMO.printService.id, DEMO.printService.secret];
  return {
    signIn: async (app: string, user: { username: string; password: string }, device: string) => {
      const r = await form('/oauth2/token', {
        grant_type: 'password',
        client_id: app,
        ...user,
        device_id: device,
      });
      expect(`${user.username} signs in with ${app}`, r.status === 200, JSON.stringify(r.body));
      return r.body as unknown as TokenPair;
    },
    refresh: (app: string, rt: string) =>
      form('/oauth2/token', { grant_type: 'refresh_token', client_id: app, refresh_token: rt }),
    revoke: (app: string, token: string) => form('/oauth2/revoke', { client_id: app, token }),
    serviceToken: async (basic: [string, string], fields: Record<string, string>) => {
      const r = await form('/oauth2/token', { grant_type: 'client_credentials', ...fields }, basic);
      expect(`${basic[0]} gets a token`, r.status === 200, JSON.stringify(r.body));
      return (r.body as unknown as TokenPair).access_token;
    },
    printService: ps,
    call: (path: string, token: string, init: RequestInit = {}) =>
      fetch(`${printUrl}${path}`, {
        ...init,
        headers: { ...(init.headers ?? {}), authorization: `Bearer ${token}` },
      }).then(reply),
  };
}

async function sampleUrls(): Promise<{
  issuer: string;
  printUrl: string;
  stop?: () => Promise<void>;
}> {
  const own = process.argv.includes('--start');
  const issuer = process.env.AUTH_URL ?? 'http://localhost:4000';
  const printUrl = process.env.PRINT_URL ?? 'http://localhost:4100';
  if (!own) {
    const up = await fetch(`${issuer}/.well-known/oauth-authorization-server`, {
      signal: AbortSignal.timeout(1000),
    }).then(
      (r) => r.ok,
      () => false,
    );
    if (up) {
      console.log(`Using the running sample: ${issuer} and ${printUrl}`);
      return { issuer, printUrl };
    }
  }
  const sample = await startSample({ authPort: 0, printPort: 0, deviceIdleTtl: OWN_IDLE });
  onEachEvent(sample.auth, (line) => seen.push(line));
  console.log(
    `Started a sample of our own (MemoryStore, device sessions idle after ${OWN_IDLE} s): ${sample.issuer} and ${sample.printUrl}`,
  );
  return { issuer: sample.issuer, printUrl: sample.printUrl, stop: () => sample.close() };
}

async function main(): Promise<void> {
  const { issuer, printUrl, stop } = await sampleUrls();
  const c = client(issuer, printUrl);
  const { alice, bob, mobileApp, printApp } = DEMO;
  const m = mobileApp.id;
  // The print server (a remote guard) hears of revocations through the server's revocation feed;
  // without it, within its 1 s cache bound. Polls until the token is refused; returns how long it took.
  const refusedAfter = async (path: string, token: string): Promise<number> => {
    const start = Date.now();
    while (Date.now() - start < 1100 && (await c.call(path, token)).status !== 401)
      await sleep(0.02);
    return Date.now() - start;
  };

  await step('Renewal hints: a guarded call carries Token-Expires-In', async () => {
    const s = await c.signIn(m, alice, 'phone-1');
    const r = await c.call('/print/jobs', s.access_token);
    expect('GET /print/jobs', r.status === 200, `status ${r.status}`);
    expect(
      'Token-Expires-In',
      r.expiresIn !== undefined && r.expiresIn <= s.expires_in,
      `${r.expiresIn}`,
    );
    return [
      `alice signed in with ${m} on device phone-1: expires_in ${s.expires_in} s`,
      `GET /print/jobs → 200, Token-Expires-In: ${r.expiresIn}`,
    ];
  });

  await step(
    'Refresh-token families: renewal rotates the refresh token; the old access token keeps working (overlap)',
    async () => {
      const s = await c.signIn(m, alice, 'phone-1');
      const r = await c.refresh(m, s.refresh_token);
      expect('refresh', r.status === 200, JSON.stringify(r.body));
      const next = r.body as unknown as TokenPair;
      const old = await c.call('/me', s.access_token);
      const fresh = await c.call('/me', next.access_token);
      expect('old access token', old.status === 200, `status ${old.status}`);
      expect('new access token', fresh.status === 200, `status ${fresh.status}`);
      const replay = await c.refresh(m, s.refresh_token);
      expect('replayed refresh token', replay.status === 400, `status ${replay.status}`);
      const after = await c.refresh(m, next.refresh_token);
      expect('family after reuse', after.status === 400, `status ${after.status}`);
      const lag = await refusedAfter('/me', next.access_token);
      const dead = await c.call('/me', next.access_token);
      expect('access token of the revoked family', dead.status === 401, `status ${dead.status}`);
      return [
        'refresh → a new pair; old and new access tokens both → 200',
        `replaying the rotated refresh token → ${replay.status} ${replay.body.error} (reuse: the family is revoked)`,
        `the newest refresh token → ${after.status} ${after.body.error}; its access token → 401 at the print server ${lag < 1000 ? `${lag} ms later (pushed by the revocation feed)` : 'within its 1 s cache bound'}`,
      ];
    },
  );

  await step(
    'Family revocation: revoking the root refresh token, after two rotations, revokes the whole family',
    async () => {
      const s = await c.signIn(m, alice, 'phone-1');
      let rt = s.refresh_token;
      let at = s.access_token;
      for (let i = 0; i < 2; i++) {
        const r = await c.refresh(m, rt);
        expect(`rotation ${i + 1}`, r.status === 200, JSON.stringify(r.body));
        rt = (r.body as unknown as TokenPair).refresh_token;
        at = (r.body as unknown as TokenPair).access_token;
      }
      const rv = await c.revoke(m, s.refresh_token);
      expect('revoke the root', rv.status === 200, `status ${rv.status}`);
      const r = await c.refresh(m, rt);
      expect('current refresh token', r.status === 400, `status ${r.status}`);
      await refusedAfter('/me', at);
      const a = await c.call('/me', at);
      expect('current access token', a.status === 401, `status ${a.status}`);
      return [
        'sign-in, two rotations, then POST /oauth2/revoke with the (already rotated) root → 200',
        `current refresh token → ${r.status} ${r.body.error}; current access token → 401`,
      ];
    },
  );

  await step(
    'Device sessions: two apps on one device keep each other alive; another user on it does not',
    async () => {
      const device = `kitchen-tablet-${Date.now()}`;
      const a = await c.signIn(m, alice, device);
      const b = await c.signIn(printApp.id, alice, device);
      const other = await c.signIn(m, bob, device);
      const idle = a.expires_in;
      const lines = [
        `alice signed in on ${device} with ${m} and with ${printApp.id}; bob signed in there too`,
      ];
      if (idle > 30) {
        // A long idle TTL (a sample started with the default): show the sliding deadline instead.
        await sleep(2);
        const r = await c.call('/me', a.access_token);
        lines.push(
          `the sample's sessions idle after ${idle} s; activity by ${m} → Token-Expires-In ${r.expiresIn} (back to the full idle time)`,
          'start the sample with DEVICE_IDLE_TTL=4 (or run `npm run demo -- --start`) to watch tokens idle out',
        );
        expect('activity', r.status === 200 && (r.expiresIn ?? 0) >= idle - 1, `${r.expiresIn}`);
        return lines;
      }
      for (let t = 1; t <= idle + 2; t++) {
        await sleep(1);
        const r = await c.call('/me', a.access_token);
        expect(`${m} at ${t} s`, r.status === 200, `status ${r.status}`);
      }
      const rb = await c.call('/me', b.access_token);
      const ro = await c.call('/me', other.access_token);
      expect(`${printApp.id}, idle itself`, rb.status === 200, `status ${rb.status}`);
      expect('bob, idle on the same device', ro.status === 401, `status ${ro.status}`);
      const rr = await c.refresh(m, other.refresh_token);
      expect("bob's refresh token", rr.status === 400, `status ${rr.status}`);
      await sleep(idle + 1.5);
      const gone = await c.call('/me', b.access_token);
      expect(
        `${printApp.id} after the whole device idled`,
        gone.status === 401,
        `status ${gone.status}`,
      );
      lines.push(
        `sessions idle after ${idle} s; only ${m} was used, every second, for ${idle + 2} s`,
        `${printApp.id}'s token, never used meanwhile → 200 (kept alive by ${m}), Token-Expires-In ${rb.expiresIn}`,
        `bob's token on the same device → 401; his refresh token → ${rr.status} ${rr.body.error}`,
        `after ${idle + 1.5} s with no activity at all, ${printApp.id}'s token → 401`,
      );
      return lines;
    },
  );

  await step(
    'Tenants and local users: the identity follows the tenant’s local-user mode',
    async () => {
      const frontDesk = await c.serviceToken(c.printService, { local_user: 'front-desk-7' });
      const kiosk = await c.serviceToken([DEMO.kiosk.id, DEMO.kiosk.secret], {
        local_user: 'lobby-1',
      });
      const user = await c.signIn(m, alice, 'phone-1');
      const ids = await Promise.all(
        [frontDesk, kiosk, user.access_token].map((t) => c.call('/me', t)),
      );
      const [fd, ki, us] = ids.map((r) => r.body.identity as Record<string, string> | undefined);
      expect(
        'acme (mode on)',
        fd?.kind === 'local_user' && fd.id === 'front-desk-7',
        JSON.stringify(fd),
      );
      expect(
        'globex (mode off)',
        ki?.kind === 'client' && ki.id === DEMO.kiosk.id,
        JSON.stringify(ki),
      );
      expect('user token', us?.kind === 'user' && us.id === 'alice', JSON.stringify(us));
      return [
        `print-service (tenant acme, localUserMode on) with local_user front-desk-7 → ${JSON.stringify(fd)}`,
        `kiosk (tenant globex, localUserMode off) with local_user lobby-1 → ${JSON.stringify(ki)}`,
        `alice's token → ${JSON.stringify(us)}`,
      ];
    },
  );

  await step('Service scopes and role checks: roles are read at request time', async () => {
    const post = (token: string) =>
      c.call('/print/jobs', token, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ document: 'quarterly-report.pdf' }),
      });
    const a = await post((await c.signIn(m, alice, 'phone-1')).access_token);
    const b = await post((await c.signIn(m, bob, 'phone-2')).access_token);
    const scanOnly = await c.serviceToken(c.printService, { scope: 'scan' });
    const scan = await c.call('/scan', scanOnly);
    const noPrint = await c.call('/print/jobs', scanOnly);
    const svc = await post(await c.serviceToken(c.printService, { scope: 'print' }));
    expect('alice (role printer)', a.status === 201, `status ${a.status}`);
    expect(
      'bob (no role)',
      b.status === 403 && /scope="print"/.test(b.challenge ?? ''),
      `${b.status} ${b.challenge}`,
    );
    expect('scan scope on /scan', scan.status === 200, `status ${scan.status}`);
    expect('scan scope on /print', noPrint.status === 403, `status ${noPrint.status}`);
    expect('client token on a role-checked service', svc.status === 403, `status ${svc.status}`);
    return [
      `alice (role printer) POST /print/jobs → ${a.status} ${JSON.stringify(a.body)}`,
      `bob (no role) → ${b.status}, WWW-Authenticate: ${b.challenge}`,
      `print-service with scope scan: /scan → ${scan.status}, /print/jobs → ${noPrint.status}`,
      `print-service with scope print, but no user for the role check → ${svc.status}`,
    ];
  });

  await stop?.();
  console.log(
    failures === 0 ? '\nAll steps behaved as documented.' : `\n${failures} step(s) failed.`,
  );
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
