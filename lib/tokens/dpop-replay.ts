// An in-process DPoP replay cache (RFC 9449 §11.1): each proof's jti is spent once while the proof is acceptable.
import { StoreUnavailableError } from '../errors';

/** What a full cache does with a new proof: refuse it (answered 503), or forget the oldest one. */
export type WhenFull = 'refuse' | 'evict';

/**
 * Proof ids seen by this process, each kept until its proof would be refused as too old anyway.
 * Bounded by `max` live ids. Full, it either refuses new proofs (`'refuse'`: fail closed, where a
 * replay would admit a request) or forgets the oldest (`'evict'`: where anyone can fill it with
 * proofs of their own keys, and a replay alone gains nothing, as at the token endpoint, whose
 * proofs come with a credential).
 *
 * @example
 * const cache = new ProofReplayCache();
 * cache.spend(`${jkt}:${jtiHash}`, proof.expiresAt, now); // true the first time, false after
 */
export class ProofReplayCache {
  private readonly seen = new Map<string, number>();
  private nextSweep = 0;

  constructor(
    private readonly max = 100_000,
    private readonly whenFull: WhenFull = 'refuse',
  ) {}

  /** Spend the proof id `key`, acceptable until `expiresAt`: true when it had not been seen. */
  spend(key: string, expiresAt: number, now: number): boolean {
    const until = this.seen.get(key);
    if (until !== undefined && until > now) return false;
    if (this.seen.size >= this.max || now >= this.nextSweep) this.sweep(now);
    if (this.seen.size >= this.max) {
      if (this.whenFull === 'refuse')
        throw new StoreUnavailableError('DPoP replay cache is full of live proofs');
      // Maps iterate in insertion order: the first is the oldest.
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    this.seen.delete(key);
    this.seen.set(key, expiresAt);
    return true;
  }

  /** Forget the proofs that can no longer be accepted. */
  private sweep(now: number): void {
    this.nextSweep = now + 10;
    for (const [key, until] of this.seen) if (until <= now) this.seen.delete(key);
  }
}
