// Resource indicators (RFC 8707): the audience and scopes of a token asked for one resource server.
import { isLoopbackHost } from '../core/ids';
import { OAuthError } from '../errors';
import type { AccessTokenClaims } from '../tokens/access-token';
import type { ServerContext } from './context';

/** Longest resource URI accepted, registered or requested (as a guard's `audience`). */
export const RESOURCE_URI_MAX = 1024;

/** The characters RFC 3986 allows in a URI (no space, quote, backslash or angle bracket). */
const URI_CHARS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/;
/** RFC 3986 §4.3: an absolute URI starts with its scheme. */
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** What a token request for a resource (or for none) gets. */
export interface ResolvedResource {
  /** The access token's `aud`: the resource's URI, or the server's `audience` without one. */
  audience: string;
  /** The scopes asked for that the resource serves (all of them without a resource). */
  scopes: string[];
  /** The registered resource's URI, to keep with the grant; absent without a resource. */
  resource?: string;
}

const invalidTarget = (description: string) => new OAuthError('invalid_target', description);

/**
 * Why `uri` cannot be registered as a resource server, or undefined when it can: an absolute https
 * URL (http only for localhost), without query, fragment or user info, at most 1024 characters of
 * RFC 3986. It is kept and compared exactly as written (a guard's `audience` must be the same
 * string), so `https://print.example` and `https://print.example/` are two resources.
 *
 * @example resourceUriProblem('https://print.example') // undefined
 */
export function resourceUriProblem(uri: unknown): string | undefined {
  if (typeof uri !== 'string' || uri.length === 0 || uri.length > RESOURCE_URI_MAX)
    return `must be a URL of at most ${RESOURCE_URI_MAX} characters`;
  if (!URI_CHARS.test(uri)) return 'must be a URI: no spaces, quotes or non-ASCII characters';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URL';
  }
  if (
    !/^https?:\/\/[^/]/i.test(uri) ||
    (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname)))
  )
    return 'must use https (http only for localhost)';
  if (uri.includes('?') || uri.includes('#'))
    return 'must have no query or fragment (RFC 8707 §2, RFC 9728 §1.2)';
  const authority = uri.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//, '').split('/')[0] ?? '';
  if (url.username || url.password || authority.includes('@')) return 'must have no user info';
  return undefined;
}

/**
 * The `resource` parameter's syntax (RFC 8707 §2): "an absolute URI ... MUST NOT include a
 * fragment component". Anything else is `invalid_target`; the value is never echoed.
 */
function checkRequested(value: string): string {
  if (value.length > RESOURCE_URI_MAX || !URI_CHARS.test(value) || !SCHEME.test(value))
    throw invalidTarget(
      `resource must be an absolute URI of at most ${RESOURCE_URI_MAX} characters`,
    );
  if (value.includes('#')) throw invalidTarget('resource must not have a fragment');
  return value;
}

/**
 * Resolve the `resource` parameter of a token or authorization request (RFC 8707 §2). Without one,
 * the token is for the server's `audience` and keeps `scopes`. With one, it must name a registered
 * resource server (`admin.upsertResource`), compared exactly; the token's `aud` is its URI and its
 * scopes are those of `scopes` whose definition's `service` the resource serves (a scope with no
 * definition or no service is served by none). When that leaves none of a non-empty `scopes`, the
 * request is refused: the same request without the resource would be granted, so it is the target
 * that is unacceptable. Throws OAuthError `invalid_target` (400) for a malformed, unregistered or
 * scope-less resource; reads the store only when a resource is given (two reads, one wait).
 *
 * Callers read the parameter as given (`params.resource`); a request naming several resources is
 * refused before this (one resource per request).
 *
 * @example
 * const target = await resolveResource(ctx, params.resource, splitScope(scope));
 * // → { audience: 'https://print.example', scopes: ['print'], resource: 'https://print.example' }
 */
export async function resolveResource(
  ctx: ServerContext,
  requested: string | undefined,
  scopes: readonly string[],
): Promise<ResolvedResource> {
  if (requested === undefined) return { audience: ctx.config.audience, scopes: [...scopes] };
  const uri = checkRequested(requested);
  const [resource, definitions] = await Promise.all([
    ctx.store.getResource(uri),
    scopes.length > 0 ? ctx.store.getScopes([...scopes]) : Promise.resolve([]),
  ]);
  if (!resource) throw invalidTarget('resource is not registered at this authorization server');
  const served = new Set(resource.services);
  const kept = scopes.filter((_, i) => {
    const service = definitions[i]?.service;
    return service !== undefined && served.has(service);
  });
  if (scopes.length > 0 && kept.length === 0)
    throw invalidTarget('the resource serves none of the scopes requested or allowed');
  return { audience: resource.uri, scopes: kept, resource: resource.uri };
}

/**
 * The `resource` of a refresh request (RFC 8707 §2), checked for syntax only: the store then
 * refuses it (`invalid_target`) unless it is the family's own, atomically with the rotation.
 */
export function refreshResource(requested: string | undefined): string | undefined {
  return requested === undefined ? undefined : checkRequested(requested);
}

/**
 * The audiences this server's access tokens may carry, for checking a token before its grant is
 * read: the server's `audience`, or a resource URI. Once the grant is read, {@link isGrantAudience}
 * decides (introspection); where the grant is not read (revocation), the signature suffices.
 *
 * @example verifyAccessToken(token, ctx.keys, { issuer, audience: issuedAudiences(ctx), clockTolerance: 0 })
 */
export function issuedAudiences(ctx: ServerContext): (aud: string) => boolean {
  const own = ctx.config.audience;
  return (aud) => aud === own || (aud.length <= RESOURCE_URI_MAX && /^https?:\/\//i.test(aud));
}

/**
 * Whether `aud` is what the token's grant issues (RFC 8707): its resource's URI, else the server's
 * `audience` — a token claiming another resource than its grant's was not issued for that grant.
 */
export function isGrantAudience(
  ctx: ServerContext,
  grant: { resource?: string } | undefined,
  aud: string,
): boolean {
  return grant !== undefined && aud === (grant.resource ?? ctx.config.audience);
}

/**
 * Whether a verified access token's `aud` is its grant's, where nothing else reads the grant
 * (revocation): tokens with the server's own audience need no read, as before resources existed;
 * a resource's token costs one read of its grant's state.
 */
export async function hasGrantAudience(
  ctx: ServerContext,
  claims: Pick<AccessTokenClaims, 'aud' | 'gid' | 'jti'>,
): Promise<boolean> {
  if (claims.aud === ctx.config.audience) return true;
  const state = await ctx.store.getAccessTokenState(claims.gid, claims.jti, ctx.now());
  return isGrantAudience(ctx, state.grant, claims.aud);
}
