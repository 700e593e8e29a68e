// Remote mode: verify the JWT against the issuer's JWKS, then ask its introspection endpoint (RFC 7662).
import { accessTokenLiveness } from '../core/access-token-liveness';
import type { Clock } from '../core/clock';
import type { GuardConfig } from '../options/guard-options';
import type { ScopeRecord } from '../store/store';
import { VerifiedTokenCache } from '../tokens/verified-token-cache';
import { upstreamUnavailable } from './fetch-json';
import { IntrospectionClient } from './introspection-client';
import { RemoteKeys } from './remote-keys';
import type { VerifiedToken, Verifier } from './verifier';

export class RemoteVerifier implements Verifier {
  private readonly keys: RemoteKeys;
  private readonly verified: VerifiedTokenCache;
  private readonly introspection: IntrospectionClient;

  constructor(
    private readonly config: GuardConfig & {
      introspection: NonNullable<GuardConfig['introspection']>;
    },
    private readonly now: Clock,
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
  }

  async verify(token: string): Promise<VerifiedToken | undefined> {
    // The signature first: forged or foreign tokens never reach the authorization server.
    const claims = await this.verified.claims(token, this.keys, this.config);
    if (!claims) return undefined;
    const answer = await this.introspection.introspect(token, claims.exp);
    if (!answer.active) return undefined;
    // The answer must be about this very token; then the same rule as introspection and local mode,
    // with the answer standing for the grant's live state and its `exp` for any device deadline.
    if (answer.jti !== undefined && answer.jti !== claims.jti) return undefined;
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
    const live = accessTokenLiveness(claims, state, this.now());
    if (!live) return undefined;
    return {
      claims,
      scopes: live.scopes,
      expiresAt: live.expiresAt,
      registry: answer.registry ?? { scopes: [] },
    };
  }

  async localUserMode(t: VerifiedToken): Promise<boolean> {
    return t.registry?.localUserMode === true;
  }

  async roles(t: VerifiedToken): Promise<string[] | undefined> {
    return t.claims.gty === 'password' ? t.registry?.roles : undefined;
  }

  async scopeDefinitions(t: VerifiedToken): Promise<ScopeRecord[]> {
    return (t.registry?.scopes ?? []).filter((s) => t.scopes.includes(s.name));
  }

  async scopesForService(service: string, t: VerifiedToken): Promise<string[]> {
    // Remote mode knows only the definitions of the token's own scopes.
    return (t.registry?.scopes ?? []).filter((s) => s.service === service).map((s) => s.name);
  }
}
