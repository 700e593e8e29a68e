// createGuard options: local mode (shared store) or remote mode (RFC 7662 introspection), validated once.

import type { MillisecondClock } from '../core/clock';
import { isLoopbackHost, SCOPE_TOKEN, TENANT_ID } from '../core/ids';
import type { KeysEnum } from '../core/known-keys';
import { consoleLogger, type Logger } from '../core/logger';
import { ConfigError } from '../errors';
import type { MetricsOption } from '../metrics';
import type { Store } from '../store/store';
import { DPOP_ALGORITHMS } from '../tokens/dpop-proof';
import {
  type LoadedKey,
  loadVerificationKeys,
  type StaticVerificationKey,
} from '../tokens/signing-keys';
import { clockOption, omitUndefined, parseIssuer, rejectUnknownKeys, seconds } from './parse';

/** Remote mode: ask the authorization server (RFC 7662) whether a token is active. */
export interface IntrospectionOptions {
  /** Introspection endpoint URL (default: `introspection_endpoint` from the issuer's metadata). */
  endpoint?: string;
  /** Credentials of a client allowed to introspect, sent as client_secret_basic (RFC 6749 §2.3.1). */
  clientId: string;
  clientSecret: string;
  /**
   * Seconds an answer is reused while the revocation feed is not subscribed, never past the token's
   * expiry (default 1; 0 = ask every request): how long a revoked token may still be admitted then.
   */
  cacheTtl?: number;
  /**
   * Seconds an answer is reused while the guard is subscribed to the authorization server's
   * revocation feed (default 60; at least `cacheTtl`): a revocation reaches the guard through the
   * feed and drops the answers it affects, so the guard need not ask again for each token each second.
   */
  maxCacheTtl?: number;
  /**
   * Subscribe to the revocation feed when the issuer's metadata advertises one
   * (`revocation_feed_endpoint`; default true). `false`: answers are kept `cacheTtl` only.
   */
  feed?: boolean;
  /** Most answers kept (default 10000). */
  cacheSize?: number;
  /** Milliseconds to wait for the authorization server (metadata, JWKS, introspection; default 2000). */
  timeout?: number;
}

/** What `guard.router()` publishes about this resource server beyond what the guard knows (RFC 9728 §2). */
export interface ResourceMetadataOptions {
  /**
   * `scopes_supported`. Default: in local mode, the registered scopes of the services the resource
   * (registered under the guard's `audience`) serves; in remote mode, none published.
   */
  scopesSupported?: readonly string[];
  /** `resource_name`, for display. Default: the registered resource's `name` (local mode). */
  resourceName?: string;
}

