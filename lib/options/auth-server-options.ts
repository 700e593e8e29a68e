// createAuthServer options: documented, defaulted, validated once at start-up.
import type { MillisecondClock } from '../core/clock';
import type { KeysEnum } from '../core/known-keys';
import { consoleLogger, type Logger } from '../core/logger';
import { ConfigError } from '../errors';
import type { MetricsOption } from '../metrics';
import { MemoryStore } from '../store/memory-store';
import type { Store } from '../store/store';
import { KeySealer } from '../tokens/key-sealing';
import { DEFAULT_SCRYPT_COST, MAX_SCRYPT_COST, MIN_SCRYPT_COST } from '../tokens/secrets';
import {
  type LoadedKey,
  loadStaticKeys,
  SIGNING_ALGS,
  type SigningAlg,
  type StaticSigningKey,
} from '../tokens/signing-keys';
import {
  type AuthorizeConfig,
  type AuthorizeOptions,
  parseAuthorizeOptions,
  sharedServerSecret,
} from './authorize-options';
import { type CorsOptions, parseCorsOptions } from './cors-options';
import { type DpopConfig, type DpopOptions, parseDpopOptions } from './dpop-options';
import { clockOption, omitUndefined, parseIssuer, rejectUnknownKeys, seconds } from './parse';
import {
  parseRevocationFeedOptions,
  type RevocationFeedConfig,
  type RevocationFeedOptions,
} from './revocation-feed-options';

/**
 * Rate limits, per window. Only failures count (and, per refresh-token family, its successful
 * rotations), so a request without valid credentials cannot spend a budget a legitimate user
 * needs (docs/security.md). Counted in Redis by a RedisStore, so they hold across instances.
 */
export interface RateLimitOptions {
  /** Window length in seconds (default 900: 15 minutes). */
  windowSeconds?: number;
  /** Failed password-grant attempts per client IP per window (default 100). */
  failedPasswordsPerIp?: number;
  /**
   * Failed password-grant attempts per (tenant, username) per window (default 10). Past it, sign-ins
   * of that username only are refused (429) until the window ends; its refreshes go on.
   */
  failedPasswordsPerUsername?: number;
  /** Successful rotations per refresh-token family per window (default 300). */
  refreshesPerFamily?: number;
  /** Failed refresh-token grants per client IP per window (default 300). */
  failedRefreshesPerIp?: number;
  /**
   * Failed client authentications (wrong secret) per client id per window, at the token,
   * revocation and introspection endpoints (default 50). Past it the client's own requests still
   * pass: see docs/security.md.
   */
  failedClientAuthPerClient?: number;
  /** Failed client authentications (invalid_client) per client IP per window (default 100). */
  failedClientAuthPerIp?: number;
}

/** How passwords and client secrets are hashed (scrypt, r=8, p=1). */
export interface PasswordHashingOptions {
  /**
   * log2 of scrypt's N for new hashes, 14-20 (default 17: N=2^17, OWASP's recommendation,
   * 0.3-0.8 s and 128 MiB per hash). Below 17 a warning is logged at start-up. Hashes made at a
   * lower cost still verify and are re-hashed at this one at the user's next successful sign-in.
   */
  scryptCost?: number;
  /** scrypt computations at once (default 2; each holds a libuv thread and 128·N·8 bytes). */
  maxConcurrent?: number;
  /** Checks waiting for a turn (default 16); past it a request is answered 503 with Retry-After. */
  maxQueued?: number;
}

