// TokenManager options: the documented type, frozen defaults and the one parse function.
import { epochMilliseconds, type MillisecondClock } from '../core/clock';
import { DEVICE_ID } from '../core/ids';
import type { KeysEnum } from '../core/known-keys';
import { ConfigError } from '../errors';
import type { FetchLike } from './oauth-client';
import { MemoryStorage, type TokenStorage } from './storage';

/**
 * Options of `new TokenManager(options)`.
 *
 * @example
 * const options: TokenManagerOptions = { issuer: 'https://auth.example.com', clientId: 'mobile-app' };
 */
export interface TokenManagerOptions {
  /** The authorization server's issuer; its endpoints come from its RFC 8414 metadata. */
  issuer: string;
  /** This app's client id. */
  clientId: string;
  /** For confidential clients (sent as HTTP Basic); public clients send `client_id` instead. */
  clientSecret?: string;
  /**
   * Device id sent at sign-in (1–128 of `[A-Za-z0-9._:-]`). When absent, one is generated once and
   * kept in `storage` (see `TokenManager.deviceId()`, which returns a Promise of it).
   */
  deviceId?: string;
  /**
   * Where tokens and the generated device id live (default: a MemoryStorage, which forgets both
   * when the process ends: each run is then a new device). Use `FileStorage` in Node and
   * `LocalStorage` in browsers to keep one device id.
   */
  storage?: TokenStorage;
  /** Renew when the token has less than this many seconds left (default 60 seconds). */
  renewBeforeSeconds?: number;
  /** Scope asked for at sign-in when the sign-in call is given none. */
  scope?: string;
  /**
   * Browsers: where the authorization server sends the tab back after `signInWithRedirect()`, the
   * page that calls `handleRedirectCallback()`. An absolute URL registered for the client (matched
   * exactly), without a fragment. Node's `signInWithBrowser()` makes its own loopback one.
   */
  redirectUri?: string;
  /** The `fetch` to use (default `globalThis.fetch`). */
  fetch?: FetchLike;
  /** Time limit of each call to the authorization server, in milliseconds (default 10000). */
  timeoutMs?: number;
  /**
   * The clock token expiry and the renewal threshold are read against, and DPoP proofs' `iat`
   * taken from, in epoch milliseconds like `Date.now` (the default). For tests and simulations,
   * which move time instead of sleeping.
   */
  clock?: () => number;
  /**
   * Sender-constrained tokens (RFC 9449, DPoP; default false): every token request and every
   * `tm.fetch` carries a proof signed with this device's key, so a stolen token is useless
   * without the key. The key is the device's, like the device id: one per issuer, shared by every
   * app of the device, kept when signing out. Browsers keep it in IndexedDB as a non-extractable
   * CryptoKey; Node keeps its private JWK in `storage` (a FileStorage file is 0600). Server
   * nonces (`use_dpop_nonce`) are retried once. A server without DPoP answers Bearer tokens,
   * which are then sent as Bearer.
   *
   * @example
   * new TokenManager({ issuer, clientId: 'cli', storage: new FileStorage(file), dpop: true });
   */
  dpop?: boolean;
}

export interface TokenManagerConfig {
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  deviceId: string | undefined;
  storage: TokenStorage;
  renewBeforeSeconds: number;
  scope: string | undefined;
  redirectUri: string | undefined;
  fetch: FetchLike;
  timeoutMs: number;
  clock: MillisecondClock;
  dpop: boolean;
}

const KNOWN: KeysEnum<TokenManagerOptions> = {
  issuer: true,
  clientId: true,
  clientSecret: true,
  deviceId: true,
  storage: true,
  renewBeforeSeconds: true,
  scope: true,
  redirectUri: true,
  fetch: true,
  timeoutMs: true,
  clock: true,
  dpop: true,
};

function nonEmpty(name: string, v: unknown): string {
  if (typeof v !== 'string' || v === '')
    throw new ConfigError(`TokenManager: ${name} must be a non-empty string`);
  return v;
}

/** `URL.canParse`, which older browsers lack. */
function absoluteUrl(text: string): boolean {
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

/** Validate once, at construction; unknown keys are rejected with a hint. */
export function parseTokenManagerOptions(
  options: Readonly<TokenManagerOptions>,
): TokenManagerConfig {
  if (!options || typeof options !== 'object') throw new ConfigError('TokenManager: give options');
  for (const key of Object.keys(options)) {
    if (key in KNOWN) continue;
    const hint = Object.keys(KNOWN).find((k) => k.toLowerCase() === key.toLowerCase());
    throw new ConfigError(
      `TokenManager: unknown option ${key}${hint ? ` (did you mean ${hint}?)` : ''}`,
    );
  }
  const issuer = nonEmpty('issuer', options.issuer);
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ConfigError('TokenManager: issuer must be an absolute URL');
  }
  if (!/^https?:$/.test(url.protocol) || url.search || url.hash)
    throw new ConfigError('TokenManager: issuer must be an http(s) URL without query or fragment');
  const clientId = nonEmpty('clientId', options.clientId);
  const clientSecret =
    options.clientSecret === undefined ? undefined : nonEmpty('clientSecret', options.clientSecret);
  const deviceId = options.deviceId;
  if (deviceId !== undefined && (typeof deviceId !== 'string' || !DEVICE_ID.test(deviceId)))
    throw new ConfigError('TokenManager: deviceId must be 1-128 characters of A-Z a-z 0-9 . _ : -');
  const renewBeforeSeconds = options.renewBeforeSeconds ?? 60;
  if (
    typeof renewBeforeSeconds !== 'number' ||
    !(renewBeforeSeconds >= 0) ||
    !Number.isFinite(renewBeforeSeconds)
  )
    throw new ConfigError('TokenManager: renewBeforeSeconds must be a number >= 0');
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs))
    throw new ConfigError('TokenManager: timeoutMs must be a positive number');
  const clock = options.clock ?? epochMilliseconds;
  if (typeof clock !== 'function')
    throw new ConfigError('TokenManager: clock must be a function returning epoch milliseconds');
  const scope = options.scope === undefined ? undefined : nonEmpty('scope', options.scope);
  const redirectUri =
    options.redirectUri === undefined ? undefined : nonEmpty('redirectUri', options.redirectUri);
  // RFC 6749 §3.1.2: an absolute URI without a fragment component (`#` alone is one too).
  if (redirectUri !== undefined && (!absoluteUrl(redirectUri) || redirectUri.includes('#')))
    throw new ConfigError('TokenManager: redirectUri must be an absolute URL without a fragment');
  const dpop = options.dpop ?? false;
  if (typeof dpop !== 'boolean') throw new ConfigError('TokenManager: dpop must be a boolean');
  const storage = options.storage ?? new MemoryStorage();
  for (const m of ['get', 'set', 'delete'] as const)
    if (typeof storage[m] !== 'function')
      throw new ConfigError(`TokenManager: storage has no ${m}()`);
  const given = options.fetch;
  if (given !== undefined && typeof given !== 'function')
    throw new ConfigError('TokenManager: fetch must be a function');
  // Called through globalThis: browsers refuse a fetch detached from its window.
  const fetch: FetchLike = given ?? ((input, init) => globalThis.fetch(input, init));
  return Object.freeze({
    issuer,
    clientId,
    clientSecret,
    deviceId,
    storage,
    renewBeforeSeconds,
    scope,
    redirectUri,
    fetch,
    timeoutMs,
    clock,
    dpop,
  });
}
