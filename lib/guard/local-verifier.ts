// Local mode: verify the JWT with the store's keys, then read its live state in one store round trip.

import { LRUCache } from 'lru-cache';
import { accessTokenLiveness, whyDead } from '../core/access-token-liveness';
import { type Clock, epochSeconds, type MillisecondClock } from '../core/clock';
import { isUserGrant } from '../core/grant-type';
import { TokenRejection } from '../core/rejection';
import type { GuardConfig } from '../options/guard-options';
import type { ScopeRecord, Store } from '../store/store';
import { KeyRing } from '../tokens/signing-keys';
import { VerifiedTokenCache } from '../tokens/verified-token-cache';
import { checkPresentation, type Presentation } from './dpop-presentation';
import type { VerifiedToken, Verifier } from './verifier';

/**
 * Reads through a short-lived cache, or straight from the store when `ttlMs` is 0. Entries expire
 * by `clock` (the guard's), not by the LRU's own timer, so that an injected clock governs them.
 */
class ShortCache {
  private readonly cache?: LRUCache<string, { value: unknown; until: number }>;
  constructor(
    private readonly ttlMs: number,
    private readonly clock: MillisecondClock,
    max: number,
  ) {
    if (ttlMs > 0) this.cache = new LRUCache({ max });
  }
  async read<T>(key: string, load: () => Promise<T>): Promise<T> {
    if (!this.cache) return load();
    const hit = this.cache.get(key);
    if (hit && hit.until > this.clock()) return hit.value as T;
    const value = await load();
    this.cache.set(key, { value, until: this.clock() + this.ttlMs });
    return value;
  }
}

export class LocalVerifier implements Verifier {
  private readonly keys: KeyRing;
  private readonly verified: VerifiedTokenCache;
  private readonly registry: ShortCache;
  /** Only on the denial path; cached briefly so a flood of denials does not list the registry each time. */
  private readonly serviceScopes: ShortCache;

  constructor(
    private readonly store: Store,
    private readonly config: GuardConfig,
    private readonly now: Clock = epochSeconds,
  ) {
    // The guard never generates keys; it reads the set the authorization server keeps in the store.
    this.keys = new KeyRing(store, {
      alg: 'ES256',
      retainSeconds: 0,
      reloadInterval: 60,
      readOnly: true,
      ...(config.staticKeys ? { staticKeys: config.staticKeys } : {}),
      now,
      clock: config.clock,
    });
    this.verified = new VerifiedTokenCache(config.tokenCacheSize, config.clockTolerance, now);
    this.registry = new ShortCache(config.registryCacheTtl * 1000, config.clock, 10000);
    this.serviceScopes = new ShortCache(1000, config.clock, 1000);
  }

  async verify(token: string, presentation: Presentation): Promise<VerifiedToken | TokenRejection> {
    // A token seen before is served from the cache without a promise to wait for.
    const claims =
      this.verified.get(token) ?? (await this.verified.claims(token, this.keys, this.config));
    if (claims instanceof TokenRejection) return claims;
    const now = this.now();
    const proof = checkPresentation(claims, token, presentation, this.config.dpop, now);
    if (proof instanceof TokenRejection) return proof;
    // The one store round trip of a guarded request: grant record and revocation flags together,
    // and a DPoP proof spent with them (RFC 9449 §11.1).
    const state = await this.store.getAccessTokenState(
      claims.gid,
      claims.jti,
      now,
      proof && { id: proof.jtiHash, expiresAt: proof.expiresAt },
    );
    const live = accessTokenLiveness(claims, state, now);
    if (!live) return whyDead(claims, state, now);
    if (state.proofReplayed)
      return new TokenRejection('dpop_replayed', 'the DPoP proof was presented before (jti)');
    // A grant for a resource (RFC 8707) issues tokens for that audience only.
    const resource = state.grant?.resource;
    if (resource !== undefined && resource !== claims.aud)
      return new TokenRejection(
        'grant_mismatch',
        "the token's aud is not the resource its grant was issued for",
      );
    return { claims, ...live };
  }

  async localUserMode(t: VerifiedToken): Promise<boolean> {
    const id = t.claims.tenant_id;
    const tenant = await this.registry.read(`t:${id}`, () => this.store.getTenant(id));
    return tenant?.localUserMode === true;
  }

  async roles(t: VerifiedToken): Promise<string[] | undefined> {
    if (!isUserGrant(t.claims.gty)) return undefined;
    const { tenant_id: tid, sub } = t.claims;
    const user = await this.registry.read(`u:${tid}:${sub}`, () => this.store.getUser(tid, sub));
    return user?.roles;
  }

  async scopeDefinitions(t: VerifiedToken): Promise<ScopeRecord[]> {
    // One read for all of the token's scopes (one MGET in Redis).
    const key = `s:${t.scopes.join(' ')}`;
    const defs = await this.registry.read(key, () => this.store.getScopes(t.scopes));
    return defs.filter((d): d is ScopeRecord => d !== undefined);
  }

  async scopesForService(service: string): Promise<string[]> {
    return this.serviceScopes.read(service, async () =>
      (await this.store.listScopes()).filter((s) => s.service === service).map((s) => s.name),
    );
  }
}
