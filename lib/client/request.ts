// What the TokenManager reads from and does to resource-server requests and responses.

import { TOKEN_EXPIRES_IN } from '../core/headers';

/** The renewal hint a guard's `authenticate()` sets on every response. */
export const HINT_HEADER = TOKEN_EXPIRES_IN;
export type Input = string | URL | Request;

/** Bodies a request can be sent with again as they are; a stream can be read only once. */
export function replayable(body: unknown): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    (typeof Blob !== 'undefined' && body instanceof Blob) ||
    (typeof FormData !== 'undefined' && body instanceof FormData)
  );
}

/** RFC 6750 §3.1 `invalid_token`, from the challenge or, when CORS hides that header, the JSON body. */
export async function isInvalidToken(res: Response): Promise<boolean> {
  if (res.status !== 401) return false;
  const challenge = res.headers.get('WWW-Authenticate');
  if (challenge !== null) return /\berror="?invalid_token"?/.test(challenge);
  const body: unknown = await res
    .clone()
    .json()
    .catch(() => undefined);
  return (body as { error?: unknown } | undefined)?.error === 'invalid_token';
}

/** The seconds of a `Token-Expires-In` header, or `undefined` when absent or malformed. */
export function expiresInHint(res: Response): number | undefined {
  const hint = res.headers.get(HINT_HEADER)?.trim();
  return hint !== undefined && /^\d{1,9}$/.test(hint) ? Number(hint) : undefined;
}

/** Methods `fetch` upper-cases (Fetch standard, "normalize a method"); any other is sent as given. */
const NORMALIZED = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

/** The method a `fetch(input, init)` sends, as it goes on the wire: a proof's `htm` must match it. */
export function requestMethod(input: Input, init: RequestInit | undefined): string {
  const isRequest = typeof Request !== 'undefined' && input instanceof Request;
  const method = init?.method ?? (isRequest ? input.method : 'GET');
  const upper = method.toUpperCase();
  return NORMALIZED.has(upper) ? upper : method;
}

/** The absolute URL a `fetch(input)` goes to: a relative one is resolved against the page, as a browser does. */
export function requestUrl(input: Input): string {
  const isRequest = typeof Request !== 'undefined' && input instanceof Request;
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  return new URL(isRequest ? input.url : String(input), base).href;
}

/**
 * RFC 9449 §9: a resource server asking for a nonce answers 401 with `error="use_dpop_nonce"` in its
 * DPoP challenge (or, when CORS hides that header, in the JSON body).
 */
export async function isNonceChallenge(res: Response): Promise<boolean> {
  if (res.status !== 401) return false;
  const challenge = res.headers.get('WWW-Authenticate');
  if (challenge !== null) return /\berror="?use_dpop_nonce"?/.test(challenge);
  const body: unknown = await res
    .clone()
    .json()
    .catch(() => undefined);
  return (body as { error?: unknown } | undefined)?.error === 'use_dpop_nonce';
}
