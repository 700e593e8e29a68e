// Load generation: autocannon runs (static requests, or per-connection refresh chains) and setup calls over fetch.
import autocannon from 'autocannon';

export const CONNECTIONS = 16;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

export const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** What one autocannon run sends and how each response body is checked. */
export interface Load {
  requests: autocannon.Request[];
  verify: (body: string) => boolean;
  setupClient?: (client: autocannon.Client) => void;
}

/** A static form POST. */
export function formRequest(
  path: string,
  form: Record<string, string>,
  auth?: string,
): autocannon.Request {
  const headers = { ...FORM, ...(auth ? { authorization: auth } : {}) };
  return { method: 'POST', path, headers, body: new URLSearchParams(form).toString() };
}

/**
 * Refresh rotation: every connection follows its own family, starting from one of `tokens` and
 * sending next the refresh_token of its last response (autocannon setupClient + onResponse).
 */
export function refreshChains(path: string, clientId: string, tokens: string[]): Load {
  const setupClient = (client: autocannon.Client) => {
    const chain = { rt: tokens.pop() ?? 'no-token-left' };
    client.setRequests([
      {
        method: 'POST',
        path,
        headers: FORM,
        setupRequest: (req) => ({
          ...req,
          body: new URLSearchParams({
            grant_type: 'refresh_token',
            client_id: clientId,
            refresh_token: chain.rt,
          }).toString(),
        }),
        onResponse: (status, body) => {
          if (status === 200)
            chain.rt = (JSON.parse(body) as { refresh_token: string }).refresh_token;
        },
      },
    ]);
  };
  return {
    requests: [formRequest(path, {})],
    verify: (b) => b.includes('"refresh_token"'),
    setupClient,
  };
}

/**
 * `GET path` with `Authorization: Bearer <token>`, every token in turn: connection c sends tokens
 * c, c + CONNECTIONS, c + 2·CONNECTIONS, … round-robin (requests built once, before the run), so
 * the whole list is cycled in order and a token comes back only after all the others. `cursors`
 * (one per connection, kept by the caller across runs) makes each run resume where the last
 * stopped: a warm-up does not put the measured run's first tokens into a guard's cache.
 */
export function bearerCycle(
  path: string,
  tokens: string[],
  cursors: number[],
  verify: (body: string) => boolean,
): Load {
  let nextClient = 0;
  const setupClient = (client: autocannon.Client) => {
    const c = nextClient++ % CONNECTIONS;
    const mine = tokens.filter((_, k) => k % CONNECTIONS === c);
    const start = (cursors[c] ?? 0) % mine.length;
    const order = [...mine.slice(start), ...mine.slice(0, start)];
    client.setRequests(
      order.map((t) => ({ method: 'GET', path, headers: { authorization: `Bearer ${t}` } })),
    );
    client.on('response', () => {
      cursors[c] = ((cursors[c] ?? 0) + 1) % mine.length;
    });
  };
  return { requests: [{ method: 'GET', path }], verify, setupClient };
}

/**
 * Issue `count` access tokens (set-up, not measured): client_credentials over autocannon, one
 * request per token, round-robin over `auths`. Throws unless every request got a token.
 */
export async function issueTokens(
  port: number,
  path: string,
  form: Record<string, string>,
  auths: string[],
  count: number,
): Promise<string[]> {
  const tokens: string[] = [];
  const onResponse = (status: number, body: string) => {
    if (status === 200) tokens.push((JSON.parse(body) as { access_token: string }).access_token);
  };
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    amount: count,
    requests: auths.map((a) => ({ ...formRequest(path, form, a), onResponse })),
  });
  if (tokens.length !== count)
    throw new Error(
      `issued ${tokens.length} of ${count} tokens (${result.non2xx} non-2xx, ${result.errors} errors)`,
    );
  return tokens;
}

