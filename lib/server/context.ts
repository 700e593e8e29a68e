// The per-server context handed to endpoints and grants: parsed config, store, key ring, clock.

import type { Clock } from '../core/clock';
import type { AuthServerEvents, Events } from '../events';
import type { Metrics } from '../metrics';
import type { AuthServerConfig } from '../options/auth-server-options';
import type { Store } from '../store/store';
import type { KeyRing } from '../tokens/signing-keys';
import type { VerifiedTokenCache } from '../tokens/verified-token-cache';
import type { FeedHub } from './change-feed';
import type { ClientAuthenticator } from './client-auth';
import type { Hashing } from './hashing';
import type { RateLimits } from './rate-limit';

export interface ServerContext {
  config: AuthServerConfig;
  store: Store;
  keys: KeyRing;
  /** Introspection's cache of verified access tokens: a token asked about again skips its signature check. */
  verified: VerifiedTokenCache;
  clients: ClientAuthenticator;
  /** scrypt behind the concurrency cap (`passwordHashing`). */
  hashing: Hashing;
  /** The failure-counting rate limits; absent with `rateLimit: false`. */
  limits?: RateLimits;
  events: Events<AuthServerEvents>;
  /** This instance's revocation feed subscribers, unless the feed is off. */
  feed?: FeedHub;
  metrics?: Metrics;
  now: Clock;
}
