// The `authorize` option of createAuthServer: the authorization-code flow (RFC 6749 §4.1 with PKCE)
// signing users in through the host application's own login.
import { randomBytes } from 'node:crypto';
import type { Request } from 'express';
import type { KeysEnum } from '../core/known-keys';
import { ConfigError } from '../errors';
import { CodeSealer } from '../tokens/authorization-code';
import type { LoadedKey } from '../tokens/signing-keys';
import { omitUndefined, rejectUnknownKeys, seconds } from './parse';

/** Who the host application says is signed in. */
export interface SignedInUser {
  tenantId: string;
  username: string;
}

export interface AuthorizeOptions {
  /**
   * The user signed in to the host application for this request (read its session, passport's
   * `req.user`, …), or null when nobody is: the browser is then sent to `loginUrl`. May be async.
   * The user must belong to the client's tenant (else `access_denied`).
   */
  authenticate(
    req: Request,
  ): SignedInUser | null | undefined | Promise<SignedInUser | null | undefined>;
  /**
   * The host's login page: a path of this application (`/login`) or an absolute URL. The browser
   * is sent there with `?return_to=<the authorization request's path and query>`; after signing in,
   * send it back there — only after checking it with `auth.safeReturnTo(returnTo)`.
   */
  loginUrl: string;
  /** Seconds an authorization code may be redeemed in (default 60, at most 60). */
  codeTtl?: number;
}

export interface AuthorizeConfig {
  authenticate: AuthorizeOptions['authenticate'];
  loginUrl: string;
  codeTtl: number;
  /** Seals codes; the same on every instance that shares the store. */
  codes: CodeSealer;
}

const KNOWN: KeysEnum<AuthorizeOptions> = { authenticate: true, loginUrl: true, codeTtl: true };

/**
 * The secret every instance of a server derives its stateless tokens' keys from (sealed
 * authorization codes, DPoP nonces): `keyEncryptionSecret`, else the first of `keys`, else (a store
 * of this process only) a random one of this process. Undefined for a shared store without either:
 * no key every instance shares.
 */
export function sharedServerSecret(from: {
  secret?: string;
  staticKeys?: LoadedKey[];
  shared: boolean;
}): string | Buffer | undefined {
  const key = from.staticKeys?.[0]?.privateKey?.export({ format: 'jwk' }).d;
  return from.secret ?? key ?? (from.shared ? undefined : randomBytes(32));
}

/**
 * Validate `authorize`. Codes are sealed under a key derived from the {@link sharedServerSecret};
 * a shared store without one cannot seal codes every instance can open.
 */
export function parseAuthorizeOptions(
  f: string,
  authorize: AuthorizeOptions | undefined,
  from: { issuer: string; secret: string | Buffer | undefined },
): AuthorizeConfig | undefined {
  if (authorize === undefined) return undefined;
  if (typeof authorize !== 'object' || authorize === null)
    throw new ConfigError(`${f}: "authorize" must be { authenticate, loginUrl }`);
  rejectUnknownKeys(`${f} authorize`, authorize, KNOWN);
  const a = omitUndefined(authorize);
  if (typeof a.authenticate !== 'function')
    throw new ConfigError(
      `${f}: "authorize.authenticate" must be a function (req) => ({ tenantId, username }) | null`,
    );
  const loginUrl = a.loginUrl;
  const isPath = typeof loginUrl === 'string' && /^\/(?![/\\])/.test(loginUrl);
  let isUrl = false;
  try {
    isUrl = typeof loginUrl === 'string' && /^https?:$/.test(new URL(loginUrl).protocol);
  } catch {}
  if (typeof loginUrl !== 'string' || !(isPath || isUrl) || /[\s#]/.test(loginUrl))
    throw new ConfigError(
      `${f}: "authorize.loginUrl" must be a path of this application ('/login') or an absolute http(s) URL, without a fragment`,
    );
  const secret = from.secret;
  if (secret === undefined)
    throw new ConfigError(
      `${f}: "authorize" on a shared store (RedisStore) seals its authorization codes with "keyEncryptionSecret" (or the first of "keys"), so that every instance opens them: set one`,
    );
  return {
    authenticate: a.authenticate,
    loginUrl,
    codeTtl: seconds(f, 'authorize.codeTtl', a.codeTtl ?? 60, 1, 60),
    codes: new CodeSealer(secret, from.issuer),
  };
}
