// TokenManager: the client side of renewal hints and device sessions — sign in, send, renew, persist, sign out. The whole class of `tokenward/client`, and the base of Node's (which adds the loopback sign-in).
import { DEVICE_ID } from '../core/ids';
import { ConfigError } from '../errors';
import {
  type AuthorizationRequest,
  authorizationCode,
  authorizationRequest,
} from './authorization-code';
import { authorizedFetch } from './authorized-fetch';
import type { DpopKey, LoadedDpopKey } from './dpop';
import { indexedDbDpopKey } from './dpop-key-indexeddb';
import { DpopProver } from './dpop-prover';
import { Emitter, type Listener, type TokenManagerEventName } from './emitter';
import { TokenManagerError } from './errors';
import { HeldSession } from './held-session';
import { OAuthClient, type TokenEndpointResponse } from './oauth-client';
import {
  parseTokenManagerOptions,
  type TokenManagerConfig,
  type TokenManagerOptions,
} from './options';
import {
  currentUrl,
  type RedirectResult,
  type RedirectSignInOptions,
  redirectTo,
  takePending,
} from './redirect-sign-in';
import { Renewal } from './renewal';
import type { Input } from './request';
import { generateDeviceId, storageKeys } from './session';
import { MemoryStorage, warnDeviceIdNotKept } from './storage';
import type { HeldToken, TokenInfo } from './token-list';

/**
 * Signs a user in — with the authorization code and PKCE (a redirect in browsers, the system
 * browser and a loopback redirect in Node), or with the password grant — bound to a device id, keeps the access tokens
 * in a priority list, sends the highest-priority valid one, renews with the refresh token before
 * expiry — from `expires_in` and from every `Token-Expires-In` response header (the renewal hint), one
 * renewal at a time however many requests are in flight, once between tabs sharing LocalStorage —
 * and persists everything in a pluggable storage so a restart resumes without signing in.
 *
 * A token is never renewed before half its lifetime has passed, so a threshold larger than the
 * server's token lifetime cannot make every request renew.
 *
 * Times: instants the TokenManager gives (`tokens()[i].expiresAt`, the `expiresAt` of its
 * events) are `Date`s; durations are named with their unit (`renewBeforeSeconds`, `timeoutMs`);
 * the `clock` option returns epoch milliseconds, like `Date.now`.
 *
 * Give it non-volatile storage — `FileStorage` in Node, `LocalStorage` in browsers — so the
 * device id, and the tokens, survive a restart: in the default `MemoryStorage` each run is a new
 * device with its own device session on the server.
 *
 * @example
 * const tm = new TokenManager({ issuer: 'https://auth.example.com', clientId: 'web-app', storage,
 *   redirectUri: 'https://app.example.com/callback' });
 * if (location.pathname === '/callback') history.replaceState(null, '', (await tm.handleRedirectCallback()).url);
 * else if (!(await tm.isSignedIn())) await tm.signInWithRedirect(); // leaves the page
 * const res = await tm.fetch('https://print.example.com/print/jobs');
 * tm.on('renewal-failed', ({ signedOut }) => { if (signedOut) showLogin(); });
 */
export class TokenManager {
  protected readonly config: TokenManagerConfig;
  protected readonly client: OAuthClient;
  protected readonly keys: ReturnType<typeof storageKeys>;
  private readonly dpop: DpopProver;
  private readonly events = new Emitter();
  private readonly session: HeldSession;
  private loaded: Promise<void> | undefined;
  private readonly renewal: Renewal;
  private deviceIdPromise: Promise<string> | undefined;
  private unsubscribe: (() => void) | undefined;
  private adopting: Promise<unknown> = Promise.resolve();

  constructor(options: Readonly<TokenManagerOptions>) {
    this.config = parseTokenManagerOptions(options);
    const { issuer, clientId, clientSecret, fetch, timeoutMs } = this.config;
    // The key is loaded on first use, under the lock deviceId() takes: every tab and process agrees on one.
    this.dpop = new DpopProver(
      () => this.withLock(`${this.keys.device}:lock`, () => this.loadDeviceKey()),
      this.config.clock,
    );
    this.client = new OAuthClient({
      issuer,
      clientId,
      clientSecret,
      fetch,
      timeoutMs,
      dpop: this.dpop,
    });
    this.keys = storageKeys(issuer, clientId);
    this.session = new HeldSession(
      this.config.storage,
      this.keys.session,
      this.events,
      this.config.clock,
    );
    this.renewal = new Renewal({
      client: this.client,
      session: this.session,
      events: this.events,
      clock: this.config.clock,
      renewBeforeSeconds: this.config.renewBeforeSeconds,
      withProof: () => this.withProof(),
      locked: (fn) => this.withLock(this.keys.renewLock, fn),
    });
  }

