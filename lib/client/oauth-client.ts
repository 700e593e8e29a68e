// The TokenManager's calls to the authorization server: discovery (RFC 8414), token (RFC 6749, with DPoP proofs of RFC 9449 §5), revocation (RFC 7009).
import { DPOP } from '../core/headers';
import type { DpopProver } from './dpop-prover';
import { TokenManagerError } from './errors';

/**
 * A `fetch` implementation: the global one, or an injected one (tests, proxies, instrumentation).
 *
 * @example
 * const logged: FetchLike = async (input, init) => { console.log(init?.method ?? 'GET'); return fetch(input, init); };
 */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** A successful token response (RFC 6749 §5.1). */
export interface TokenEndpointResponse {
  access_token: string;
  /** `Bearer`, or `DPoP` for a token bound to the key of the proof sent (RFC 9449 §5). */
  token_type: 'Bearer' | 'DPoP';
  expires_in?: number;
  refresh_token?: string;
  scope?: string;
}

/** What the client reads from the metadata document (RFC 8414 §2). */
export interface Endpoints {
  token: string;
  revocation: string | undefined;
  /** `authorization_endpoint`, for sign-in with a redirect. */
  authorization: string | undefined;
  /** `authorization_response_iss_parameter_supported` (RFC 9207 §3): every response names `iss`. */
  issParameter: boolean;
  /** `code_challenge_methods_supported` (RFC 7636 §4.3 and RFC 8414), when published. */
  challengeMethods: readonly string[] | undefined;
}

export interface OAuthClientConfig {
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  fetch: FetchLike;
  timeoutMs: number;
  /** Makes the DPoP proofs of token requests that ask for one. */
  dpop?: DpopProver;
}

/** RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path. */
export function metadataUrl(issuer: string): string {
  const u = new URL(issuer);
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  return `${u.origin}/.well-known/oauth-authorization-server${path}`;
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding. */
function formEncode(s: string): string {
  return encodeURIComponent(s).replace(/%20/g, '+');
}

function basic(id: string, secret: string): string {
  const raw = `${formEncode(id)}:${formEncode(secret)}`;
  return `Basic ${btoa(raw)}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Talks to one authorization server as one client. */
export class OAuthClient {
  private endpoints: Promise<Endpoints> | undefined;

  constructor(private readonly config: OAuthClientConfig) {}

  private async call(url: string, init: RequestInit): Promise<Response> {
    try {
      return await this.config.fetch(url, {
        ...init,
        signal: AbortSignal.timeout(this.config.timeoutMs),
      });
    } catch (err) {
      throw new TokenManagerError('network_error', `authorization server unreachable (${url})`, {
        cause: err,
      });
    }
  }

  /** The endpoints from the metadata document, fetched once (again after a failure). */
  discover(): Promise<Endpoints> {
    this.endpoints ??= this.fetchMetadata().catch((err: unknown) => {
      this.endpoints = undefined;
      throw err;
    });
    return this.endpoints;
  }

  private async fetchMetadata(): Promise<Endpoints> {
    const url = metadataUrl(this.config.issuer);
    const res = await this.call(url, { headers: { Accept: 'application/json' } });
    const fail = (why: string) =>
      new TokenManagerError('discovery_failed', `metadata at ${url}: ${why}`, {
        status: res.status,
      });
    if (!res.ok) throw fail(`HTTP ${res.status}`);
    const doc: unknown = await res.json().catch(() => undefined);
    if (!isObject(doc)) throw fail('not a JSON object');
    // RFC 8414 §3.3: the issuer in the document must be identical to the one we asked about.
    if (doc.issuer !== this.config.issuer) throw fail(`issuer is not ${this.config.issuer}`);
    if (typeof doc.token_endpoint !== 'string') throw fail('no token_endpoint');
    const methods = doc.code_challenge_methods_supported;
    return {
      token: doc.token_endpoint,
      revocation: typeof doc.revocation_endpoint === 'string' ? doc.revocation_endpoint : undefined,
      authorization:
        typeof doc.authorization_endpoint === 'string' ? doc.authorization_endpoint : undefined,
      issParameter: doc.authorization_response_iss_parameter_supported === true,
      challengeMethods: Array.isArray(methods)
        ? methods.filter((m): m is string => typeof m === 'string')
        : undefined,
    };
  }

  /** Client authentication: Basic for confidential clients, `client_id` in the body for public ones. */
  private authenticate(body: URLSearchParams, headers: Record<string, string>): void {
    if (this.config.clientSecret !== undefined)
      headers.Authorization = basic(this.config.clientId, this.config.clientSecret);
    else body.set('client_id', this.config.clientId);
  }

  /**
   * POST to the token endpoint (RFC 6749 §3.2); errors become TokenManagerError (§5.2). With
   * `proof`, a DPoP proof goes along (RFC 9449 §5) and a `use_dpop_nonce` answer is retried once
   * with the nonce it gives (§8), in a fresh proof.
   */
  async token(params: Record<string, string>, proof = false): Promise<TokenEndpointResponse> {
    const { token } = await this.discover();
    const dpop = proof ? this.config.dpop : undefined;
    const body = new URLSearchParams(params);
    const headers: Record<string, string> = {
      'Content-Type': 'application/x-www-form-urlencoded',
      Accept: 'application/json',
    };
    this.authenticate(body, headers);
    const post = async () => {
      if (dpop) headers[DPOP] = await dpop.proof('POST', token);
      const res = await this.call(token, { method: 'POST', headers, body });
      // Retried whenever the refusal names a nonce: comparing it with the stored one could miss a
      // nonce that a concurrent answer stored after this proof was made.
      const nonced = dpop?.observe(token, res) ?? false;
      const json: unknown = await res.json().catch(() => undefined);
      return { res, json, nonced };
    };
    let { res, json, nonced } = await post();
    if (nonced && res.status === 400 && isObject(json) && json.error === 'use_dpop_nonce')
      ({ res, json } = await post());
    if (!res.ok) {
      const error = isObject(json) && typeof json.error === 'string' ? json.error : undefined;
      const description =
        isObject(json) && typeof json.error_description === 'string'
          ? `: ${json.error_description}`
          : '';
      throw new TokenManagerError(
        error === 'invalid_grant' ? 'invalid_grant' : 'oauth_error',
        `token endpoint answered ${res.status} ${error ?? ''}${description}`.trim(),
        { status: res.status, ...(error ? { oauthError: error } : {}) },
      );
    }
    const type = isObject(json) && typeof json.token_type === 'string' ? json.token_type : '';
    // RFC 9449 §5: `DPoP` only in answer to a proof; a server without DPoP answers `Bearer`.
    const tokenType =
      type.toLowerCase() === 'bearer'
        ? 'Bearer'
        : dpop && type.toLowerCase() === 'dpop'
          ? 'DPoP'
          : undefined;
    if (!isObject(json) || typeof json.access_token !== 'string' || tokenType === undefined)
      throw new TokenManagerError('oauth_error', 'token endpoint answered an unusable response', {
        status: res.status,
      });
    return {
      access_token: json.access_token,
      token_type: tokenType,
      ...(typeof json.expires_in === 'number' ? { expires_in: json.expires_in } : {}),
      ...(typeof json.refresh_token === 'string' ? { refresh_token: json.refresh_token } : {}),
      ...(typeof json.scope === 'string' ? { scope: json.scope } : {}),
    };
  }

  /** RFC 7009 §2.1: revoke `token`; a refresh token revokes its whole refresh-token family. */
  async revoke(token: string, hint: 'refresh_token' | 'access_token'): Promise<void> {
    const { revocation } = await this.discover();
    if (!revocation)
      throw new TokenManagerError(
        'discovery_failed',
        'the server publishes no revocation_endpoint',
      );
    const body = new URLSearchParams({ token, token_type_hint: hint });
    const headers: Record<string, string> = {
      'Content-Type': 'application/x-www-form-urlencoded',
    };
    this.authenticate(body, headers);
    const res = await this.call(revocation, { method: 'POST', headers, body });
    await res.body?.cancel();
    if (!res.ok)
      throw new TokenManagerError('oauth_error', `revocation endpoint answered ${res.status}`, {
        status: res.status,
      });
  }
}