export interface GuardOptions {
  /** The authorization server's issuer identifier; tokens must carry it as `iss`. */
  issuer: string;
  /**
   * The `aud` this resource server accepts (default: the issuer, as the authorization server's
   * default). Its resource URI when it is registered with `admin.upsertResource` (RFC 8707): the
   * only tokens admitted are those asked for it, and `guard.router()` publishes it (RFC 9728).
   */
  audience?: string;
  /** Local mode: the authorization server's store (keys and live token state read from it). */
  store?: Store;
  /**
   * Local mode: the keys to verify with when the authorization server was given `keys` in its
   * options (those are not kept in the store). Public keys suffice.
   */
  keys?: StaticVerificationKey[];
  /** Remote mode: introspection of a remote authorization server. */
  introspection?: IntrospectionOptions;
  /**
   * The tenants this resource server serves: tokens of any other tenant are refused (401
   * `invalid_token`) in both modes, before any store read or introspection call. Default: every
   * tenant (`req.auth.tenantId` says which).
   */
  tenants?: readonly string[];
  /** `realm` of the WWW-Authenticate challenge (default "tokenward"). */
  realm?: string;
  /** Seconds of clock skew tolerated for `exp` and `nbf` (default 5). */
  clockTolerance?: number;
  /** Verified JWTs kept so repeat tokens skip signature checks; live state is still read per request (default 10000; 0 = off). */
  tokenCacheSize?: number;
  /** Local mode: seconds tenant modes, user roles and scope definitions are reused (default 0: read per request). */
  registryCacheTtl?: number;
  /** Remote mode: least seconds between JWKS fetches caused by an unknown `kid` (default 5). */
  jwksRefreshInterval?: number;
  /** Receives failures talking to the store or authorization server (never tokens). Default: console.error. */
  logger?: Logger;
  /** Prometheus metrics (needs prom-client): true for a registry of its own, or `{ registry }`. Default off. */
  metrics?: MetricsOption;
  /**
   * The clock the guard reads, in epoch milliseconds like `Date.now` (the default): token expiry,
   * device deadlines, the renewal hint, the introspection cache's TTL and refresh-ahead, JWKS and
   * key reload intervals. For tests and simulations, which move time instead of sleeping; give the
   * authorization server the same one.
   */
  clock?: () => number;
  /** Fields of the protected-resource metadata `guard.router()` serves (RFC 9728). */
  resourceMetadata?: ResourceMetadataOptions;
  /**
   * DPoP-bound tokens (RFC 9449): `'allowed'` (the default) accepts Bearer tokens and DPoP-bound
   * ones, each only as what it is (a bound token sent as Bearer is refused); `'required'` accepts
   * DPoP-bound tokens only. A bound token needs `Authorization: DPoP <token>` and a `DPoP` proof
   * of its key for this request; each proof is accepted once (local mode: in the store, in the
   * same round trip as the token's state; remote mode: in this process, or `replayStore`).
   * The URL a proof names is this request's, as Express sees it: behind a proxy, set `trust proxy`.
   */
  dpop?: 'allowed' | 'required';
  /**
   * Remote mode: where DPoP proofs are spent, so that a proof accepted by one instance of the
   * resource server is refused by every other (a RedisStore shared by them). Default: each
   * instance remembers the proofs it saw.
   */
  replayStore?: Store;
}

const KNOWN: KeysEnum<GuardOptions> = {
  issuer: true,
  audience: true,
  store: true,
  keys: true,
  introspection: true,
  tenants: true,
  realm: true,
  clockTolerance: true,
  tokenCacheSize: true,
  registryCacheTtl: true,
  jwksRefreshInterval: true,
  logger: true,
  metrics: true,
  clock: true,
  resourceMetadata: true,
  dpop: true,
  replayStore: true,
};

const KNOWN_RESOURCE_METADATA: KeysEnum<ResourceMetadataOptions> = {
  scopesSupported: true,
  resourceName: true,
};

const KNOWN_INTROSPECTION: KeysEnum<IntrospectionOptions> = {
  endpoint: true,
  clientId: true,
  clientSecret: true,
  cacheTtl: true,
  maxCacheTtl: true,
  feed: true,
  cacheSize: true,
  timeout: true,
};

/** A guard's DPoP settings, parsed. */
export interface GuardDpopConfig {
  /** Only DPoP-bound tokens are accepted (`dpop: 'required'`). */
  required: boolean;
  /** Seconds a proof is accepted after its `iat`. */
  proofMaxAge: number;
  /** Seconds a proof's `iat` may lie ahead of the guard's clock. */
  leeway: number;
  algorithms: readonly string[];
}

export interface GuardConfig {
  issuer: string;
  /** Path part of the issuer ('' for none), for the RFC 8414 §3.1 metadata URL. */
  issuerPath: string;
  audience: string;
  realm: string;
  clockTolerance: number;
  tokenCacheSize: number;
  registryCacheTtl: number;
  jwksRefreshInterval: number;
  logger: Logger;
  metrics?: MetricsOption;
  /** Epoch milliseconds (`clock` option, default the wall clock). */
  clock: MillisecondClock;
  store?: Store;
  /** Tenants served; undefined for every tenant. */
  tenants?: readonly string[];
  staticKeys?: LoadedKey[];
  introspection?: Required<Omit<IntrospectionOptions, 'endpoint'>> & { endpoint?: string };
  resourceMetadata?: ResourceMetadataOptions;
  dpop: GuardDpopConfig;
  /** Remote mode: where DPoP proofs are spent, when not in process. */
  replayStore?: Store;
}

