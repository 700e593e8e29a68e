// `tm.fetch`: a resource request with the token (Bearer, or DPoP with a fresh proof), a nonce retry, the renewal hint read, and one renew-and-retry on invalid_token.
import type { MillisecondClock } from '../core/clock';
import { DPOP, DPOP_NONCE } from '../core/headers';
import type { DpopProver } from './dpop-prover';
import type { HeldSession } from './held-session';
import type { FetchLike } from './oauth-client';
import type { Renewal } from './renewal';
import {
  expiresInHint,
  type Input,
  isInvalidToken,
  isNonceChallenge,
  replayable,
  requestMethod,
  requestUrl,
} from './request';
import type { HeldToken } from './token-list';

export interface AuthorizedFetchDeps {
  fetch: FetchLike;
  dpop: DpopProver;
  session: HeldSession;
  renewal: Renewal;
  clock: MillisecondClock;
}

/** Sends one request with `t`: `DPoP` tokens with a proof bound to it (RFC 9449 §7.1), others as Bearer (RFC 6750 §2.1). */
async function send(
  d: AuthorizedFetchDeps,
  t: HeldToken,
  what: Input,
  init: RequestInit | undefined,
): Promise<Response> {
  const isRequest = typeof Request !== 'undefined' && what instanceof Request;
  const base = init?.headers ?? (isRequest ? what.headers : undefined);
  const headers = new Headers(base);
  if (t.tokenType !== 'DPoP') {
    headers.set('Authorization', `Bearer ${t.accessToken}`);
    return d.fetch(what, { ...init, headers });
  }
  const url = requestUrl(what);
  headers.set('Authorization', `DPoP ${t.accessToken}`);
  headers.set(DPOP, await d.dpop.proof(requestMethod(what, init), url, t.accessToken));
  const res = await d.fetch(what, { ...init, headers });
  d.dpop.observe(url, res);
  return res;
}

/** The response's hint corrects the expiry of the token it answered, if that is still our top token. */
function observe(d: AuthorizedFetchDeps, res: Response, sent: HeldToken): void {
  const head = d.session.list.head();
  if (!head || head.priority !== sent.priority) return;
  const hint = expiresInHint(res);
  const now = d.clock();
  if (hint !== undefined) head.expiresAt = now + hint * 1000;
  if (d.session.refreshToken !== undefined && d.renewal.due(head, now))
    d.renewal.renew(head).catch(() => undefined);
}

/**
 * `fetch(input, init)` with `token`, as `tm.fetch` documents it. Bodies are sent again only when
 * they can be (not streams): a Request with a body is cloned untouched first, and each retry sends
 * a copy of that clone.
 */
export async function authorizedFetch(
  d: AuthorizedFetchDeps,
  token: HeldToken,
  input: Input,
  init: RequestInit | undefined,
): Promise<Response> {
  const isRequest = typeof Request !== 'undefined' && input instanceof Request;
  const retryable = isRequest ? !input.bodyUsed : replayable(init?.body);
  const pristine = isRequest && retryable && input.body !== null ? input.clone() : undefined;
  let sends = 0;
  const next = (): Input => (sends++ === 0 || !pristine ? input : pristine.clone());
  // One exchange: the request, and again once when the resource server asks for its nonce (RFC 9449 §9).
  const exchange = async (t: HeldToken): Promise<Response> => {
    let res = await send(d, t, next(), init);
    const nonced = t.tokenType === 'DPoP' && res.headers.has(DPOP_NONCE);
    if (nonced && retryable && (await isNonceChallenge(res))) {
      await res.body?.cancel();
      res = await send(d, t, next(), init);
    }
    observe(d, res, t);
    return res;
  };
  try {
    const res = await exchange(token);
    if (!(await isInvalidToken(res))) return res;
    if (!retryable) {
      d.renewal.renew(token).catch(() => undefined);
      return res;
    }
    const renewed = await d.renewal.renew(token).then(
      () => d.session.list.valid(d.clock()),
      () => undefined,
    );
    if (!renewed || renewed.priority <= token.priority) return res;
    await res.body?.cancel();
    return await exchange(renewed);
  } finally {
    await pristine?.body?.cancel();
  }
}
