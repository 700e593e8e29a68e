// Load for failure tests: fetch calls timed and recorded by kind, and refresh-token families a client keeps rotating.
import type { Cluster, Redis } from 'ioredis';
import { type Store, StoreUnavailableError } from '../../lib';
import { parseRefreshToken } from '../../lib/tokens/refresh-token';
import { APP, SVC } from './app';

export type Kind = 'issue' | 'refresh' | 'guarded';

/** One response (status 0: no response — network error or the client-side timeout). */
export interface Sample {
  kind: Kind;
  sentAt: number;
  receivedAt: number;
  status: number;
  retryAfter: string | null;
  /** `error` of the JSON body, when there is one. */
  error?: string;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Records every call it makes; a call that gets no answer within `timeoutMs` is status 0. */
export class Recorder {
  readonly samples: Sample[] = [];
  constructor(private readonly timeoutMs = 10_000) {}

  async call(
    kind: Kind,
    url: string,
    init: RequestInit = {},
  ): Promise<{ sample: Sample; body: Record<string, unknown> }> {
    const sentAt = Date.now();
    let status = 0;
    let retryAfter: string | null = null;
    let body: Record<string, unknown> = {};
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
      status = res.status;
      retryAfter = res.headers.get('retry-after');
      const text = await res.text();
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        body = { text };
      }
    } catch (err) {
      body = { failure: String(err) };
    }
    const sample: Sample = {
      kind,
      sentAt,
      receivedAt: Date.now(),
      status,
      retryAfter,
      ...(typeof body.error === 'string' ? { error: body.error } : {}),
    };
    this.samples.push(sample);
    return { sample, body };
  }

  /** client_credentials as the seeded `svc` client (Basic auth). */
  issue(base: string) {
    return this.call('issue', `${base}/oauth2/token`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${SVC.id}:${SVC.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
  }

  /** `path` on a guarded app with `token`. */
  guarded(url: string, token: string) {
    return this.call('guarded', url, { headers: { Authorization: `Bearer ${token}` } });
  }

  /**
   * One refresh of `family` as the public `app` client. A 200 moves the family on to the new
   * token; anything else keeps the held token, which is what a client retries with after a 503.
   */
  async rotate(base: string, family: Family): Promise<Sample> {
    const { sample, body } = await this.call('refresh', `${base}/oauth2/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: APP.id,
        refresh_token: family.held,
      }),
    });
    if (sample.status === 200 && typeof body.refresh_token === 'string') {
      family.held = body.refresh_token;
      family.acked.push(body.refresh_token);
      family.lastOkAt = sample.receivedAt;
    } else if (sample.status === 400) {
      family.rejected ??= {
        at: sample.receivedAt,
        error: `${body.error}: ${body.error_description}`,
      };
    }
    return sample;
  }
}

/** A refresh-token family as its client sees it. */
export interface Family {
  grantId: string;
  /** The token the client holds: the last one it got in a 200. */
  held: string;
  /** Every token the client got in a 200, in order (the sign-in's first). */
  acked: string[];
  /** When the client last got a 200 for it (its sign-in, at first). */
  lastOkAt: number;
  /** The first 400 the family got, if any: the client's held token was refused. */
  rejected?: { at: number; error: string };
}

export function family(refreshToken: string): Family {
  const parsed = parseRefreshToken(refreshToken);
  if (!parsed) throw new Error('not a refresh token');
  return {
    grantId: parsed.grantId,
    held: refreshToken,
    acked: [refreshToken],
    lastOkAt: Date.now(),
  };
}

/** Run every loop body repeatedly until `done()`; a loop never overlaps itself. */
export async function drive(loops: (() => Promise<unknown>)[], done: () => boolean): Promise<void> {
  await Promise.all(
    loops.map(async (body) => {
      while (!done()) await body();
    }),
  );
}

/**
 * Where a family stands in the store, read without presenting anything:
 * `current` — the held (last acknowledged) token is the live one;
 * `lost` — the store does not know the held token, or an earlier acknowledged one is live again
 *   (the store went back in time: an acknowledged write was lost);
 * `superseded` — the held token is known but a rotation the client never saw an answer to took
 *   effect after it (the client's retry then relies on the abandoned-rotation marker);
 * `revoked` — the family is revoked.
 */
export type FamilyState = 'current' | 'lost' | 'superseded' | 'revoked';

export async function familyState(
  store: Store,
  redis: Redis | Cluster,
  prefix: string,
  f: Family,
): Promise<FamilyState> {
  const now = Math.floor(Date.now() / 1000);
  const stateOf = (token: string) => {
    const parsed = parseRefreshToken(token);
    if (!parsed) throw new Error('not a refresh token');
    return store.getRefreshTokenState(parsed.grantId, parsed.hash, now);
  };
  const held = await stateOf(f.held);
  if (!held) return 'lost';
  if (held.active) return 'current';
  for (const earlier of f.acked.slice(0, -1)) {
    if ((await stateOf(earlier))?.active) return 'lost';
  }
  return (await redis.hget(`${prefix}{g:${f.grantId}}`, 'rev')) === '1' ? 'revoked' : 'superseded';
}

/**
 * How many families are in each state. A family whose read the store answers unavailable is read
 * again for up to `patienceMs`: this measures what the store holds, not whether it answers (the
 * load measures that); `retries` says how often it happened.
 */
export async function familyStates(
  store: Store,
  redis: Redis | Cluster,
  prefix: string,
  families: Family[],
  patienceMs = 5000,
): Promise<{ counts: Record<FamilyState, number>; retries: number }> {
  const counts: Record<FamilyState, number> = { current: 0, lost: 0, superseded: 0, revoked: 0 };
  const deadline = Date.now() + patienceMs;
  let retries = 0;
  for (const f of families) {
    for (;;) {
      try {
        counts[await familyState(store, redis, prefix, f)]++;
        break;
      } catch (err) {
        if (!(err instanceof StoreUnavailableError) || Date.now() > deadline) throw err;
        retries++;
        await sleep(100);
      }
    }
  }
  return { counts, retries };
}

/**
 * After the run: refresh each family once more with its held token, retrying 503s for up to
 * `ms`, as a client would. Returns the final status of each (200: the family lives on).
 */
export async function settle(
  rec: Recorder,
  base: string,
  families: Family[],
  ms = 15_000,
): Promise<number[]> {
  const deadline = Date.now() + ms;
  return Promise.all(
    families.map(async (f) => {
      for (;;) {
        const { status } = await rec.rotate(base, f);
        if (status !== 503 && status !== 0) return status;
        if (Date.now() > deadline) return status;
        await sleep(100);
      }
    }),
  );
}

/**
 * Why `store`'s token writes failed (the 503s), counted by the store error and what ioredis or
 * Redis answered (digits blanked); the store's methods are wrapped, nothing else changes.
 */
export function countFailures(store: Store): Map<string, number> {
  const failures = new Map<string, number>();
  for (const method of ['createGrant', 'rotateRefreshToken'] as const) {
    const original = store[method].bind(store) as (...args: unknown[]) => Promise<unknown>;
    (store as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      try {
        return await original(...args);
      } catch (err) {
        const e = err as Error & { cause?: Error };
        const why = `${e.message}${e.cause ? `: ${e.cause.message}` : ''}`.replace(/\d+/g, 'N');
        failures.set(why, (failures.get(why) ?? 0) + 1);
        throw err;
      }
    };
  }
  return failures;
}

/** Counts of samples by status, e.g. `{ 200: 812, 503: 97 }`. */
export function byStatus(samples: Sample[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const s of samples) out[s.status] = (out[s.status] ?? 0) + 1;
  return out;
}

export interface FailoverRunOptions {
  /** Base URL of the authorization server. */
  base: string;
  /** Creates one family (a password sign-in). */
  signIn: () => Promise<string>;
  store: Store;
  redis: Redis | Cluster;
  prefix: string;
  families?: number;
  /** When to start `action` (ms after the load started). */
  actionAtMs?: number;
  /** The failure; resolves once the topology is whole again. */
  action: (families: Family[]) => Promise<void>;
  /** Once issuance and every family succeeded again after the action, keep loading this long. */
  afterRecoveryMs?: number;
  /** Give up waiting for recovery this long after the action ended. */
  recoveryBoundMs?: number;
}

export interface FailoverRun {
  samples: Sample[];
  families: Family[];
  /** Times (epoch ms): action started and ended, and when every kind had succeeded again. */
  marks: { action: number; actionDone: number; recovered: number };
  /** From the last issuance answered 200 before the action to the first 200 sent after it began. */
  issuanceGapMs: number;
  /** Families whose last acknowledged refresh token the store no longer knows (or went back on). */
  lost: number;
  /**
   * Families refused although nothing was lost: a rotation whose answer the client never got (503)
   * took effect, and the client's retry with the same token was then taken for reuse.
   */
  retryRefused: number;
  /** Statuses of the last refresh of every family still standing after the run. */
  settled: number[];
  summary: Record<string, unknown>;
}

/**
 * 4 issuing loops and one rotating loop per family (a client that retries a 503'd refresh with
 * the same token), with `action` started at `actionAtMs`; runs until issuance and every family
 * have succeeded again after it (+ `afterRecoveryMs`), then classifies every family.
 */
export async function failoverUnderLoad(o: FailoverRunOptions): Promise<FailoverRun> {
  const families: Family[] = [];
  for (let i = 0; i < (o.families ?? 8); i++) families.push(family(await o.signIn()));
  const rec = new Recorder();
  const marks = { action: 0, actionDone: 0, recovered: 0 };
  const pace = async (s: Sample) => {
    if (s.status !== 200) await sleep(50); // a client backs off a little when refused
  };
  const loops: (() => Promise<unknown>)[] = [];
  for (let i = 0; i < 4; i++) loops.push(async () => pace((await rec.issue(o.base)).sample));
  for (const f of families) {
    // A refused family is done for: its client would sign in again.
    loops.push(async () => (f.rejected ? sleep(100) : pace(await rec.rotate(o.base, f))));
  }
  const action = (async () => {
    await sleep(o.actionAtMs ?? 1000);
    marks.action = Date.now();
    await o.action(families);
    marks.actionDone = Date.now();
  })();
  const recoveredAt = () => {
    if (!marks.actionDone) return 0;
    const issue = rec.samples.find(
      (s) => s.kind === 'issue' && s.status === 200 && s.sentAt > marks.actionDone,
    );
    if (!issue || !families.every((f) => f.rejected || f.lastOkAt > marks.actionDone)) return 0;
    return Math.max(issue.receivedAt, ...families.map((f) => (f.rejected ? 0 : f.lastOkAt)));
  };
  let failure: unknown;
  action.catch((err) => {
    failure = err;
  });
  await drive(loops, () => {
    marks.recovered ||= recoveredAt();
    return (
      failure !== undefined ||
      (marks.recovered > 0 && Date.now() > marks.recovered + (o.afterRecoveryMs ?? 1000)) ||
      (marks.actionDone > 0 && Date.now() > marks.actionDone + (o.recoveryBoundMs ?? 20_000))
    );
  });
  await action;

  const issues = rec.samples.filter((s) => s.kind === 'issue');
  const lastOkBefore = Math.max(
    ...issues
      .filter((s) => s.status === 200 && s.receivedAt < marks.action)
      .map((s) => s.receivedAt),
  );
  const firstOkAfter =
    issues.find((s) => s.status === 200 && s.sentAt > marks.action)?.receivedAt ?? Number.NaN;
  const standing = families.filter((f) => !f.rejected);
  // Read through the store: if it stays unavailable, say so in the summary (lost: NaN).
  const read = await familyStates(o.store, o.redis, o.prefix, standing).catch((err: Error) => err);
  const states = read instanceof Error ? read : read.counts;
  const settled = await settle(rec, o.base, standing);
  // `not_found` means the store lost the held token; reuse (or a family revoked by a reuse
  // detected on a request the client saw 503 for) means a rotation it never saw took effect.
  const refusedLost = families.filter((f) => f.rejected?.error.includes('not valid')).length;
  const refusedRetry = families.filter(
    (f) => f.rejected && !f.rejected.error.includes('not valid'),
  ).length;
  const rel = (t: number) => (t ? t - marks.action : null);
  const summary = {
    requests: byStatus(rec.samples),
    beforeAction: byStatus(rec.samples.filter((s) => s.receivedAt < marks.action)),
    duringAction: byStatus(
      rec.samples.filter((s) => s.receivedAt >= marks.action && s.sentAt <= marks.actionDone),
    ),
    afterAction: byStatus(rec.samples.filter((s) => s.sentAt > marks.actionDone)),
    actionMs: rel(marks.actionDone),
    recoveredMsAfterAction: marks.recovered ? marks.recovered - marks.actionDone : null,
    issuanceGapMs: firstOkAfter - lastOkBefore,
    refusedDuringRun: families.flatMap((f) => (f.rejected ? [f.rejected.error] : [])),
    statesAfterRun: states instanceof Error ? `unreadable: ${states.message}` : states,
    ...(read instanceof Error || !read.retries ? {} : { stateReadsRetried: read.retries }),
    settled: byStatus(settled.map((status) => ({ status }) as Sample)),
  };
  return {
    samples: rec.samples,
    families,
    marks,
    issuanceGapMs: firstOkAfter - lastOkBefore,
    lost: refusedLost + (states instanceof Error ? Number.NaN : states.lost),
    retryRefused: refusedRetry + settled.filter((s) => s === 400).length,
    settled,
    summary,
  };
}