const F = 'createGuard';

function url(name: string, value: unknown): string {
  try {
    if (typeof value !== 'string') throw new Error();
    const u = new URL(value);
    const local = isLoopbackHost(u.hostname);
    if (u.protocol === 'https:' || (u.protocol === 'http:' && local)) return u.href;
  } catch {}
  throw new ConfigError(`${F}: "${name}" must be an https URL (http only for localhost)`);
}

function text(name: string, value: unknown, pattern = /^[\x20-\x7E]{1,256}$/): string {
  if (typeof value !== 'string' || !pattern.test(value))
    throw new ConfigError(`${F}: "${name}" must be a non-empty string of printable characters`);
  return value;
}

function resourceMetadata(value: unknown): ResourceMetadataOptions {
  if (typeof value !== 'object' || value === null)
    throw new ConfigError(`${F}: "resourceMetadata" must be an object`);
  rejectUnknownKeys(`${F} resourceMetadata`, value, KNOWN_RESOURCE_METADATA);
  const { scopesSupported: scopes, resourceName: name } = value as ResourceMetadataOptions;
  if (
    scopes !== undefined &&
    (!Array.isArray(scopes) ||
      scopes.length > 256 ||
      !scopes.every((s) => typeof s === 'string' && SCOPE_TOKEN.test(s)))
  )
    throw new ConfigError(
      `${F}: "resourceMetadata.scopesSupported" must be an array of at most 256 scope tokens`,
    );
  return Object.freeze({
    ...(scopes !== undefined ? { scopesSupported: Object.freeze([...new Set(scopes)]) } : {}),
    ...(name !== undefined
      ? { resourceName: text('resourceMetadata.resourceName', name, /^[^\p{Cc}]{1,256}$/u) }
      : {}),
  });
}

function tenantList(value: unknown): readonly string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 10000)
    throw new ConfigError(`${F}: "tenants" must be a non-empty array of tenant ids`);
  for (const t of value as unknown[])
    if (typeof t !== 'string' || !TENANT_ID.test(t))
      throw new ConfigError(
        `${F}: "tenants" has ${JSON.stringify(String(t)).slice(0, 70)}, not a tenant id ([A-Za-z0-9._-]{1,64})`,
      );
  return Object.freeze([...new Set(value as string[])]);
}