  /**
   * Listen to `signed-in`, `renewed` (both with `expiresAt` as a `Date`), `renewal-failed` or
   * `signed-out`; returns an unsubscribe function.
   */
  on<E extends TokenManagerEventName>(name: E, fn: Listener<E>): () => void {
    return this.events.on(name, fn);
  }

  off<E extends TokenManagerEventName>(name: E, fn: Listener<E>): void {
    this.events.off(name, fn);
  }

  /**
   * Password sign-in (RFC 6749 §4.3) with this device's id; the new token gets top priority. For
   * devices without a browser: where there is one, prefer `signInWithRedirect()` (browsers) or
   * `signInWithBrowser()` (Node), in which the app never sees the password.
   */
  async signIn(username: string, password: string, scope?: string): Promise<void> {
    await this.ready();
    const deviceId = await this.deviceId();
    const wanted = scope ?? this.config.scope;
    const res = await this.client.token(
      {
        grant_type: 'password',
        username,
        password,
        device_id: deviceId,
        ...(wanted !== undefined ? { scope: wanted } : {}),
      },
      this.config.dpop,
    );
    await this.signedIn(res, wanted);
  }

  /**
   * Browsers: sign in at the authorization server's own login (RFC 6749 §4.1 with PKCE, RFC 7636)
   * by sending this tab there. The PKCE verifier and a random `state` are kept in this tab's
   * sessionStorage until `handleRedirectCallback()` runs on the page at the `redirectUri` option;
   * the device id goes along as `device_id`. Resolves as the tab starts to leave the page.
   *
   * @example
   * button.onclick = () => tm.signInWithRedirect({ returnTo: location.pathname });
   */
  async signInWithRedirect(options: Readonly<RedirectSignInOptions> = {}): Promise<void> {
    const { redirectUri } = this.config;
    if (redirectUri === undefined)
      throw new ConfigError(
        'TokenManager: signInWithRedirect() needs the redirectUri option (a URL registered for the client)',
      );
    const scope = options.scope ?? this.config.scope;
    const request = await this.authorizationRequest(redirectUri, scope, options.resource);
    redirectTo(this.keys.redirect, request, { scope, returnTo: options.returnTo });
  }

  /**
   * Browsers, on the page at `redirectUri`: finish `signInWithRedirect()`. Refuses a callback
   * whose `state` is not the one this tab sent, or when none is pending (`state_mismatch`: a
   * forged, reloaded or other tab's callback), and one naming another issuer (`issuer_mismatch`,
   * RFC 9207); an `error=…` answer throws with that code (`access_denied`, else `oauth_error`).
   * Otherwise redeems the code with the verifier, stores the tokens as `signIn` does (same
   * `signed-in` event, same lock against other tabs) and forgets the pending request (once only).
   * Resolves with the URL without the response's parameters, and the `returnTo` given at the start.
   *
   * @example
   * const { url, returnTo } = await tm.handleRedirectCallback(); // reads location.href
   * history.replaceState(null, '', returnTo ?? url);
   */
  async handleRedirectCallback(url?: string): Promise<RedirectResult> {
    const taken = takePending(this.keys.redirect, url ?? currentUrl());
    const { pending } = taken;
    const code = authorizationCode(taken.params, this.config.issuer, await this.client.discover());
    await this.redeem(code, pending.verifier, pending.redirectUri, pending.scope);
    return { url: taken.url, returnTo: pending.returnTo };
  }

  /**
   * `fetch` with the highest-priority valid token, renewing first when due: `Authorization: Bearer
   * <token>`, or for a DPoP-bound token (the `dpop` option) `Authorization: DPoP <token>` with a
   * fresh proof of the method, URL and token (RFC 9449 §7.1), retried once when the resource server
   * asks for its nonce (§9). Reads `Token-Expires-In` on every response; a 401 `invalid_token` is
   * renewed and retried once (not for stream bodies, which cannot be sent twice); a second 401 is
   * returned as it is.
   */
  async fetch(input: Input, init?: RequestInit): Promise<Response> {
    const token = await this.usableToken();
    const { fetch, clock } = this.config;
    const deps = { fetch, clock, dpop: this.dpop, session: this.session, renewal: this.renewal };
    return authorizedFetch(deps, token, input, init);
  }

