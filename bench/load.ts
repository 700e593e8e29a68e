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
