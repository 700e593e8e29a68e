// Remote mode: verify the JWT against the issuer's JWKS, then ask its introspection endpoint (RFC 7662).

import { accessTokenLiveness, whyDead } from '../core/access-token-liveness';
import type { Clock } from '../core/clock';
import { isUserGrant } from '../core/grant-type';
import type { Logger } from '../core/logger';
import { TokenRejection } from '../core/rejection';
import { ConfigError, MisconfiguredError } from '../errors';
import type { Events, GuardEvents } from '../events';
import type { GuardConfig } from '../options/guard-options';
import type { ScopeRecord } from '../store/store';
import type { CheckedProof } from '../tokens/dpop-proof';
import { ProofReplayCache } from '../tokens/dpop-replay';
import { VerifiedTokenCache } from '../tokens/verified-token-cache';
import { checkPresentation, type Presentation } from './dpop-presentation';
import { upstreamUnavailable } from './fetch-json';
import { IntrospectionClient } from './introspection-client';
import { RemoteKeys } from './remote-keys';
import { RevocationFeed } from './revocation-feed';
import type { VerifiedToken, Verifier } from './verifier';

/** A token no server issued: the answer is `active: false` once the credentials are accepted. */
const CREDENTIAL_PROBE = 'tokenward-credential-check';

const INACTIVE = new TokenRejection(
  'inactive',
  'the authorization server answered active: false (revoked, expired, or not visible to the introspecting client: another tenant without introspectAllTenants?)',
);

export class RemoteVerifier implements Verifier {
  private readonly keys: RemoteKeys;
  private readonly verified: VerifiedTokenCache;
  private readonly introspection: IntrospectionClient;
  /** DPoP proofs spent, without a `replayStore`. */
  private readonly replays = new ProofReplayCache();
  /** The revocation feed subscription (`introspection.feed`, when the issuer advertises one). */
  readonly feed?: RevocationFeed;

  constructor(
    private readonly config: GuardConfig & {
      introspection: NonNullable<GuardConfig['introspection']>;
    },
    private readonly now: Clock,
    events: Events<GuardEvents>,
  ) {
    this.keys = new RemoteKeys(config);
    this.verified = new VerifiedTokenCache(config.tokenCacheSize, config.clockTolerance, now);
    const configured = config.introspection.endpoint;
    this.introspection = new IntrospectionClient(config, async () => {
      if (configured) return configured;
      const found = (await this.keys.issuerMetadata()).introspectionEndpoint;
      if (!found) throw upstreamUnavailable('metadata has no introspection_endpoint');
      return found;
    });
    if (config.introspection.feed)
      this.feed = new RevocationFeed(
        async () => (await this.keys.issuerMetadata()).revocationFeedEndpoint,
        this.introspection.authorization,
        this.introspection,
        events,
        config.logger,
        config.introspection.timeout,
      );
  }

  async verify(token: string, presentation: Presentation): Promise<VerifiedToken | TokenRejection> {
    // The signature first, then the proof: forged or foreign tokens, or bound tokens without their
    // key, never reach the authorization server.
    const claims = await this.verified.claims(token, this.keys, this.config);
    if (claims instanceof TokenRejection) return claims;
    const proof = checkPresentation(claims, token, presentation, this.config.dpop, this.now());
    if (proof instanceof TokenRejection) return proof;
    const answer = await this.introspection.introspect(token, claims);
    if (!answer.active) return INACTIVE;
    // The answer must be about this very token; then the same rule as introspection and local mode,
    // with the answer standing for the grant's live state and its `exp` for any device deadline.
    if (answer.jti !== undefined && answer.jti !== claims.jti)
      return new TokenRejection(
        'grant_mismatch',
        'the introspection answer is about another token',
      );
    if (answer.aud !== undefined && answer.aud !== claims.aud)
      return new TokenRejection(
        'grant_mismatch',
        "the introspection answer gives another audience than the token's",
      );
    // RFC 9449 §6.2: the key the server says the token is bound to is the one the JWT names.
    if (answer.cnf?.jkt !== claims.cnf?.jkt)
      return new TokenRejection(
        'grant_mismatch',
        "the introspection answer gives another DPoP key binding (cnf) than the token's",
      );
    const state = {
      grant: {
        clientId: answer.client_id ?? claims.client_id,
        tenantId: answer.tenant_id ?? claims.tenant_id,
        subject: answer.sub ?? claims.sub,
        scope: answer.scope ?? claims.scope,
        localUser: answer.local_user ?? claims.local_user,
        deviceId: answer.device_id ?? claims.device_id,
      },
      revoked: false,
      ...(answer.exp !== undefined && answer.exp < claims.exp
        ? { deviceDeadline: answer.exp }
        : {}),
    };
    const now = this.now();
    const live = accessTokenLiveness(claims, state, now);
    if (!live) return whyDead(claims, state, now);
    if (proof && !(await this.spend(proof, now)))
      return new TokenRejection('dpop_replayed', 'the DPoP proof was presented before (jti)');
    return {
      claims,
      scopes: live.scopes,
      expiresAt: live.expiresAt,
      registry: answer.registry ?? { scopes: [] },
    };
  }

  /** Spend a DPoP proof: in `replayStore` when given (every instance), else in this process. */
  private spend(proof: CheckedProof, now: number): Promise<boolean> | boolean {
    const use = { id: proof.jtiHash, expiresAt: proof.expiresAt };
    const store = this.config.replayStore;
    return store
      ? store.spendDpopProof(proof.jkt, use, now)
      : this.replays.spend(`${proof.jkt}|${use.id}`, use.expiresAt, now);
  }

  /**
   * Ask about a token that cannot exist, to learn at start-up whether the authorization server
   * accepts this guard's introspection credentials. A refusal logs the fix and rejects with a
   * ConfigError; an unreachable server resolves false, with a warning when `warnUnreachable`.
   */
  async checkCredentials(logger: Logger, warnUnreachable: boolean): Promise<boolean> {
    try {
      await this.introspection.ask(CREDENTIAL_PROBE);
      return true;
    } catch (err) {
      if (err instanceof MisconfiguredError) {
        logger.error({ error: 'misconfigured' }, err.fix);
        throw new ConfigError(`createGuard: ${err.fix}`);
      }
      const cause = (err as { cause?: { message?: string } })?.cause?.message;
      if (warnUnreachable)
        (logger.warn ?? logger.error).call(
          logger,
          { error: 'unreachable' },
          `could not check the guard's introspection credentials (${cause ?? 'no answer'}): guarded requests answer 503 until the authorization server answers`,
        );
      return false;
    }
  }

  async localUserMode(t: VerifiedToken): Promise<boolean> {
    return t.registry?.localUserMode === true;
  }

  async roles(t: VerifiedToken): Promise<string[] | undefined> {
    return isUserGrant(t.claims.gty) ? t.registry?.roles : undefined;
  }

  async scopeDefinitions(t: VerifiedToken): Promise<ScopeRecord[]> {
    return (t.registry?.scopes ?? []).filter((s) => t.scopes.includes(s.name));
  }

  async scopesForService(service: string, t: VerifiedToken): Promise<string[]> {
    // Remote mode knows only the definitions of the token's own scopes.
    return (t.registry?.scopes ?? []).filter((s) => s.service === service).map((s) => s.name);
  }
}
