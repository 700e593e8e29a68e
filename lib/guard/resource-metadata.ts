// Protected-resource metadata (RFC 9728): where a guard's document lives, and guard.router() serving it.
import { type Request, type Response, Router } from 'express';
import { isLoopbackHost } from '../core/ids';
import { ConfigError, OAuthError } from '../errors';
import { sendOAuthError, toOAuthError } from '../http/error-handler';
import type { GuardContext } from './guard-context';

/** RFC 9728 §3: the well-known URI suffix of protected-resource metadata. */
export const RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/** Seconds the registry facts of a local-mode document are reused (and clients may cache it). */
const FRESH_SECONDS = 60;

/** The characters RFC 3986 allows in a URI: all of them fit in a challenge's quoted-string. */
const URI_CHARS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/;

/** Where a resource's metadata is published: its URL, and the request paths that serve it. */
export interface MetadataLocation {
  /** The URL challenges name (RFC 9728 §5.1). */
  url: string;
  /** Paths served: the location of RFC 9728 §3.1, and the bare well-known path for a resource with a path. */
  paths: readonly string[];
}

/**
 * Where the metadata of resource identifier `resource` lives (RFC 9728 §3.1: the well-known path
 * goes between the host and the resource's path, a lone terminating slash dropped), or undefined
 * when `resource` is not a resource identifier: an https URL (http only for localhost) without
 * query, fragment or user info (RFC 9728 §1.2).
 *
 * @example metadataLocation('https://api.example/print')?.url
 * // 'https://api.example/.well-known/oauth-protected-resource/print'
 */
export function metadataLocation(resource: string): MetadataLocation | undefined {
  if (!URI_CHARS.test(resource) || !/^https?:\/\/[^/]/i.test(resource)) return undefined;
  if (resource.includes('?') || resource.includes('#')) return undefined;
  let url: URL;
  try {
    url = new URL(resource);
  } catch {
    return undefined;
  }
  if (url.username || url.password) return undefined;
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname)))
    return undefined;
  const path = url.pathname === '/' ? '' : url.pathname;
  const located = `${RESOURCE_METADATA_PATH}${path}`;
  return {
    url: `${url.origin}${located}`,
    paths: path ? [located, RESOURCE_METADATA_PATH] : [located],
  };
}

/** The RFC 9728 §2 document. */
export interface ResourceMetadataDocument {
  resource: string;
  authorization_servers: string[];
  scopes_supported?: string[];
  bearer_methods_supported: ['header'];
  resource_name?: string;
  /** RFC 9728 §2, RFC 9449: the DPoP proof algorithms the guard accepts. */
  dpop_signing_alg_values_supported: string[];
  /** RFC 9728 §2: only DPoP-bound tokens are accepted. */
  dpop_bound_access_tokens_required: boolean;
}

/** In local mode, what the registry says about the guard's resource: its name and its services' scopes. */
async function registered(
  ctx: GuardContext,
): Promise<{ name?: string; scopes: string[] } | undefined> {
  const store = ctx.config.store;
  if (!store) return undefined;
  const resource = await store.getResource(ctx.config.audience);
  if (!resource) return undefined;
  const services = new Set(resource.services);
  const scopes = (await store.listScopes())
    .filter((s) => s.service !== undefined && services.has(s.service))
    .map((s) => s.name)
    .sort();
  return { ...(resource.name ? { name: resource.name } : {}), scopes };
}

/** Builds the document, reading the registry (local mode) at most once per {@link FRESH_SECONDS}. */
function documentSource(ctx: GuardContext): () => Promise<ResourceMetadataDocument> {
  const { config } = ctx;
  const given = config.resourceMetadata ?? {};
  const needsRegistry =
    config.store !== undefined &&
    (given.scopesSupported === undefined || given.resourceName === undefined);
  let cached: { until: number; doc: ResourceMetadataDocument } | undefined;
  return async () => {
    const now = config.clock();
    if (cached && cached.until > now) return cached.doc;
    const facts = needsRegistry ? await registered(ctx) : undefined;
    const scopes = given.scopesSupported ?? facts?.scopes;
    const name = given.resourceName ?? facts?.name;
    const doc: ResourceMetadataDocument = {
      resource: config.audience,
      authorization_servers: [config.issuer],
      ...(scopes !== undefined ? { scopes_supported: [...scopes] } : {}),
      // RFC 6750 §2.1 only: guards refuse tokens in the body or query.
      bearer_methods_supported: ['header'],
      ...(name !== undefined ? { resource_name: name } : {}),
      dpop_signing_alg_values_supported: [...config.dpop.algorithms],
      dpop_bound_access_tokens_required: config.dpop.required,
    };
    cached = { until: now + FRESH_SECONDS * 1000, doc };
    return doc;
  };
}

/**
 * `guard.router()`: serves the guard's protected-resource metadata (RFC 9728 §3) at its well-known
 * location, and from then on the guard's challenges name it (§5.1). Mount it at the application
 * root. Throws ConfigError when the guard's `audience` is not a resource identifier.
 */
export function resourceMetadataRouter(ctx: GuardContext): Router {
  const { audience } = ctx.config;
  const where = metadataLocation(audience);
  if (!where)
    throw new ConfigError(
      `createGuard: guard.router() publishes protected-resource metadata (RFC 9728), whose resource is the guard's "audience"; it must be the resource's URI, an https URL (http only for localhost) without query or fragment, not ${JSON.stringify(audience.slice(0, 200))}`,
    );
  ctx.resourceMetadataUrl = where.url;
  const document = documentSource(ctx);
  const router = Router();
  router.use(async function protectedResourceMetadata(req: Request, res: Response, next) {
    // Served at the root only: under a mount path it would not be where the challenges say.
    if (req.baseUrl !== '' || !where.paths.includes(req.path)) return next();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendOAuthError(
        res,
        new OAuthError('invalid_request', 'method not allowed; use GET', 405),
      );
    }
    try {
      const doc = await document();
      res.setHeader('Cache-Control', `public, max-age=${FRESH_SECONDS}`);
      res.json(doc);
    } catch (err) {
      const error = toOAuthError(err);
      if (error.status >= 500)
        ctx.logger.error(
          { name: (error.cause as Error | undefined)?.name },
          'protected-resource metadata: the store could not be read',
        );
      sendOAuthError(res, error);
    }
  });
  return router;
}
