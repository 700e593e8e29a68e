// Sign-in with a redirect in browsers: the pending request kept in this tab's sessionStorage, the navigation, and the callback's state check.
import { ConfigError } from '../errors';
import { type AuthorizationRequest, RESPONSE_PARAMS } from './authorization-code';
import { TokenManagerError } from './errors';

/**
 * Options of `tm.signInWithRedirect(options)`.
 *
 * @example
 * await tm.signInWithRedirect({ scope: 'print', returnTo: '/jobs' });
 */
export interface RedirectSignInOptions {
  /** Scope to ask for (default: the `scope` option). */
  scope?: string;
  /** RFC 8707 resource indicator: the resource server the tokens are for. */
  resource?: string;
  /** Where the app wants to go after the callback; `handleRedirectCallback()` gives it back. */
  returnTo?: string;
}

/**
 * What `tm.handleRedirectCallback()` resolves with once the tokens are stored.
 *
 * @example
 * const { url, returnTo } = await tm.handleRedirectCallback();
 * history.replaceState(null, '', returnTo ?? url);
 */
export interface RedirectResult {
  /** The callback URL without the authorization response's parameters (`code`, `state`, `iss`, …). */
  url: string;
  /** The `returnTo` given to `signInWithRedirect`, if any. */
  returnTo: string | undefined;
}

/** The pending request, as kept in sessionStorage until its callback (JSON, version 1). */
export interface PendingRedirect {
  state: string;
  verifier: string;
  redirectUri: string;
  scope: string | undefined;
  returnTo: string | undefined;
}

interface SessionStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * This tab's sessionStorage: the verifier stays in the tab that started the sign-in (RFC 6749
 * §10.12 binds the callback to it), and is never shared with other tabs as localStorage would.
 */
function tabStorage(): SessionStorageLike {
  const storage = (globalThis as { sessionStorage?: SessionStorageLike }).sessionStorage;
  if (!storage)
    throw new ConfigError(
      'TokenManager: signing in with a redirect needs a browser (sessionStorage); in Node use signInWithBrowser()',
    );
  return storage;
}

/** Keep `request` for its callback, then send the tab to the authorization endpoint. */
export function redirectTo(
  key: string,
  request: AuthorizationRequest,
  extra: { scope: string | undefined; returnTo: string | undefined },
): void {
  const location = (globalThis as { location?: { assign(url: string): void } }).location;
  if (!location)
    throw new ConfigError('TokenManager: signInWithRedirect needs a browser (location)');
  const pending: PendingRedirect = {
    state: request.state,
    verifier: request.verifier,
    redirectUri: request.redirectUri,
    scope: extra.scope,
    returnTo: extra.returnTo,
  };
  // One pending sign-in per client and tab: a second start replaces the first, whose callback is then refused.
  tabStorage().setItem(key, JSON.stringify({ v: 1, ...pending }));
  location.assign(request.url);
}

function readPending(text: string | null): PendingRedirect | undefined {
  if (text === null) return undefined;
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    if (o?.v !== 1 || !str(o.state) || !str(o.verifier) || !str(o.redirectUri)) return undefined;
    return {
      state: o.state as string,
      verifier: o.verifier as string,
      redirectUri: o.redirectUri as string,
      scope: str(o.scope),
      returnTo: str(o.returnTo),
    };
  } catch {
    return undefined;
  }
}

/** The current page's URL, the default callback. */
export function currentUrl(): string {
  const href = (globalThis as { location?: { href?: string } }).location?.href;
  if (typeof href !== 'string')
    throw new ConfigError('TokenManager: handleRedirectCallback() needs a URL outside a browser');
  return href;
}

/**
 * The callback's parameters and the pending request they answer, removed from sessionStorage (a
 * request is answered once). A `state` that is not the pending one is refused and leaves the
 * pending request in place: a forged or stale callback cannot cancel the real one.
 */
export function takePending(
  key: string,
  url: string,
): { params: URLSearchParams; pending: PendingRedirect; url: string } {
  const parsed = new URL(url);
  // The response is in the query (RFC 6749 §4.1.2): a copy, since the URL handed back loses it.
  const params = new URLSearchParams(parsed.search);
  const storage = tabStorage();
  const pending = readPending(storage.getItem(key));
  const state = params.get('state');
  if (!pending)
    throw new TokenManagerError(
      'state_mismatch',
      'no sign-in with a redirect is pending in this tab (already handled, or started elsewhere): nothing was redeemed',
    );
  if (state !== pending.state)
    throw new TokenManagerError(
      'state_mismatch',
      state === null
        ? 'the callback URL has no state: not an authorization response for this app'
        : 'the callback state is not the one this tab sent (a forged or stale callback): nothing was redeemed',
    );
  storage.removeItem(key);
  for (const name of RESPONSE_PARAMS) parsed.searchParams.delete(name);
  return { params, pending, url: parsed.href };
}
