// The authorization-code flow's two messages, shared by the browser redirect and the Node loopback: the request URL and the checked response.
import { TokenManagerError } from './errors';
import type { Endpoints } from './oauth-client';
import { createPkce, randomToken } from './pkce';

/** An authorization request ready to send the user to, and what redeeming its code needs. */
export interface AuthorizationRequest {
  /** The authorization endpoint with the request's query (RFC 6749 §4.1.1, RFC 7636 §4.3). */
  url: string;
  /** The random `state` the response must echo (RFC 6749 §10.12). */
  state: string;
  /** The PKCE code verifier, kept by the client and sent only to the token endpoint. */
  verifier: string;
  redirectUri: string;
}

export interface AuthorizationParams {
  clientId: string;
  redirectUri: string;
  deviceId: string;
  scope: string | undefined;
  /** RFC 8707 resource indicator. */
  resource: string | undefined;
}

/**
 * `response_type=code` with a fresh `S256` challenge and `state`, the device id (`device_id`, as
 * the password sign-in sends it) and, when given, `scope` and `resource`.
 */
export async function authorizationRequest(
  endpoints: Endpoints,
  p: AuthorizationParams,
): Promise<AuthorizationRequest> {
  if (endpoints.authorization === undefined)
    throw new TokenManagerError(
      'discovery_failed',
      'the server publishes no authorization_endpoint: it cannot sign in with a redirect',
    );
  // RFC 8414 §2: a server that lists its methods without S256 would ignore or refuse our challenge.
  if (endpoints.challengeMethods !== undefined && !endpoints.challengeMethods.includes('S256'))
    throw new TokenManagerError(
      'discovery_failed',
      'the server does not list S256 in code_challenge_methods_supported',
    );
  const pkce = await createPkce();
  const state = randomToken(24);
  const url = new URL(endpoints.authorization);
  const q = url.searchParams;
  q.set('response_type', 'code');
  q.set('client_id', p.clientId);
  q.set('redirect_uri', p.redirectUri);
  q.set('code_challenge', pkce.challenge);
  q.set('code_challenge_method', pkce.method);
  q.set('state', state);
  if (p.scope !== undefined) q.set('scope', p.scope);
  q.set('device_id', p.deviceId);
  if (p.resource !== undefined) q.set('resource', p.resource);
  return { url: url.href, state, verifier: pkce.verifier, redirectUri: p.redirectUri };
}

/**
 * The code of an authorization response whose `state` the caller has already matched: the issuer
 * is checked first (RFC 9207 §2.4: error responses too), then an `error` becomes a
 * TokenManagerError (`access_denied`, else `oauth_error`, with `oauthError` set).
 */
export function authorizationCode(
  params: URLSearchParams,
  issuer: string,
  endpoints: Endpoints,
): string {
  const iss = params.get('iss');
  if (iss !== null ? iss !== issuer : endpoints.issParameter)
    throw new TokenManagerError(
      'issuer_mismatch',
      iss === null
        ? `the authorization response names no issuer, though ${issuer} says it always does (RFC 9207)`
        : `the authorization response came from ${iss}, not ${issuer} (RFC 9207)`,
    );
  const error = params.get('error');
  if (error !== null) {
    const description = params.get('error_description');
    throw new TokenManagerError(
      error === 'access_denied' ? 'access_denied' : 'oauth_error',
      `the authorization server answered ${error}${description ? `: ${description}` : ''}`,
      { oauthError: error },
    );
  }
  const code = params.get('code');
  if (code === null || code === '')
    throw new TokenManagerError(
      'oauth_error',
      'the authorization response has neither code nor error',
    );
  return code;
}

/** Parameters of an authorization response, which are removed from the URL once it is handled. */
export const RESPONSE_PARAMS = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri'];
