// JSON over node:http(s) with keep-alive, a deadline and a size cap; any failure is the authorization server being unavailable.
import http from 'node:http';
import https from 'node:https';
import { OAuthError } from '../errors';
import { RETRY_AFTER_SECONDS } from '../http/error-handler';

/** Largest metadata, JWKS or introspection document accepted. */
const MAX_BYTES = 256 * 1024;

/**
 * Keep-alive agents shared by every guard of the process. `fetch()` (undici, web streams,
 * `AbortSignal.timeout`) cost a remote guard ~3–4× more CPU per introspection than a plain
 * request on a reused socket (bench/README.md); idle sockets are unref'd, so they hold no process open.
 */
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

/** The authorization server could not be asked: answered 503 temporarily_unavailable. */
export function upstreamUnavailable(detail: string, cause?: unknown): OAuthError {
  return new OAuthError(
    'temporarily_unavailable',
    'the authorization server is temporarily unavailable; retry later',
    503,
    { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    { cause: cause ?? new Error(detail) },
  );
}

/** A non-200 answer, kept as the cause of the 503 so a caller can tell a refusal from an outage. */
export class UpstreamStatusError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    /** The OAuth `error` code of the answer's body, when it has one. */
    readonly error?: string,
  ) {
    super(`${url} answered ${status}${error ? ` ${error}` : ''}`);
    this.name = 'UpstreamStatusError';
  }
}

/** The `error` member of a JSON error body, if any. */
function errorCodeOf(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { error?: unknown };
    return typeof body?.error === 'string' ? body.error.slice(0, 64) : undefined;
  } catch {
    return undefined;
  }
}

/** What a request is sent with: the method (GET unless a body), headers and a string body. */
export interface JsonRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
}

interface Answer {
  status: number;
  text: string;
}

/** One request; a failure carries `reused`: whether it went out on a kept-alive socket (see fetchJson). */
function send(url: URL, init: JsonRequest, deadline: number): Promise<Answer> {
  const lib = url.protocol === 'https:' ? https : http;
  const agent = agents[url.protocol as keyof typeof agents];
  if (!agent) return Promise.reject(new Error(`unsupported protocol ${url.protocol}`));
  return new Promise<Answer>((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
    if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
    const req = lib.request(url, { method: init.method ?? 'GET', headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BYTES) req.destroy(new Error('oversized body'));
        else chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', fail);
    });
    function fail(err: Error) {
      clearTimeout(timer);
      reject(Object.assign(err, { reused: req.reusedSocket }));
    }
    const timer = setTimeout(
      () => req.destroy(new Error('timed out')),
      Math.max(1, deadline - Date.now()),
    );
    req.on('error', fail);
    req.end(init.body);
  });
}

/**
 * Request `url` and parse its JSON object body; throws a 503 OAuthError on any failure, a redirect
 * included (never followed), within `timeoutMs`.
 */
export async function fetchJson(
  url: string,
  init: JsonRequest,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  let answer: Answer;
  try {
    const target = new URL(url);
    try {
      answer = await send(target, init, deadline);
    } catch (err) {
      // The server may close a kept-alive socket just as we reuse it (Node's documented race):
      // the request never reached it, so it is sent once more on a fresh socket.
      const e = err as NodeJS.ErrnoException & { reused?: boolean };
      if (!e.reused || e.code !== 'ECONNRESET' || Date.now() >= deadline) throw err;
      answer = await send(target, init, deadline);
    }
  } catch (err) {
    throw upstreamUnavailable(`request to ${url} failed`, err);
  }
  if (answer.status !== 200) {
    const refusal = new UpstreamStatusError(url, answer.status, errorCodeOf(answer.text));
    throw upstreamUnavailable(refusal.message, refusal);
  }
  try {
    const body = JSON.parse(answer.text) as unknown;
    if (typeof body === 'object' && body !== null && !Array.isArray(body))
      return body as Record<string, unknown>;
  } catch {}
  throw upstreamUnavailable(`${url} did not answer a JSON object`);
}
