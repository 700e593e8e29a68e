// createAuthServer options: documented, defaulted, validated once at start-up.
import type { MillisecondClock } from '../core/clock';
import type { KeysEnum } from '../core/known-keys';
import { consoleLogger, type Logger } from '../core/logger';
import { ConfigError } from '../errors';
import type { MetricsOption } from '../metrics';
import { MemoryStore } from '../store/memory-store';
import type { Store } from '../store/store';
import { KeySealer } from '../tokens/key-sealing';
import {
  type LoadedKey,
  loadStaticKeys,
  SIGNING_ALGS,
  type SigningAlg,
  type StaticSigningKey,
} from '../tokens/signing-keys';
import { clockOption, omitUndefined, parseIssuer, rejectUnknownKeys, seconds } from './parse';

/** Rate limits on the token endpoint, per window (express-rate-limit; counted in Redis by a RedisStore, so they hold across instances). */
export interface RateLimitOptions {
  /** Window length in seconds (default 60). */
  windowSeconds?: number;
  /** Requests per client id per window (default 600). */
  perClient?: number;
  /** Password-grant attempts per username per window (default 20). */
  perUsername?: number;
  /** Password-grant attempts per client IP per window (default 200). */
  perIp?: number;
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
   * instance and the CLI (`TOKENWARD_KEY_SECRET`) need the same secret. Default: none — keys are
   * stored in the clear, as JWK; set it in production. Not with `keys`.
   */
  keyEncryptionSecret?: string;
  /** Seconds of clock skew tolerated when verifying tokens at revocation and introspection (default 5). */
  clockTolerance?: number;
  /**
   * Seconds a client record read from the store is reused by this instance (default 1; 0 = always
   * read). Keeps token issuance at one store round trip for client_credentials and refresh; admin
   * changes made through another instance are seen within this bound.
   */
  clientCacheTtl?: number;
  /** Token-endpoint rate limits, or false to turn them off. */
  rateLimit?: RateLimitOptions | false;
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
  clockTolerance: true,
  clientCacheTtl: true,
  rateLimit: true,
  logger: true,
  metrics: true,
  clock: true,
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

const RATE_DEFAULTS = Object.freeze({
  windowSeconds: 60,
  perClient: 600,
  perUsername: 20,
  perIp: 200,
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
  clockTolerance: number;
  clientCacheTtl: number;
  rateLimit: Required<RateLimitOptions> | false;
  logger: Logger;
  metrics?: MetricsOption;
  /** Epoch milliseconds (`clock` option, default the wall clock). */
  clock: MillisecondClock;
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
    rateLimit = {
      windowSeconds: seconds(f, 'rateLimit.windowSeconds', r.windowSeconds, 1, 86400),
      perClient: seconds(f, 'rateLimit.perClient', r.perClient, 1, 1e9),
      perUsername: seconds(f, 'rateLimit.perUsername', r.perUsername, 1, 1e9),
      perIp: seconds(f, 'rateLimit.perIp', r.perIp, 1, 1e9),
    };
  }
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
    ...(o.keys ? { staticKeys: loadStaticKeys(o.keys, o.signingAlg) } : {}),
    ...(o.keyEncryptionSecret ? { sealer: new KeySealer(o.keyEncryptionSecret) } : {}),
    clockTolerance: seconds(f, 'clockTolerance', o.clockTolerance, 0, 300),
    clientCacheTtl: seconds(f, 'clientCacheTtl', o.clientCacheTtl, 0, 60),
    rateLimit,
    logger: o.logger ?? consoleLogger,
    ...(o.metrics ? { metrics: o.metrics } : {}),
  };
}