export interface AuthServerOptions {
  /** Issuer identifier (RFC 8414 §2): an https URL (http only for localhost), no query or fragment. */
  issuer: string;
  /** Where state lives (default: a new MemoryStore). */
  store?: Store;
  /** `aud` of access tokens (default: the issuer). */
  audience?: string;
  /** Access-token lifetime in seconds (default 600). */
  accessTokenTtl?: number;
  /** Refresh-token lifetime in seconds, renewed by each rotation (default 14 days). */
  refreshTokenTtl?: number;
  /** Absolute lifetime of a refresh-token family in seconds (default 90 days). */
  refreshTokenMaxAge?: number;
  /**
   * Device sessions: seconds of inactivity on a device after which every token of the
   * (user, device) session is refused, in every app; activity by any app postpones it
   * (default: refreshTokenTtl). Set it below accessTokenTtl to make device activity govern access tokens.
   */
  deviceIdleTtl?: number;
  /** Absolute lifetime of a device session in seconds (default: refreshTokenMaxAge). */
  deviceSessionMaxAge?: number;
  /** Seconds during which the immediate predecessor may be presented again (default 0: strict). */
  refreshReuseLeewaySeconds?: number;
  /** Signing algorithm of generated keys (default ES256). */
  signingAlg?: SigningAlg;
  /** Signing keys to use instead of keys generated into the store; the first one signs. */
  keys?: StaticSigningKey[];
  /**
   * Seal the private signing keys kept in the store (AES-256-GCM under a key derived from this
   * secret, at least 32 characters), so that a store dump yields no key that can mint tokens. Every
   * instance and the CLI (`TOKENWARD_KEY_SECRET`) need the same secret. Required with a shared
   * store (RedisStore) unless `keys` are given; a MemoryStore keeps its keys in the process. A
   * server with a secret never signs with a clear key it finds in the store: it rotates to a new
   * sealed key. Not with `keys`.
   */
  keyEncryptionSecret?: string;
  /**
   * Development only: let a server on a shared store (RedisStore) keep its private signing keys
   * there in the clear, readable by anyone who can read Redis or its backups. Logs a warning at
   * start-up. Not with `keyEncryptionSecret` or `keys`. Default false.
   */
  insecureClearKeys?: boolean;
  /** Seconds of clock skew tolerated when verifying tokens at revocation and introspection (default 5). */
  clockTolerance?: number;
  /**
   * Seconds a client record read from the store is reused by this instance (default 1; 0 = always
   * read). Keeps token issuance at one round-trip wait for client_credentials and refresh. A change
   * made through another instance is seen at the next new grant whatever this says (the record is
   * then re-read), and a secret this instance's copy refuses is checked against the stored record;
   * only refresh, revocation and introspection may accept a replaced secret within this bound.
   */
  clientCacheTtl?: number;
  /** Rate limits on failures (docs/security.md), or false to turn them off. */
  rateLimit?: RateLimitOptions | false;
  /** scrypt cost and the concurrency cap on hashing. */
  passwordHashing?: PasswordHashingOptions;
  /** Receives internal errors (never tokens or secrets); pino-compatible. Default: console.error. */
  logger?: Logger;
  /** Prometheus metrics (needs prom-client): true for a registry of its own, or `{ registry }`. Default off. */
  metrics?: MetricsOption;
  /**
   * The clock the server reads, in epoch milliseconds like `Date.now` (the default): token `iat`
   * and `exp`, refresh and device-session deadlines, key rotation and reload times, client-cache
   * expiry. For tests and simulations, which move time instead of sleeping; give the guards and the
   * store (MemoryStore `now`) the same one. Not the rate limiter's windows, which keep real time.
   */
  clock?: () => number;
  /**
   * Browser apps on other origins: the token, revocation and introspection endpoints answer CORS
   * (preflight included) for these origins only, e.g. `{ origins: ['https://app.example.com'] }`,
   * and so do the metadata and JWKS documents a browser client reads first. Default off: no CORS
   * headers, and `OPTIONS` is answered 405.
   */
  cors?: CorsOptions | false;
  /**
   * Sign users in with the authorization-code flow (RFC 6749 §4.1, PKCE per RFC 7636) through the
   * host application's own login: `{ authenticate: (req) => session user | null, loginUrl }`.
   * Default off: no authorization endpoint.
   */
  authorize?: AuthorizeOptions;
  /**
   * DPoP (RFC 9449): a token request with a `DPoP` proof gets tokens bound to the proof's key
   * (`token_type: "DPoP"`, `cnf.jkt`); a public client's refresh token then rotates only with a
   * proof from the same key, and a device session started with a key belongs to that key.
   * Always on for requests that carry a proof; clients registered with `dpop: 'required'` must.
   * These options tune it: `{ nonce: true }` asks for server nonces.
   */
  dpop?: DpopOptions;
  /**
   * The revocation feed: Server-Sent Events of what ended (grants, access tokens, device sessions,
   * users, clients) and of changed live rules (tenant mode, roles, scopes), for introspecting clients,
   * advertised as `revocation_feed_endpoint`. Remote guards subscribe and may then cache
   * introspection answers for a minute. Every instance writes to it through the store. Default on;
   * `false` turns it off (one store write less per revocation).
   */
  revocationFeed?: boolean | RevocationFeedOptions;
}

