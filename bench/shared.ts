// Shared by the runner and the server child: scenario config and seeded credentials.

/** What guards `GET /r` in a `route` child. */
export type RouteGuard =
  /** nothing: the bare route */
  | 'none'
  /** tokenward `authenticate()`, local mode on a RedisStore */
  | 'local'
  /** tokenward `authenticate()` + `requireService('print')`, local mode on a RedisStore */
  | 'service'
  /** tokenward `authenticate()`, remote mode (introspection, cacheTtl 1 s), the revocation feed off */
  | 'remote'
  /** tokenward `authenticate()`, remote mode subscribed to the revocation feed (maxCacheTtl 60 s) */
  | 'remote-feed'
  /** express-oauth2-jwt-bearer `auth()` against the issuer's JWKS */
  | 'jwt-bearer'
  /** tokenward `authenticate()`, local mode on a RedisStore, `dpop: 'required'` */
  | 'local-dpop'
  /** express-oauth2-jwt-bearer `auth()` with `dpop: { enabled: true, required: true }` */
  | 'jwt-bearer-dpop';

export interface ServerConfig {
  /**
   * `echo`: bare Express urlencoded + JSON; `auth`: tokenward's router; `route`: a resource
   * server answering `GET /r` with a small JSON, guarded as `guard` says; `oidc-provider`,
   * `oauth2-server`: a peer authorization server (bench/peers/), in memory, same clients.
   */
  kind: 'echo' | 'auth' | 'route' | 'oidc-provider' | 'oauth2-server';
  store?: 'memory' | 'redis';
  redisPort?: number;
  /** Redis key prefix, one per variant so variants never share state (a guard shares its issuer's). */
  prefix?: string;
  /**
   * true: the default rate limits; false: rateLimit: false; an object: these `rateLimit` options
   * (the refresh scenario lifts refreshesPerFamily so that its families, each rotating hundreds of
   * times a second, measure the cost of counting rotations rather than 429s).
   */
  rateLimit?: boolean | Record<string, number>;
  /** How many client_credentials clients (cc-0 … cc-N-1, same secret) to seed (peers too). */
  ccClients?: number;
  /** auth: issuer `http://127.0.0.1:<own port>` (remote guards fetch its metadata and JWKS). */
  selfIssuer?: boolean;
  /** auth: access-token lifetime in seconds (default: tokenward's). */
  accessTokenTtl?: number;
  /** auth: register scope `print` (service `print`, no role check). */
  printScope?: boolean;
  /** route: what guards it. */
  guard?: RouteGuard;
  /** route: the authorization server's issuer (and, for remote guards, where to reach it). */
  issuer?: string;
}

export const ISSUER = 'http://localhost:4000';
export const CC_SECRET = 'bench-cc-secret-0123456789';
/** keyEncryptionSecret of bench servers on Redis (sealed keys are what production runs); bench only. */
export const KEY_SECRET = 'bench-key-encryption-secret-0123456789';
export const RS = { id: 'bench-rs', secret: 'bench-rs-secret-0123456789' };
export const APP_ID = 'bench-app';
export const USER = { username: 'alice', password: 'alice-password' };
/** The guarded route and the body every variant answers. */
export const ROUTE = '/r';
/** A route child answers `{ status }` here: its guard's `feedStatus()` (set-up only, never loaded). */
export const FEED_STATUS = '/bench/feed-status';
/** A self-issuing auth child counts introspection requests; POST here answers the count and resets it. */
export const INTROSPECTIONS = '/bench/introspections';
/** Peers: their token and introspection endpoints are mounted where tokenward's are. */
export const TOKEN_PATH = '/oauth2/token';
export const INTROSPECT_PATH = '/oauth2/introspect';
/** tokenward's revocation endpoint (RFC 7009). */
export const REVOKE_PATH = '/oauth2/revoke';
/** The scope every client_credentials request asks for. */
export const SCOPE = 'print';
/**
 * oidc-provider child: POST here (`?n=16`) answers `{ tokens }`, fresh refresh tokens of the public
 * client APP_ID for user USER.username, each in a grant of its own (set-up, not measured).
 */
export const PEER_REFRESH_TOKENS = '/bench/refresh-tokens';
/** oidc-provider: the resource its tokens are for by default, ES256 JWT access tokens. */
export const JWT_RESOURCE = 'urn:bench:api';
/**
 * oidc-provider: a resource whose access tokens are opaque. It does not introspect JWT access
 * tokens (its introspection endpoint rejects structured tokens), so that scenario uses one of these.
 */
export const OPAQUE_RESOURCE = 'urn:bench:opaque';
