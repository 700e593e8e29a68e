// Remote mode: the issuer's metadata (RFC 8414) and JWKS (RFC 7517), fetched once and refetched on an unknown kid.
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { GuardConfig } from '../options/guard-options';
import {
  algFits,
  SIGNING_ALGS,
  type SigningAlg,
  type VerificationKeys,
} from '../tokens/signing-keys';
import { fetchJson, upstreamUnavailable } from './fetch-json';

export interface IssuerMetadata {
  jwksUri: string;
  introspectionEndpoint?: string;
  /** tokenward's revocation feed (Server-Sent Events), when the issuer has one. */
  revocationFeedEndpoint?: string;
}

interface RemoteKey {
  alg: SigningAlg;
  publicKey: KeyObject;
}

/** Milliseconds after which the JWKS is refetched in the background even when every kid is known. */
const JWKS_MAX_AGE = 300_000;

/** Accept only signature keys whose `alg` we allow and whose type fits it: the algorithm is pinned per key. */
function importKeys(jwks: Record<string, unknown>): Map<string, RemoteKey> {
  const keys = new Map<string, RemoteKey>();
  if (!Array.isArray(jwks.keys)) return keys;
  for (const jwk of jwks.keys as Record<string, unknown>[]) {
    const { kid, alg, use } = jwk ?? {};
    if (typeof kid !== 'string' || typeof alg !== 'string') continue;
    if (!SIGNING_ALGS.includes(alg as SigningAlg) || (use !== undefined && use !== 'sig')) continue;
    if (jwk.kty !== 'EC' && jwk.kty !== 'RSA') continue;
    try {
      const publicKey = createPublicKey({ key: jwk as never, format: 'jwk' });
      if (publicKey.type === 'public' && algFits(alg as SigningAlg, publicKey))
        keys.set(kid, { alg: alg as SigningAlg, publicKey });
    } catch {
      // A key we cannot import is simply not trusted.
    }
  }
  return keys;
}

/** The issuer's metadata and signing keys, as a remote guard sees them. */
export class RemoteKeys implements VerificationKeys {
  private metadata?: Promise<IssuerMetadata>;
  private keys?: Map<string, RemoteKey>;
  /** When the JWKS was last fetched (`config.clock`, ms). */
  private fetchedAt = -Infinity;
  /** When the last fetch caused by an unknown kid started (`config.clock`, ms). */
  private missFetchAt = -Infinity;
  private loading?: Promise<void>;

  constructor(private readonly config: GuardConfig) {}

  private get timeout(): number {
    return this.config.introspection?.timeout ?? 2000;
  }

  /** RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path. */
  private metadataUrl(): string {
    const { origin } = new URL(this.config.issuer);
    return `${origin}/.well-known/oauth-authorization-server${this.config.issuerPath}`;
  }

  /** The issuer's metadata, fetched once; a failed fetch is retried by the next caller. */
  issuerMetadata(): Promise<IssuerMetadata> {
    this.metadata ??= (async () => {
      const doc = await fetchJson(this.metadataUrl(), {}, this.timeout);
      // RFC 8414 §3.3: the document must name the issuer we were configured with.
      if (doc.issuer !== this.config.issuer || typeof doc.jwks_uri !== 'string')
        throw upstreamUnavailable('metadata issuer or jwks_uri does not match');
      return {
        jwksUri: doc.jwks_uri,
        ...(typeof doc.introspection_endpoint === 'string'
          ? { introspectionEndpoint: doc.introspection_endpoint }
          : {}),
        ...(typeof doc.revocation_feed_endpoint === 'string'
          ? { revocationFeedEndpoint: doc.revocation_feed_endpoint }
          : {}),
      };
    })();
    this.metadata.catch(() => {
      this.metadata = undefined;
    });
    return this.metadata;
  }

  private reload(): Promise<void> {
    this.loading ??= (async () => {
      try {
        const { jwksUri } = await this.issuerMetadata();
        this.keys = importKeys(await fetchJson(jwksUri, {}, this.timeout));
        this.fetchedAt = this.config.clock();
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  async verificationKey(kid: string): Promise<RemoteKey | undefined> {
    if (!this.keys) await this.reload();
    else if (this.config.clock() - this.fetchedAt > JWKS_MAX_AGE) this.reload().catch(() => {});
    const found = this.keys?.get(kid);
    if (found) return found;
    // An unknown kid may be a rotation: refetch, at most once per interval of such fetches.
    const now = this.config.clock();
    if (now - this.missFetchAt < this.config.jwksRefreshInterval * 1000) return undefined;
    this.missFetchAt = now;
    await this.reload();
    return this.keys?.get(kid);
  }
}