const KNOWN: KeysEnum<AuthServerOptions> = {
  issuer: true,
  store: true,
  audience: true,
  accessTokenTtl: true,
  refreshTokenTtl: true,
  refreshTokenMaxAge: true,
  refreshReuseLeewaySeconds: true,
  deviceIdleTtl: true,
  deviceSessionMaxAge: true,
  signingAlg: true,
  keys: true,
  keyEncryptionSecret: true,
  insecureClearKeys: true,
  clockTolerance: true,
  clientCacheTtl: true,
  rateLimit: true,
  passwordHashing: true,
  logger: true,
  metrics: true,
  clock: true,
  cors: true,
  authorize: true,
  dpop: true,
  revocationFeed: true,
};

const DEFAULTS = Object.freeze({
  accessTokenTtl: 600,
  refreshTokenTtl: 14 * 86400,
  refreshTokenMaxAge: 90 * 86400,
  refreshReuseLeewaySeconds: 0,
  signingAlg: 'ES256' as SigningAlg,
  clockTolerance: 5,
  clientCacheTtl: 1,
});

const RATE_DEFAULTS: Readonly<Required<RateLimitOptions>> = Object.freeze({
  windowSeconds: 900,
  failedPasswordsPerIp: 100,
  failedPasswordsPerUsername: 10,
  refreshesPerFamily: 300,
  failedRefreshesPerIp: 300,
  failedClientAuthPerClient: 50,
  failedClientAuthPerIp: 100,
});

const HASHING_DEFAULTS: Readonly<Required<PasswordHashingOptions>> = Object.freeze({
  scryptCost: DEFAULT_SCRYPT_COST,
  maxConcurrent: 2,
  maxQueued: 16,
});

export interface AuthServerConfig {
  issuer: string;
  /** Path part of the issuer ('' for none): endpoints live below it. */
  issuerPath: string;
  store: Store;
  audience: string;
  accessTokenTtl: number;
  refreshTokenTtl: number;
  refreshTokenMaxAge: number;
  refreshReuseLeewaySeconds: number;
  deviceIdleTtl: number;
  deviceSessionMaxAge: number;
  signingAlg: SigningAlg;
  staticKeys?: LoadedKey[];
  sealer?: KeySealer;
  /** Private keys are kept in the clear in a shared store (`insecureClearKeys`): warn at start-up. */
  insecureClearKeys: boolean;
  clockTolerance: number;
  clientCacheTtl: number;
  rateLimit: Required<RateLimitOptions> | false;
  passwordHashing: Required<PasswordHashingOptions>;
  logger: Logger;
  metrics?: MetricsOption;
  /** Epoch milliseconds (`clock` option, default the wall clock). */
  clock: MillisecondClock;
  /** Origins answered CORS at the token, revocation and introspection endpoints. */
  cors?: Required<CorsOptions>;
  /** The authorization-code flow, when on. */
  authorize?: AuthorizeConfig;
  /** DPoP proofs at the token endpoint (RFC 9449). */
  dpop: DpopConfig;
  /** The revocation feed, unless turned off. */
  revocationFeed: RevocationFeedConfig | false;
}

