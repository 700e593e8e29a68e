// JSON over fetch with a deadline and a size cap; any failure is the authorization server being unavailable.
import { OAuthError } from '../errors';
import { RETRY_AFTER_SECONDS } from '../http/error-handler';

/** Largest metadata, JWKS or introspection document accepted. */
const MAX_BYTES = 256 * 1024;

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

/** Fetch `url` and parse its JSON object body; throws a 503 OAuthError on any failure. */
export async function fetchJson(
  url: string,
  init: RequestInit,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
    text = await res.text();
  } catch (err) {
    throw upstreamUnavailable(`request to ${url} failed`, err);
  }
  if (res.status !== 200) throw upstreamUnavailable(`${url} answered ${res.status}`);
  if (text.length > MAX_BYTES) throw upstreamUnavailable(`${url} answered an oversized body`);
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body === 'object' && body !== null && !Array.isArray(body))
      return body as Record<string, unknown>;
  } catch {}
  throw upstreamUnavailable(`${url} did not answer a JSON object`);
}