/** How a warm-up decides the variant has reached its steady state. */
export interface Settling {
  /** Warm up at least this long. */
  minSeconds: number;
  /** Stop here even if throughput has not settled (the run is then flagged). */
  capSeconds: number;
  /** Requests the warm-up must have answered first (e.g. every token seen, so caches are full). */
  minRequests: number;
}

/** Throughput is compared over windows this long. */
const WINDOW_MS = 500;
/** Two consecutive windows within this fraction of each other: settled. */
const TOLERANCE = 0.05;

export interface WarmUp {
  result: autocannon.Result;
  seconds: number;
  /** 2xx responses per window, in order. */
  windows: number[];
  /** Reached minRequests and two consecutive windows after it agreed within 5%. */
  settled: boolean;
}

/**
 * Warm a variant up to its steady state: one autocannon run, its 2xx responses counted in 0.5 s
 * windows, stopped once `minRequests` were answered, `minSeconds` passed and the last two windows
 * (both after the caches filled) differ by less than 5%; or at `capSeconds`, unsettled. A fixed
 * short warm-up measured a fresh server still compiling its hot paths and filling its caches.
 */
export async function warmUp(port: number, load: Load, settle: Settling): Promise<WarmUp> {
  let done: (r: autocannon.Result) => void = () => {};
  let failed: (e: unknown) => void = () => {};
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    [done, failed] = [resolve, reject];
  });
  const run = autocannon(
    {
      url: `http://127.0.0.1:${port}`,
      connections: CONNECTIONS,
      // Stopped by us; the duration is a backstop. Sampling often makes stop() take effect fast.
      duration: Math.ceil(settle.capSeconds) + 2,
      sampleInt: 100,
      requests: load.requests,
      verifyBody: (body) => load.verify(String(body)),
      ...(load.setupClient ? { setupClient: load.setupClient } : {}),
    },
    (err, result) => (err ? failed(err) : done(result)),
  );
  const windows: number[] = [];
  let current = 0;
  let answered = 0;
  let filledAt: number | undefined;
  let settled = false;
  run.on('response', (_client, status) => {
    if (status >= 200 && status < 300) {
      current++;
      answered++;
    }
  });
  const t0 = performance.now();
  const timer = setInterval(() => {
    windows.push(current);
    current = 0;
    const elapsed = (performance.now() - t0) / 1000;
    if (filledAt === undefined && answered >= settle.minRequests) filledAt = windows.length;
    const [a, b] = windows.slice(-2);
    // Both compared windows start after the caches were full.
    const comparable = filledAt !== undefined && windows.length - 2 >= filledAt;
    if (comparable && elapsed >= settle.minSeconds && a && b)
      settled = Math.abs(a - b) / Math.max(a, b) < TOLERANCE;
    if (settled || elapsed >= settle.capSeconds) {
      clearInterval(timer);
      run.stop();
    }
  }, WINDOW_MS);
  try {
    const result = await finished;
    return { result, seconds: (performance.now() - t0) / 1000, windows, settled };
  } finally {
    clearInterval(timer);
  }
}

/** One autocannon run against 127.0.0.1:port, keep-alive, pipelining 1. */
export function fire(port: number, seconds: number, load: Load): Promise<autocannon.Result> {
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: load.requests,
    verifyBody: (body) => load.verify(String(body)),
    ...(load.setupClient ? { setupClient: load.setupClient } : {}),
  });
}

/** A form POST for set-up (not measured); throws unless 2xx. */
export async function postForm(
  port: number,
  path: string,
  form: Record<string, string>,
  auth?: string,
) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { ...FORM, ...(auth ? { authorization: auth } : {}) },
    body: new URLSearchParams(form).toString(),
  });
  const body = (await res.json()) as Record<string, string>;
  if (!res.ok)
    throw new Error(`set-up POST ${path} answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

/** Run fn(0..count-1) with at most `limit` in flight. */
export async function limited(count: number, limit: number, fn: (i: number) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}