/** Validate and default createAuthServer options. Throws ConfigError. */
export function parseAuthServerOptions(options: Readonly<AuthServerOptions>): AuthServerConfig {
  if (!options || typeof options !== 'object')
    throw new ConfigError('createAuthServer: options are required');
  rejectUnknownKeys('createAuthServer', options, KNOWN);
  const o = { ...DEFAULTS, ...omitUndefined(options) };
  const { issuer, path } = parseIssuer('createAuthServer', o.issuer);
  const f = 'createAuthServer';
  if (!SIGNING_ALGS.includes(o.signingAlg)) {
    throw new ConfigError(`${f}: "signingAlg" must be one of ${SIGNING_ALGS.join(', ')}`);
  }
  const accessTokenTtl = seconds(f, 'accessTokenTtl', o.accessTokenTtl, 1, 86400);
  const refreshTokenTtl = seconds(f, 'refreshTokenTtl', o.refreshTokenTtl, 1);
  const refreshTokenMaxAge = seconds(f, 'refreshTokenMaxAge', o.refreshTokenMaxAge, 1);
  if (refreshTokenMaxAge < refreshTokenTtl) {
    throw new ConfigError(`${f}: "refreshTokenMaxAge" must not be shorter than "refreshTokenTtl"`);
  }
  const deviceIdleTtl = seconds(f, 'deviceIdleTtl', o.deviceIdleTtl ?? refreshTokenTtl, 1);
  const deviceSessionMaxAge = seconds(
    f,
    'deviceSessionMaxAge',
    o.deviceSessionMaxAge ?? refreshTokenMaxAge,
    1,
  );
  if (deviceSessionMaxAge < deviceIdleTtl) {
    throw new ConfigError(`${f}: "deviceSessionMaxAge" must not be shorter than "deviceIdleTtl"`);
  }
  let rateLimit: AuthServerConfig['rateLimit'] = false;
  if (o.rateLimit !== false) {
    const r = { ...RATE_DEFAULTS, ...omitUndefined(o.rateLimit ?? {}) };
    rejectUnknownKeys(`${f} rateLimit`, r, RATE_DEFAULTS);
    const count = (name: keyof RateLimitOptions) =>
      seconds(f, `rateLimit.${name}`, r[name], 1, 1e9);
    rateLimit = {
      windowSeconds: seconds(f, 'rateLimit.windowSeconds', r.windowSeconds, 1, 86400),
      failedPasswordsPerIp: count('failedPasswordsPerIp'),
      failedPasswordsPerUsername: count('failedPasswordsPerUsername'),
      refreshesPerFamily: count('refreshesPerFamily'),
      failedRefreshesPerIp: count('failedRefreshesPerIp'),
      failedClientAuthPerClient: count('failedClientAuthPerClient'),
      failedClientAuthPerIp: count('failedClientAuthPerIp'),
    };
  }
  const h = { ...HASHING_DEFAULTS, ...omitUndefined(o.passwordHashing ?? {}) };
  rejectUnknownKeys(`${f} passwordHashing`, h, HASHING_DEFAULTS);
  const passwordHashing = {
    scryptCost: seconds(
      f,
      'passwordHashing.scryptCost',
      h.scryptCost,
      MIN_SCRYPT_COST,
      MAX_SCRYPT_COST,
    ),
    maxConcurrent: seconds(f, 'passwordHashing.maxConcurrent', h.maxConcurrent, 1, 64),
    maxQueued: seconds(f, 'passwordHashing.maxQueued', h.maxQueued, 0, 100_000),
  };
  if (o.keys !== undefined && (!Array.isArray(o.keys) || o.keys.length === 0)) {
    throw new ConfigError(`${f}: "keys" must be a non-empty array`);
  }
  if (o.keyEncryptionSecret !== undefined) {
    if (typeof o.keyEncryptionSecret !== 'string' || o.keyEncryptionSecret.length < 32)
      throw new ConfigError(
        `${f}: "keyEncryptionSecret" must be a string of at least 32 characters`,
      );
    if (o.keys !== undefined)
      throw new ConfigError(
        `${f}: "keyEncryptionSecret" seals keys kept in the store; keys given in "keys" are not stored`,
      );
  }
  const insecureClearKeys = parseInsecureClearKeys(f, o);
  const cors = parseCorsOptions(f, o.cors);
  const staticKeys = o.keys ? loadStaticKeys(o.keys, o.signingAlg) : undefined;
  const secret = sharedServerSecret({
    ...(o.keyEncryptionSecret ? { secret: o.keyEncryptionSecret } : {}),
    ...(staticKeys ? { staticKeys } : {}),
    shared: o.store?.shared === true,
  });
  const authorize = parseAuthorizeOptions(f, o.authorize, { issuer, secret });
  const clockTolerance = seconds(f, 'clockTolerance', o.clockTolerance, 0, 300);
  const dpop = parseDpopOptions(f, o.dpop, { issuer, secret, clockTolerance });
  if (o.audience !== undefined && (typeof o.audience !== 'string' || o.audience === '')) {
    throw new ConfigError(`${f}: "audience" must be a non-empty string`);
  }
  return {
    issuer,
    issuerPath: path,
    clock: clockOption(f, o.clock),
    store: o.store ?? new MemoryStore(),
    audience: o.audience ?? issuer,
    accessTokenTtl,
    refreshTokenTtl,
    refreshTokenMaxAge,
    refreshReuseLeewaySeconds: seconds(
      f,
      'refreshReuseLeewaySeconds',
      o.refreshReuseLeewaySeconds,
      0,
      300,
    ),
    deviceIdleTtl,
    deviceSessionMaxAge,
    signingAlg: o.signingAlg,
    ...(staticKeys ? { staticKeys } : {}),
    ...(o.keyEncryptionSecret ? { sealer: new KeySealer(o.keyEncryptionSecret) } : {}),
    insecureClearKeys,
    clockTolerance,
    clientCacheTtl: seconds(f, 'clientCacheTtl', o.clientCacheTtl, 0, 60),
    rateLimit,
    passwordHashing,
    logger: o.logger ?? consoleLogger,
    ...(o.metrics ? { metrics: o.metrics } : {}),
    ...(cors ? { cors } : {}),
    ...(authorize ? { authorize } : {}),
    dpop,
    revocationFeed: parseRevocationFeedOptions(f, o.revocationFeed),
  };
}

