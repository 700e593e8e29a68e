// Authorization endpoint (RFC 6749 §4.1.1-4.1.2, PKCE per RFC 7636, `iss` per RFC 9207): the host
// application's login says who is signed in; a sealed code goes back to the client's redirect URI.
import type { Request, RequestHandler, Response } from 'express';
import { newGrantId } from '../core/grant-id';
import { CLIENT_ID, DEVICE_ID, splitScope } from '../core/ids';
import { OAuthError } from '../errors';
import type { AuthorizeConfig, SignedInUser } from '../options/authorize-options';
import type { ClientRecord } from '../store/store';
import { sendErrorPage } from './authorize-error-page';
import type { ServerContext } from './context';
import { PATHS } from './metadata';
import { matchesRedirectUri } from './redirect-uri';
import { type ResolvedResource, resolveResource } from './resource';
import { grantScope, parseScope } from './scope';

/** RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
/** Longest value of each parameter we read; longer is refused, not truncated. */
const MAX: Readonly<Record<string, number>> = {
  response_type: 32,
  client_id: 128,
  redirect_uri: 2048,
  scope: 2048,
  state: 1024,
  code_challenge: 128,
  code_challenge_method: 16,
  device_id: 128,
  resource: 2048,
  dpop_jkt: 128,
};
/** Parameters that must not repeat (RFC 6749 §3.1); others are ignored (RFC 6749 §3.1). */
const READ = Object.keys(MAX);

/** An error for the client, sent to its redirect URI once that is known good (RFC 6749 §4.1.2.1). */
class RedirectableError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}

/**
 * The authorization request's parameters from the query string, read with URLSearchParams whatever
 * the application's query parser (Express 4 and 5 parse differently, and repeated names matter).
 */
function readQuery(req: Request): {
  params: Map<string, string>;
  repeated: string[];
  long: string[];
} {
  const search = new URLSearchParams(req.originalUrl.split('?')[1] ?? '');
  const params = new Map<string, string>();
  const repeated: string[] = [];
  const long: string[] = [];
  for (const name of READ) {
    const values = search.getAll(name);
    if (values.length > 1) repeated.push(name);
    const value = values[0];
    if (value === undefined || value === '') continue; // empty counts as omitted (RFC 6749 §3.1)
    if (value.length > (MAX[name] ?? 0)) long.push(name);
    params.set(name, value);
  }
  return { params, repeated, long };
}

/** Where to send the browser with `params` added to the redirect URI's own query. */
function redirectTo(uri: string, params: Record<string, string | undefined>): string {
  const url = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.append(k, v);
  return url.href;
}

function sendRedirect(res: Response, location: string): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.redirect(302, location);
}

/** The user the host says is signed in, checked: strings of sane length, or undefined. */
function signedIn(value: unknown): SignedInUser | undefined {
  if (value === null || value === undefined) return undefined;
  const u = value as Partial<SignedInUser>;
  const ok = (s: unknown) => typeof s === 'string' && s.length > 0 && s.length <= 256;
  if (!ok(u.tenantId) || !ok(u.username))
    throw new Error('authorize.authenticate must return { tenantId, username } (strings) or null');
  return { tenantId: u.tenantId as string, username: u.username as string };
}

/** The path and query of this authorization request, for the login page's `return_to`. */
function returnTo(ctx: ServerContext, req: Request): string {
  const query = req.originalUrl.split('?')[1] ?? '';
  return `${ctx.config.issuerPath}${PATHS.authorize}?${query}`;
}

