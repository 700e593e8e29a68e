// Node's TokenManager (`tokenward`): the browser one plus sign-in in the system browser with a loopback redirect (RFC 8252).
import { ConfigError } from '../errors';
import { authorizationCode } from './authorization-code';
import { TokenManager as BrowserTokenManager } from './browser-token-manager';
import type { LoadedDpopKey } from './dpop';
import { storedDpopKey } from './dpop-key-storage';
import { listenLoopback } from './loopback';

/** How long `signInWithBrowser` waits for the user by default: 5 minutes. */
const DEFAULT_WAIT_MS = 5 * 60_000;

/**
 * Options of `tm.signInWithBrowser(options)`.
 *
 * @example
 * await tm.signInWithBrowser({ open: (url) => { spawn('xdg-open', [url]); }, timeoutMs: 120_000 });
 */
export interface BrowserSignInOptions {
  /** Scope to ask for (default: the `scope` option). */
  scope?: string;
  /** RFC 8707 resource indicator: the resource server the tokens are for. */
  resource?: string;
  /**
   * Opens the authorization URL in the user's browser. Without it the URL is printed with
   * `console.log` for the user to open.
   */
  open?: (url: string) => void | Promise<void>;
  /** Port of the loopback redirect URI (default 0: a free port chosen by the system). */
  port?: number;
  /** How long to wait for the user to finish signing in, in milliseconds (default 300000: 5 minutes). */
  timeoutMs?: number;
}

/**
 * The TokenManager of `tokenward` (Node): everything the browser one does, and
 * `signInWithBrowser()` for command-line and desktop apps.
 *
 * @example
 * const tm = new TokenManager({ issuer, clientId: 'cli', storage: new FileStorage(file) });
 * if (!(await tm.isSignedIn())) await tm.signInWithBrowser(); // prints the URL to open
 */
export class TokenManager extends BrowserTokenManager {
  /**
   * Sign in with the authorization code and PKCE in the user's browser (RFC 8252, native apps): a
   * one-shot HTTP server on 127.0.0.1 receives the redirect at `http://127.0.0.1:<port>/callback`
   * (register that redirect URI for the client), the URL to open is given to `open` or printed,
   * and once the browser comes back the state and issuer are checked, the code is redeemed with the
   * verifier and the tokens are stored as `signIn` stores them (same `signed-in` event). The browser
   * gets a short page saying whether it worked; the server is closed in every case. Rejects with
   * `timeout` when nobody finishes within `timeoutMs`, and as `handleRedirectCallback` does
   * (`issuer_mismatch`, `access_denied`, `oauth_error`, `invalid_grant`).
   *
   * @example
   * await tm.signInWithBrowser({ scope: 'print' }); // "Open this URL in your browser to sign in: …"
   */
  async signInWithBrowser(options: Readonly<BrowserSignInOptions> = {}): Promise<void> {
    const { open, port = 0, timeoutMs = DEFAULT_WAIT_MS } = options;
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new ConfigError('TokenManager: signInWithBrowser port must be an integer 0-65535');
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0))
      throw new ConfigError('TokenManager: signInWithBrowser timeoutMs must be a positive number');
    if (open !== undefined && typeof open !== 'function')
      throw new ConfigError('TokenManager: signInWithBrowser open must be a function');
    const scope = options.scope ?? this.config.scope;
    // Discovery and the device id first: a server that cannot do this fails before a port opens.
    await this.client.discover();
    await this.deviceId();
    const loopback = await listenLoopback(port);
    try {
      const request = await this.authorizationRequest(
        loopback.redirectUri,
        scope,
        options.resource,
      );
      const arrived = loopback.callback(request.state, timeoutMs);
      // `open` may settle only once the browser has its answer page (after the redemption below):
      // wait for the callback beside it, failing at once if `open` itself fails.
      const opened = open
        ? Promise.resolve().then(() => open(request.url))
        : Promise.resolve(console.log(`Open this URL in your browser to sign in:\n${request.url}`));
      const callback = await Promise.race([arrived, opened.then(() => arrived)]);
      try {
        const code = authorizationCode(
          callback.params,
          this.config.issuer,
          await this.client.discover(),
        );
        await this.redeem(code, request.verifier, request.redirectUri, scope);
        callback.answer(true, 'You are signed in to the app.');
      } catch (err) {
        const why = err instanceof Error && 'code' in err ? String(err.code) : 'error';
        callback.answer(false, `The app could not sign you in (${why}).`);
        throw err;
      }
    } finally {
      await loopback.close();
    }
  }

  /**
   * Node keeps the DPoP device key in the TokenStorage, beside the device id: its private JWK, in a
   * FileStorage file of mode 0600, imported as a non-extractable CryptoKey.
   */
  protected override loadDpopKey(): Promise<LoadedDpopKey> {
    return storedDpopKey(this.config.storage, this.keys.dpopKey);
  }
}
