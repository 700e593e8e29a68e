// Revocation lag: tokens revoked one at a time (RFC 7009) while a remote guard is under load, each timed until the guard refuses it.
import http from 'node:http';
import { ROUTE } from './shared';

/** What one measured run saw. */
export interface LagRun {
  /** Milliseconds from each revoke's response to the guard's first 401 for that token. */
  lags: number[];
  /** Revoked tokens the guard still accepted `giveUpMs` after the revoke answered. */
  failures: number;
}

export interface LagPlan {
  guardPort: number;
  issuerPort: number;
  /** The authorization server's revocation endpoint path. */
  revokePath: string;
  /** The next token to revoke (issued to the client `auth` authenticates, outside the load set). */
  nextToken: () => string;
  /** Basic credentials of the client the tokens were issued to (RFC 7009 §2.1). */
  auth: string;
  /** Revocations, spread evenly over `seconds`. */
  count: number;
  seconds: number;
  /** Pause between a poll's answer and the next poll. */
  pollMs?: number;
  /** A token still accepted this long after its revoke answered is a failure. */
  giveUpMs?: number;
}

// Its own keep-alive pool: polls must not wait behind autocannon's connections or new handshakes.
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** One request over the pool; resolves with the status once the body is read. */
function call(
  port: number,
  method: 'GET' | 'POST',
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end(body);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Revoke one token and time the guard: first the guard accepts it once (so its answer is cached,
 * as it would be for a token in use: otherwise the first poll would introspect afresh and say 401
 * at once), then the revoke, then a poll every `pollMs` until the guard answers 401.
 */
async function revokeOne(plan: LagPlan, token: string): Promise<number | undefined> {
  const bearer = { authorization: `Bearer ${token}` };
  const primed = await call(plan.guardPort, 'GET', ROUTE, bearer);
  if (primed !== 200) throw new Error(`revocation-lag: the guard answered ${primed} before revoke`);
  const form = new URLSearchParams({ token, token_type_hint: 'access_token' }).toString();
  const revoked = await call(
    plan.issuerPort,
    'POST',
    plan.revokePath,
    { 'content-type': 'application/x-www-form-urlencoded', authorization: plan.auth },
    form,
  );
  if (revoked !== 200)
    throw new Error(`revocation-lag: the revocation endpoint answered ${revoked}`);
  const t0 = performance.now();
  const giveUp = plan.giveUpMs ?? 5000;
  for (;;) {
    const status = await call(plan.guardPort, 'GET', ROUTE, bearer);
    const waited = performance.now() - t0;
    if (status === 401) return Math.round(waited);
    if (status !== 200) throw new Error(`revocation-lag: a poll answered ${status}`);
    if (waited >= giveUp) return undefined;
    await sleep(plan.pollMs ?? 3);
  }
}

/**
 * `count` revocations spread evenly over `seconds` (each starts on its own schedule, so slow ones
 * overlap the next), resolved once every one has been refused or given up on.
 */
export async function revocationLags(plan: LagPlan): Promise<LagRun> {
  const gap = (plan.seconds * 1000) / plan.count;
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: plan.count }, async (_, i) => {
      await sleep(Math.max(0, t0 + i * gap - performance.now()));
      return revokeOne(plan, plan.nextToken());
    }),
  );
  const lags = results.filter((l): l is number => l !== undefined);
  return { lags, failures: results.length - lags.length };
}