/** Validate and default createGuard options. Throws ConfigError. */
export function parseGuardOptions(options: Readonly<GuardOptions>): GuardConfig {
  if (!options || typeof options !== 'object') throw new ConfigError(`${F}: options are required`);
  rejectUnknownKeys(F, options, KNOWN);
  const o = omitUndefined(options);
  const { issuer, path } = parseIssuer(F, o.issuer);
  if (o.store && o.introspection)
    throw new ConfigError(
      `${F}: give either "store" (local mode) or "introspection" (remote mode), not both`,
    );
  if (!o.store && !o.introspection)
    throw new ConfigError(`${F}: give "store" (local mode) or "introspection" (remote mode)`);
  if (o.store && typeof (o.store as Partial<Store>).getAccessTokenState !== 'function')
    throw new ConfigError(`${F}: "store" must be a tokenward Store (MemoryStore or RedisStore)`);
  if (o.introspection && o.registryCacheTtl !== undefined)
    throw new ConfigError(
      `${F}: "registryCacheTtl" is for local mode; remote mode uses introspection.cacheTtl`,
    );
  if (o.keys !== undefined && (!o.store || !Array.isArray(o.keys) || o.keys.length === 0))
    throw new ConfigError(
      `${F}: "keys" must be a non-empty array, in local mode only (remote mode uses the JWKS)`,
    );
  if (o.store && o.jwksRefreshInterval !== undefined)
    throw new ConfigError(
      `${F}: "jwksRefreshInterval" is for remote mode; local mode reads keys from the store`,
    );
  let introspection: GuardConfig['introspection'];
  if (o.introspection) {
    if (typeof o.introspection !== 'object')
      throw new ConfigError(`${F}: "introspection" must be an object`);
    rejectUnknownKeys(`${F} introspection`, o.introspection, KNOWN_INTROSPECTION);
    const i = {
      cacheTtl: 1,
      cacheSize: 10000,
      timeout: 2000,
      feed: true,
      ...omitUndefined(o.introspection),
    };
    const cacheTtl = seconds(F, 'introspection.cacheTtl', i.cacheTtl, 0, 300);
    const maxCacheTtl = seconds(
      F,
      'introspection.maxCacheTtl',
      i.maxCacheTtl ?? Math.max(60, cacheTtl),
      0,
      3600,
    );
    if (maxCacheTtl < cacheTtl)
      throw new ConfigError(
        `${F}: "introspection.maxCacheTtl" (${maxCacheTtl}) must be at least "introspection.cacheTtl" (${cacheTtl})`,
      );
    if (typeof i.feed !== 'boolean')
      throw new ConfigError(`${F}: "introspection.feed" must be a boolean`);
    introspection = {
      ...(i.endpoint !== undefined ? { endpoint: url('introspection.endpoint', i.endpoint) } : {}),
      clientId: text('introspection.clientId', i.clientId),
      clientSecret: text('introspection.clientSecret', i.clientSecret),
      cacheTtl,
      maxCacheTtl,
      feed: i.feed,
      cacheSize: seconds(F, 'introspection.cacheSize', i.cacheSize, 1, 1e7),
      timeout: seconds(F, 'introspection.timeout', i.timeout, 1, 60000),
    };
  }
  if (o.dpop !== undefined && o.dpop !== 'allowed' && o.dpop !== 'required')
    throw new ConfigError(`${F}: "dpop" must be 'allowed' or 'required'`);
  if (o.replayStore !== undefined) {
    if (!o.introspection)
      throw new ConfigError(
        `${F}: "replayStore" is for remote mode; local mode spends DPoP proofs in its store`,
      );
    if (typeof (o.replayStore as Partial<Store>).spendDpopProof !== 'function')
      throw new ConfigError(`${F}: "replayStore" must be a tokenward Store (RedisStore)`);
  }
  const clockTolerance = seconds(F, 'clockTolerance', o.clockTolerance ?? 5, 0, 300);
  // The realm is sent inside a quoted-string (RFC 9110 §5.6.4): no quotes or backslashes.
  const realm = text('realm', o.realm ?? 'tokenward', /^[\x20\x21\x23-\x5B\x5D-\x7E]{1,128}$/);
  return {
    issuer,
    issuerPath: path,
    audience: o.audience === undefined ? issuer : text('audience', o.audience, /^.{1,1024}$/),
    realm,
    clockTolerance,
    tokenCacheSize: seconds(F, 'tokenCacheSize', o.tokenCacheSize ?? 10000, 0, 1e7),
    registryCacheTtl: seconds(F, 'registryCacheTtl', o.registryCacheTtl ?? 0, 0, 300),
    jwksRefreshInterval: seconds(F, 'jwksRefreshInterval', o.jwksRefreshInterval ?? 5, 1, 3600),
    logger: o.logger ?? consoleLogger,
    clock: clockOption(F, o.clock),
    ...(o.metrics ? { metrics: o.metrics } : {}),
    ...(o.store ? { store: o.store } : {}),
    ...(o.tenants !== undefined ? { tenants: tenantList(o.tenants) } : {}),
    ...(o.keys ? { staticKeys: loadVerificationKeys(o.keys) } : {}),
    ...(introspection ? { introspection } : {}),
    ...(o.resourceMetadata !== undefined
      ? { resourceMetadata: resourceMetadata(o.resourceMetadata) }
      : {}),
    dpop: {
      required: o.dpop === 'required',
      proofMaxAge: 60,
      leeway: clockTolerance,
      algorithms: DPOP_ALGORITHMS,
    },
    ...(o.replayStore ? { replayStore: o.replayStore } : {}),
  };
}