  /**
   * The access token to send now, renewed first when it is due. A DPoP-bound one (`tokens()[0]
   * .tokenType`) is useless without a proof of the device key: send those with `tm.fetch`.
   */
  async getAccessToken(): Promise<string> {
    return (await this.usableToken()).accessToken;
  }

  /**
   * Revoke the family with the refresh token (RFC 7009: revoking any refresh token of a family
   * revokes every token issued from it) and clear the stored tokens — locally even when the server
   * cannot be reached. When this app was the last one signed in on the device (the device
   * session's last live grant), the server ends the device session too; other apps signed in on
   * the device keep it. The device id stays in the storage: the next sign-in is the same device.
   * Without a refresh token (a client not registered for one) only the access token is revoked.
   *
   * @example
   * const { revoked } = await tm.signOut(); // false: the server was not told (offline), tokens are gone here all the same
   */
  async signOut(): Promise<{ revoked: boolean }> {
    await this.ready();
    await this.renewal.settled();
    const refresh = this.session.refreshToken;
    const access = this.session.list.head()?.accessToken;
    let revoked = false;
    try {
      if (refresh !== undefined) await this.client.revoke(refresh, 'refresh_token');
      else if (access !== undefined) await this.client.revoke(access, 'access_token');
      revoked = refresh !== undefined || access !== undefined;
    } catch {
      // Unreachable or refused: the tokens are forgotten here all the same.
    } finally {
      const had = this.session.active;
      await this.session.clear();
      if (had) this.events.emit('signed-out', { reason: 'sign-out' });
    }
    return { revoked };
  }

  /** Whether tokens are held (loaded from storage on first use). */
  async isSignedIn(): Promise<boolean> {
    await this.ready();
    return this.session.active;
  }

  /**
   * A Promise of the device id sent at sign-in: the `deviceId` option when given, else a random
   * UUID generated on first use and kept in the storage, so that every app (client) using that
   * storage for this issuer presents the same id and shares one device session. Kept only as long
   * as the storage keeps it: in a `MemoryStorage` each run is a new device. With `dpop`, a device
   * key made anew while an id is stored (the key was lost) starts a new id: the server keeps the
   * old id's device session for the lost key.
   *
   * @example
   * const id = await tm.deviceId(); // e.g. '9b2f4e0c-…'; the same on every call and every restart with a FileStorage
   */
  deviceId(): Promise<string> {
    if (this.config.deviceId !== undefined) return Promise.resolve(this.config.deviceId);
    this.deviceIdPromise ??= (async () => {
      // With dpop the key comes first: a key made anew starts a new device id, the one to send.
      if (this.config.dpop) await this.dpop.deviceKey();
      return this.withLock(`${this.keys.device}:lock`, async () => {
        const stored = await this.config.storage.get(this.keys.device);
        return stored !== undefined && DEVICE_ID.test(stored) ? stored : this.newDeviceId();
      });
    })().catch((err: unknown) => {
      this.deviceIdPromise = undefined;
      throw err;
    });
    return this.deviceIdPromise;
  }

  /**
   * The held tokens, highest priority first: priority, expiry (a `Date`), scope and a fingerprint,
   * never the token. Synchronous: what this TokenManager holds now (loaded from the storage by
   * `isSignedIn()` or any call that sends a token).
   *
   * @example
   * const [top] = tm.tokens(); if (top) console.log(top.priority, top.expiresAt.toISOString());
   */
  tokens(): readonly TokenInfo[] {
    return this.session.list.snapshot();
  }

  /**
   * The RFC 7638 thumbprint of this device's DPoP key (what the server binds tokens to, `cnf.jkt`),
   * creating the key on first use; `undefined` when the `dpop` option is off.
   *
   * @example
   * const jkt = await tm.dpopThumbprint(); // 43 characters of base64url, the same for every app of the device
   */
  async dpopThumbprint(): Promise<string | undefined> {
    return this.config.dpop ? this.dpop.thumbprint() : undefined;
  }