export function authorizeEndpoint(ctx: ServerContext, authorize: AuthorizeConfig): RequestHandler {
  return async function authorizeEndpoint(req, res) {
    const { params, repeated, long } = readQuery(req);
    // 1. Until the client and its redirect URI are known good, errors are shown, never redirected
    //    to (RFC 6749 §4.1.2.1): an attacker must not turn this endpoint into an open redirector.
    const clientId = params.get('client_id');
    const redirectUri = params.get('redirect_uri');
    if (repeated.includes('client_id') || repeated.includes('redirect_uri'))
      return sendErrorPage(req, res, 'invalid_request', 'client_id or redirect_uri is repeated');
    if (clientId === undefined || !CLIENT_ID.test(clientId))
      return sendErrorPage(req, res, 'invalid_request', 'missing or malformed client_id');
    const found = await ctx.clients.lookupWithGeneration(clientId);
    const client: ClientRecord | undefined = found?.client;
    if (!client) return sendErrorPage(req, res, 'invalid_client', 'unknown client');
    if (redirectUri === undefined || long.includes('redirect_uri'))
      return sendErrorPage(req, res, 'invalid_request', 'missing or malformed redirect_uri');
    if (!matchesRedirectUri(client.redirectUris ?? [], redirectUri))
      return sendErrorPage(
        req,
        res,
        'invalid_request',
        'redirect_uri is not one registered for this client',
      );

    // 2. From here on, errors go back to the client (RFC 6749 §4.1.2.1), with `iss` (RFC 9207).
    const state =
      long.includes('state') || repeated.includes('state') ? undefined : params.get('state');
    const back = (error: string, description: string) =>
      sendRedirect(
        res,
        redirectTo(redirectUri, {
          error,
          error_description: description,
          state,
          iss: ctx.config.issuer,
        }),
      );
    try {
      if (repeated.length > 0)
        throw new RedirectableError('invalid_request', `parameter ${repeated[0]} is repeated`);
      if (long.length > 0)
        throw new RedirectableError('invalid_request', `parameter ${long[0]} is too long`);
      if (params.get('response_type') !== 'code')
        throw new RedirectableError('unsupported_response_type', 'response_type must be code');
      if (!client.grants.includes('authorization_code'))
        throw new RedirectableError(
          'unauthorized_client',
          'client is not allowed to use the authorization code grant',
        );
      // RFC 9700 §2.1.1: PKCE for every client, S256 only (RFC 7636 §4.4.1).
      const challenge = params.get('code_challenge');
      if (challenge === undefined)
        throw new RedirectableError('invalid_request', 'code_challenge is required (PKCE)');
      if (params.get('code_challenge_method') !== 'S256')
        throw new RedirectableError('invalid_request', 'code_challenge_method must be S256');
      if (!S256_CHALLENGE.test(challenge))
        throw new RedirectableError('invalid_request', 'code_challenge is malformed');
      const deviceId = params.get('device_id');
      if (deviceId !== undefined && !DEVICE_ID.test(deviceId))
        throw new RedirectableError(
          'invalid_request',
          'device_id must be 1-128 characters of A-Z a-z 0-9 . _ : -',
        );
      // RFC 9449 §10: the code is bound to this key; its redemption must prove it.
      const dpopJkt = params.get('dpop_jkt');
      if (dpopJkt !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(dpopJkt))
        throw new RedirectableError(
          'invalid_request',
          'dpop_jkt must be a JWK SHA-256 thumbprint (RFC 7638), base64url',
        );
      // The scope asked for, and the resource it is for (RFC 8707 §2): its `aud` and the scopes
      // of the services it serves.
      let target: ResolvedResource;
      try {
        const scope = grantScope(parseScope(params.get('scope')), client.scopes);
        target = await resolveResource(ctx, params.get('resource'), splitScope(scope));
      } catch (err) {
        if (!(err instanceof OAuthError)) throw err;
        throw new RedirectableError(
          err.error === 'invalid_scope' || err.error === 'invalid_target'
            ? err.error
            : 'invalid_request',
          err.message,
        );
      }

      // 3. Who is signed in to the host application; nobody: its login page, and back here.
      let user: SignedInUser | undefined;
      try {
        user = signedIn(await authorize.authenticate(req));
      } catch (err) {
        ctx.config.logger.error(
          { name: (err as Error)?.name, message: (err as Error)?.message },
          'authorize.authenticate threw',
        );
        throw new RedirectableError('server_error', 'the sign-in could not be checked');
      }
      if (!user) {
        const login = authorize.loginUrl;
        const sep = login.includes('?') ? '&' : '?';
        return sendRedirect(
          res,
          `${login}${sep}return_to=${encodeURIComponent(returnTo(ctx, req))}`,
        );
      }
      // First-party clients: no consent screen, but never across tenants.
      if (user.tenantId !== client.tenantId)
        throw new RedirectableError(
          'access_denied',
          'the user does not belong to the client’s tenant',
        );

      // 4. The user's ledger generation, read now: ending their grants before the code is redeemed
      //    makes the redemption refuse (as for a password checked just before it changed).
      const { generation } = await ctx.store.getUserWithGeneration(user.tenantId, user.username);
      const now = ctx.now();
      const code = authorize.codes.seal({
        grantId: newGrantId({
          tenantId: user.tenantId,
          username: user.username,
          device: deviceId !== undefined,
        }),
        clientId: client.id,
        redirectUri,
        challenge,
        tenantId: user.tenantId,
        username: user.username,
        scope: target.scopes.join(' '),
        ...(deviceId !== undefined ? { deviceId } : {}),
        ...(target.resource !== undefined ? { resource: target.resource } : {}),
        ...(dpopJkt !== undefined ? { jkt: dpopJkt } : {}),
        generation,
        expiresAt: now + authorize.codeTtl,
      });
      sendRedirect(res, redirectTo(redirectUri, { code, state, iss: ctx.config.issuer }));
    } catch (err) {
      if (err instanceof RedirectableError) return back(err.error, err.description);
      // The store: an outage is answered to the client like any error it can retry.
      back('temporarily_unavailable', 'the service is temporarily unavailable; retry later');
      ctx.config.logger.error(
        { name: (err as Error)?.name, message: (err as Error)?.message },
        'authorization request failed',
      );
    }
  };
}

/**
 * `value` when it is this server's own authorization URL (a path, as the login page got it in
 * `return_to`), else undefined: a login page sends the browser back only there, never off-site.
 */
export function safeReturnTo(ctx: ServerContext, value: unknown): string | undefined {
  const prefix = `${ctx.config.issuerPath}${PATHS.authorize}?`;
  if (typeof value !== 'string' || value.length > 8192 || !value.startsWith(prefix))
    return undefined;
  // No scheme-relative or backslash tricks, no control characters, no fragment.
  if (/[\\\s\p{Cc}#]/u.test(value) || value.startsWith('//')) return undefined;
  return value;
}
