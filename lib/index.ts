// Public names of tokenward.

export type {
  Listener,
  TokenManagerEventName,
  TokenManagerEvents,
} from './client/emitter';
export type { TokenManagerErrorCode } from './client/errors';
export { TokenManagerError } from './client/errors';
export { FileStorage } from './client/file-storage';
export type { FetchLike } from './client/oauth-client';
export type { TokenManagerOptions } from './client/options';
export type { RedirectResult, RedirectSignInOptions } from './client/redirect-sign-in';
export type { TokenStorage } from './client/storage';
export { MemoryStorage } from './client/storage';
export type { TokenInfo } from './client/token-list';
export type { BrowserSignInOptions } from './client/token-manager';
export { TokenManager } from './client/token-manager';
export type { ChangeType, FeedChange, FeedEntry } from './core/feed-change';
export type { Logger } from './core/logger';
export type { RejectionCause } from './core/rejection';
export type { OAuthErrorCode } from './errors';
export { ConfigError, OAuthError, StoreUnavailableError, ValidationError } from './errors';
export type { AuthServerEvents, EventListener, Events, GuardEvents } from './events';
export type { Guard } from './guard/create-guard';
export { createGuard, TOKEN_EXPIRES_IN } from './guard/create-guard';
export type { FeedStatus } from './guard/revocation-feed';
export type { MetricsOption, PromRegistry } from './metrics';
export type {
  AuthServerOptions,
  PasswordHashingOptions,
  RateLimitOptions,
} from './options/auth-server-options';
export type { AuthorizeOptions, SignedInUser } from './options/authorize-options';
export type { CorsOptions } from './options/cors-options';
export type { DpopOptions } from './options/dpop-options';
export type {
  GuardOptions,
  IntrospectionOptions,
  ResourceMetadataOptions,
} from './options/guard-options';
export type { RevocationFeedOptions } from './options/revocation-feed-options';
export type {
  Admin,
  ClientInput,
  ClientView,
  ResourceInput,
  ScopeInput,
  TenantInput,
  UserInput,
  UserView,
} from './server/admin';
export type { AuthServer } from './server/create-auth-server';
export { createAuthServer } from './server/create-auth-server';
export type {
  IntrospectionRegistryFacts,
  IntrospectionResponse,
} from './server/introspection';
export type { TokenResponse } from './server/issue';
export type { MemoryStoreOptions } from './store/memory-store';
export { MemoryStore } from './store/memory-store';
export type { RedisStoreOptions } from './store/redis-store';
export { RedisStore } from './store/redis-store';
export type * from './store/store';
export type { AccessTokenClaims } from './tokens/access-token';
export type { DpopAlgorithm } from './tokens/dpop-proof';
export type {
  SigningAlg,
  StaticSigningKey,
  StaticVerificationKey,
} from './tokens/signing-keys';
export type { AuthContext, Identity } from './types';