/**
 * Keys at rest: a shared store (other processes read it) never holds a usable private key unless
 * the deployer says so. It needs `keyEncryptionSecret` or `keys`; `insecureClearKeys: true` is the
 * development-only way out. Returns whether that way out is taken.
 */
function parseInsecureClearKeys(
  f: string,
  o: Pick<AuthServerOptions, 'store' | 'keys' | 'keyEncryptionSecret' | 'insecureClearKeys'>,
): boolean {
  if (o.insecureClearKeys !== undefined && typeof o.insecureClearKeys !== 'boolean')
    throw new ConfigError(`${f}: "insecureClearKeys" must be a boolean`);
  const insecure = o.insecureClearKeys === true;
  if (insecure && o.keyEncryptionSecret !== undefined)
    throw new ConfigError(
      `${f}: "insecureClearKeys" and "keyEncryptionSecret" conflict: keys are either sealed or clear`,
    );
  if (insecure && o.keys !== undefined)
    throw new ConfigError(
      `${f}: "insecureClearKeys" and "keys" conflict: keys given in "keys" are not stored`,
    );
  if (o.store?.shared && !insecure && o.keyEncryptionSecret === undefined && o.keys === undefined)
    throw new ConfigError(
      `${f}: the store is shared (RedisStore), so private signing keys must not be kept there in ` +
        'the clear: set "keyEncryptionSecret" (at least 32 characters, the same on every instance) ' +
        'or give "keys"; for development only, "insecureClearKeys: true" keeps them in the clear',
    );
  return insecure;
}