  /** Stop listening to other tabs' storage changes. */
  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /**
   * Load this device's DPoP key, creating it when there is none; called once, under the device
   * lock. Browsers: a non-extractable CryptoKey pair in IndexedDB. Node's class keeps it in the
   * TokenStorage instead.
   */
  protected loadDpopKey(): Promise<LoadedDpopKey> {
    return indexedDbDpopKey(this.keys.dpopKey);
  }

  /**
   * The DPoP key, under the device lock. A key made anew is a new device: the server gives a
   * device session started with a key to that key alone, so a device id kept from a lost key (a
   * browser that cleared IndexedDB but kept localStorage) would be refused at every sign-in until
   * its session ends. Unless the app gives its own `deviceId`, a new one starts with the key.
   */
  private async loadDeviceKey(): Promise<DpopKey> {
    const { key, created } = await this.loadDpopKey();
    if (!created || this.config.deviceId !== undefined) return key;
    // No device id yet: deviceId() makes the first one.
    if ((await this.config.storage.get(this.keys.device)) !== undefined)
      this.deviceIdPromise = Promise.resolve(await this.newDeviceId());
    return key;
  }

  /** A fresh device id, stored for every app of the device; the caller holds the device lock. */
  private async newDeviceId(): Promise<string> {
    const { storage } = this.config;
    const id = generateDeviceId();
    await storage.set(this.keys.device, id);
    if (storage instanceof MemoryStorage) warnDeviceIdNotKept();
    return id;
  }

  /** Token requests carry a proof when the option is on, or when the tokens held are DPoP-bound. */
  private withProof(): boolean {
    return this.config.dpop || this.session.list.head()?.tokenType === 'DPoP';
  }

  /** An authorization request from the metadata's endpoint, with this device's id. */
  protected async authorizationRequest(
    redirectUri: string,
    scope: string | undefined,
    resource: string | undefined,
  ): Promise<AuthorizationRequest> {
    const endpoints = await this.client.discover();
    return authorizationRequest(endpoints, {
      clientId: this.config.clientId,
      redirectUri,
      deviceId: await this.deviceId(),
      scope,
      resource,
    });
  }

  /** RFC 6749 §4.1.3 with the PKCE verifier (RFC 7636 §4.5); the tokens are stored as at any sign-in. */
  protected async redeem(
    code: string,
    verifier: string,
    redirectUri: string,
    scope: string | undefined,
  ): Promise<void> {
    await this.ready();
    const res = await this.client.token(
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        code_verifier: verifier,
      },
      this.config.dpop,
    );
    await this.signedIn(res, scope);
  }

  /** A sign-in's tokens become the top priority, under the lock renewals take (other tabs too). */
  private async signedIn(res: TokenEndpointResponse, scope: string | undefined): Promise<void> {
    await this.renewal.settled();
    const held = await this.withLock(this.keys.renewLock, () =>
      this.session.accept(res, scope, true),
    );
    this.events.emit('signed-in', {
      scope: this.session.scope,
      expiresAt: new Date(held.expiresAt),
    });
  }

  private ready(): Promise<void> {
    this.loaded ??= (async () => {
      const stored = await this.session.read();
      if (stored) this.session.apply(stored);
      this.unsubscribe = this.config.storage.subscribe?.((key) => {
        if (key !== null && key !== this.keys.session) return;
        this.adopting = this.adopting.then(() => this.session.adoptStored()).catch(() => undefined);
      });
    })().catch((err: unknown) => {
      this.loaded = undefined;
      throw err;
    });
    return this.loaded;
  }

  private withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const { storage } = this.config;
    return storage.lock ? storage.lock(name, fn) : fn();
  }

  private async usableToken(): Promise<HeldToken> {
    await this.ready();
    await this.renewal.settled();
    const { list } = this.session;
    const now = this.config.clock();
    let top = list.valid(now);
    if ((!top || this.renewal.due(top, now)) && this.session.refreshToken !== undefined) {
      try {
        await this.renewal.renew(top ?? list.head());
      } catch (err) {
        // A still-valid token keeps working when renewal failed for a passing reason.
        if (!list.valid(this.config.clock())) throw err;
      }
      top = list.valid(this.config.clock());
    }
    if (!top) throw new TokenManagerError('not_signed_in', 'no valid access token: sign in first');
    return top;
  }
}
