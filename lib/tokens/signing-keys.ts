// Signing keys: generated once and shared through the store (or given), parsed to KeyObjects once, published as JWKS.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { type Clock, epochMilliseconds, type MillisecondClock } from '../core/clock';
import type { Logger } from '../core/logger';
import { ConfigError } from '../errors';
import type { SigningKeyRecord, Store } from '../store/store';
import type { KeySealer } from './key-sealing';

/** JWS algorithms tokenward signs with (RFC 7518 §3); HS* and none are never accepted. */
export const SIGNING_ALGS = ['ES256', 'ES384', 'ES512', 'RS256', 'PS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

/** A key given in options instead of one generated into the store. */
export interface StaticSigningKey {
  privateKey: KeyObject | string | JsonWebKey;
  alg?: SigningAlg;
  kid?: string;
}

export interface LoadedKey {
  kid: string;
  alg: SigningAlg;
  privateKey?: KeyObject;
  publicKey: KeyObject;
  publicJwk: JsonWebKey & { kid: string; alg: string; use: string };
  expiresAt?: number;
}

const CURVE: Partial<Record<SigningAlg, string>> = {
  ES256: 'P-256',
  ES384: 'P-384',
  ES512: 'P-521',
};

/** RFC 7638 JWK thumbprint, used as kid. */
function thumbprint(jwk: JsonWebKey): string {
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** Generate a key pair for `alg` as a store record, its private part sealed when a sealer is given. */
export function generateSigningKey(
  alg: SigningAlg,
  now: number,
  sealer?: KeySealer,
): SigningKeyRecord {
  const curve = CURVE[alg];
  const { privateKey, publicKey } = curve
    ? generateKeyPairSync('ec', { namedCurve: curve })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicJwk = publicKey.export({ format: 'jwk' });
  const kid = thumbprint(publicJwk);
  const privateJwk = privateKey.export({ format: 'jwk' });
  return {
    kid,
    alg,
    ...(sealer ? { sealedPrivateJwk: sealer.seal(privateJwk, kid) } : { privateJwk }),
    publicJwk,
    createdAt: now,
  };
}

/** Whether `key` is of the type and size `alg` needs. */
export function algFits(alg: SigningAlg, key: KeyObject): boolean {
  const curve = CURVE[alg];
  if (curve)
    return (
      key.asymmetricKeyType === 'ec' &&
      key.asymmetricKeyDetails?.namedCurve ===
        { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' }[curve]
    );
  return key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;
}

function load(
  rec: {
    kid: string;
    alg: string;
    privateJwk?: JsonWebKey;
    sealedPrivateJwk?: string;
    publicJwk: JsonWebKey;
    expiresAt?: number;
    retiredAt?: number;
  },
  sealer?: KeySealer,
): LoadedKey {
  const alg = rec.alg as SigningAlg;
  // A key sealed at rest is opened only if it still signs; one we cannot open signs nothing here.
  // A server that seals never signs with a clear key: anyone who could read the store may hold it.
  const privateJwk =
    rec.retiredAt !== undefined
      ? undefined
      : rec.sealedPrivateJwk !== undefined
        ? sealer?.open(rec.sealedPrivateJwk, rec.kid)
        : sealer
          ? undefined
          : rec.privateJwk;
  const publicKey = createPublicKey({ key: rec.publicJwk as never, format: 'jwk' });
  const { kty, crv, x, y, n, e } = rec.publicJwk;
  return {
    kid: rec.kid,
    alg,
    ...(privateJwk
      ? { privateKey: createPrivateKey({ key: privateJwk as never, format: 'jwk' }) }
      : {}),
    publicKey,
    publicJwk: JSON.parse(JSON.stringify({ kty, crv, x, y, n, e, kid: rec.kid, alg, use: 'sig' })),
    ...(rec.expiresAt !== undefined ? { expiresAt: rec.expiresAt } : {}),
  };
}

/** Turn keys given in options into loaded keys; the first one signs. Throws ConfigError. */
export function loadStaticKeys(
  keys: readonly StaticSigningKey[],
  defaultAlg: SigningAlg,
): LoadedKey[] {
  return keys.map((k, i) => {
    let priv: KeyObject;
    try {
      priv =
        typeof k.privateKey === 'string'
          ? createPrivateKey(k.privateKey)
          : 'asymmetricKeyType' in (k.privateKey as object)
            ? (k.privateKey as KeyObject)
            : createPrivateKey({ key: k.privateKey as never, format: 'jwk' });
    } catch {
      throw new ConfigError(`keys[${i}].privateKey is not a private key (PEM, JWK or KeyObject)`);
    }
    if (priv.type !== 'private')
      throw new ConfigError(`keys[${i}].privateKey is not a private key`);
    const alg = k.alg ?? defaultAlg;
    if (!algFits(alg, priv)) throw new ConfigError(`keys[${i}] does not fit algorithm ${alg}`);
    const publicJwk = createPublicKey(priv).export({ format: 'jwk' });
    const loaded = load({ kid: k.kid ?? thumbprint(publicJwk), alg, publicJwk });
    return i === 0 ? { ...loaded, privateKey: priv } : loaded;
  });
}

/** A key a guard verifies with instead of the store's: public (or private, whose public part is used). */
export interface StaticVerificationKey {
  key: KeyObject | string | JsonWebKey;
  /** Default: ES256/384/512 by curve for EC keys, RS256 for RSA keys. */
  alg?: SigningAlg;
  /** Default: the RFC 7638 thumbprint, as the authorization server derives it. */
  kid?: string;
}

function defaultAlg(key: KeyObject): SigningAlg {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  return curve === 'secp384r1' ? 'ES384' : curve === 'secp521r1' ? 'ES512' : 'ES256';
}

/** Turn keys given to a guard into verification-only loaded keys. Throws ConfigError. */
export function loadVerificationKeys(keys: readonly StaticVerificationKey[]): LoadedKey[] {
  return keys.map((k, i) => {
    let pub: KeyObject;
    try {
      const given =
        typeof k.key === 'string'
          ? k.key.includes('PRIVATE KEY')
            ? createPrivateKey(k.key)
            : createPublicKey(k.key)
          : 'asymmetricKeyType' in (k.key as object)
            ? (k.key as KeyObject)
            : 'd' in (k.key as JsonWebKey)
              ? createPrivateKey({ key: k.key as never, format: 'jwk' })
              : createPublicKey({ key: k.key as never, format: 'jwk' });
      pub = given.type === 'public' ? given : createPublicKey(given);
    } catch {
      throw new ConfigError(`keys[${i}].key is not an EC or RSA key (PEM, JWK or KeyObject)`);
    }
    const alg = k.alg ?? defaultAlg(pub);
    if (!SIGNING_ALGS.includes(alg) || !algFits(alg, pub))
      throw new ConfigError(`keys[${i}] does not fit algorithm ${alg}`);
    const publicJwk = pub.export({ format: 'jwk' });
    return load({ kid: k.kid ?? thumbprint(publicJwk), alg, publicJwk });
  });
}

export interface KeyRingOptions {
  alg: SigningAlg;
  /** Keys from options; when set the store's keys are not used. */
  staticKeys?: LoadedKey[];
  /** Seconds a retired key stays published (the access-token lifetime plus skew). */
  retainSeconds: number;
  /** Seconds between background reloads from the store, so rotations by other instances are seen. */
  reloadInterval?: number;
  /** Only read keys (a guard): never generate one into an empty store. */
  readOnly?: boolean;
  /**
   * Seals generated private keys and opens stored ones (`keyEncryptionSecret`). With it, an active
   * key found in the clear is replaced by a new sealed one, and dropped.
   */
  sealer?: KeySealer;
  /** Told (once per key) when an active key was found in the clear and replaced. */
  logger?: Logger;
  /** Epoch seconds: key creation and retirement times, the reload interval. */
  now: Clock;
  /** Epoch milliseconds, for the unknown-kid reload throttle (default: the wall clock). */
  clock?: MillisecondClock;
}

/** Looks up the public key for a `kid` from a trusted set only. */
export interface VerificationKeys {
  verificationKey(kid: string): Promise<Pick<LoadedKey, 'alg' | 'publicKey'> | undefined>;
}

/**
 * The signing key set: loaded lazily from the store (generated there on first start, shared by
 * every instance), reloaded in the background and on an unknown `kid` (at most every 5 s).
 */
export class KeyRing implements VerificationKeys {
  private keys: LoadedKey[] = [];
  private loadedAt = -Infinity;
  private missReloadAt = -Infinity;
  private loading?: Promise<void>;
  private readonly clock: MillisecondClock;
  /** Kids of clear keys already reported, so that the log says it once. */
  private readonly reported = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly options: KeyRingOptions,
  ) {
    this.clock = options.clock ?? epochMilliseconds;
    if (options.staticKeys) {
      this.keys = options.staticKeys;
      this.loadedAt = Infinity;
    }
  }

  private reload(): Promise<void> {
    this.loading ??= (async () => {
      try {
        let records = await this.store.getSigningKeys();
        if (records.length === 0 && !this.options.readOnly) {
          records = await this.store.initSigningKeys(
            generateSigningKey(this.options.alg, this.options.now(), this.options.sealer),
          );
        }
        records = await this.replaceClearKey(records);
        this.keys = records.map((r) => load(r, this.options.sealer));
        this.loadedAt = this.options.now();
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  /**
   * A sealing server that finds the active key in the clear (written by a CLI without the secret,
   * or injected by whoever can write the store) must not sign with it, and must not trust what it
   * signed: anyone who read the store may hold it. It rotates to a new sealed key and drops the
   * clear one at once (not retired: its tokens are not trusted). Concurrent instances doing the
   * same drop only that kid, so a sealed key another instance just made is retired as usual.
   */
  private async replaceClearKey(records: SigningKeyRecord[]): Promise<SigningKeyRecord[]> {
    const { sealer, readOnly, logger } = this.options;
    const active = records.find((r) => r.retiredAt === undefined);
    if (!sealer || readOnly || active?.privateJwk === undefined) return records;
    if (!this.reported.has(active.kid)) {
      this.reported.add(active.kid);
      logger?.error(
        { kid: active.kid },
        'the active signing key in the store is not sealed with keyEncryptionSecret: it is never used; rotating to a new sealed key and dropping it (rotate keys with TOKENWARD_KEY_SECRET set)',
      );
    }
    const now = this.options.now();
    return this.store.rotateSigningKeys(
      generateSigningKey(this.options.alg, now, sealer),
      now,
      this.options.retainSeconds,
      active.kid,
    );
  }

  private async ensure(): Promise<void> {
    if (this.loadedAt === -Infinity) await this.reload();
    else if (this.options.now() - this.loadedAt > (this.options.reloadInterval ?? 60)) {
      this.reload().catch(() => {}); // stale keys keep working; the next call retries
    }
  }

  /** The key that signs new tokens. */
  async signingKey(): Promise<LoadedKey & { privateKey: KeyObject }> {
    await this.ensure();
    const key = this.keys.find((k) => k.privateKey);
    if (!key?.privateKey)
      throw new Error(
        'no usable signing key: the store holds none, or it was sealed with a keyEncryptionSecret this server does not have',
      );
    return key as LoadedKey & { privateKey: KeyObject };
  }

  /** The public key for `kid` from our own set only; undefined for anything else. */
  async verificationKey(kid: string): Promise<LoadedKey | undefined> {
    await this.ensure();
    const found = this.keys.find((k) => k.kid === kid);
    // Unknown kids (another instance rotated, or an attacker's) reload at most once per 5 s.
    if (found || this.options.staticKeys || this.clock() - this.missReloadAt < 5000) return found;
    this.missReloadAt = this.clock();
    await this.reload();
    return this.keys.find((k) => k.kid === kid);
  }

  /** The JWKS document (RFC 7517 §5): every published public key. */
  async jwks(): Promise<{ keys: LoadedKey['publicJwk'][] }> {
    await this.ensure();
    const now = this.options.now();
    return {
      keys: this.keys.filter((k) => (k.expiresAt ?? Infinity) > now).map((k) => k.publicJwk),
    };
  }

  /** Generate a new signing key; the previous one stays published for `retainSeconds`. */
  async rotate(): Promise<string> {
    if (this.options.staticKeys)
      throw new ConfigError('keys given in options cannot be rotated by the store');
    const next = generateSigningKey(this.options.alg, this.options.now(), this.options.sealer);
    // A sealing server drops a clear active key rather than keep it published (see replaceClearKey).
    const active = this.options.sealer
      ? (await this.store.getSigningKeys()).find((r) => r.retiredAt === undefined)
      : undefined;
    const records = await this.store.rotateSigningKeys(
      next,
      this.options.now(),
      this.options.retainSeconds,
      active?.privateJwk !== undefined ? active.kid : undefined,
    );
    this.keys = records.map((r) => load(r, this.options.sealer));
    this.loadedAt = this.options.now();
    return next.kid;
  }
}
