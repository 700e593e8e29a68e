// A bounded cache of verified JWT claims, keyed by the whole token; an entry never outlives the token's exp.
import { LRUCache } from 'lru-cache';
import type { Clock } from '../core/clock';
import { TokenRejection } from '../core/rejection';
import { type AccessTokenClaims, checkAccessToken, type VerifyOptions } from './access-token';
import type { VerificationKeys } from './signing-keys';

/**
 * Lets a token seen again skip its signature check (ES256 verify is ~55 µs). Only signature and
 * claim checks are cached: the token's live state is still checked on every request.
 */
export class VerifiedTokenCache {
  private readonly cache?: LRUCache<string, AccessTokenClaims>;

  constructor(
    size: number,
    private readonly clockTolerance: number,
    private readonly now: Clock,
  ) {
    if (size > 0) this.cache = new LRUCache({ max: size });
  }

  get(token: string): AccessTokenClaims | undefined {
    const claims = this.cache?.get(token);
    if (!claims) return undefined;
    if (claims.exp + this.clockTolerance <= this.now()) {
      this.cache?.delete(token);
      return undefined;
    }
    return claims;
  }

  set(token: string, claims: AccessTokenClaims): void {
    this.cache?.set(token, claims);
  }

  /** The token's claims: from the cache, or verified against `keys` and cached when valid; else why not. */
  async claims(
    token: string,
    keys: VerificationKeys,
    options: VerifyOptions,
  ): Promise<AccessTokenClaims | TokenRejection> {
    const cached = this.get(token);
    if (cached) return cached;
    const checked = await checkAccessToken(token, keys, options, this.now);
    if (!(checked instanceof TokenRejection)) this.set(token, checked);
    return checked;
  }
}
