// An in-process DPoP replay cache (RFC 9449 §11.1): each proof's jti is spent once while the proof is acceptable.
import { StoreUnavailableError } from '../errors';

/**
 * Proof ids seen by this process, each kept until its proof would be refused as too old anyway.
 * Bounded: when `max` ids are live it refuses new proofs (answered 503) rather than forget one
 * that could then be replayed.
 *
 * @example
 * const cache = new ProofReplayCache();
 * cache.spend(`${jkt}:${jtiHash}`, proof.expiresAt, now); // true the first time, false after
 */
export class ProofReplayCache {
  private readonly seen = new Map<string, number>();
  private nextSweep = 0;

  constructor(private readonly max = 100_000) {}

  /** Spend the proof id `key`, acceptable until `expiresAt`: true when it had not been seen. */
  spend(key: string, expiresAt: number, now: number): boolean {
    const until = this.seen.get(key);
    if (until !== undefined && until > now) return false;
    if (this.seen.size >= this.max || now >= this.nextSweep) this.sweep(now);
    if (this.seen.size >= this.max)
      throw new StoreUnavailableError('DPoP replay cache is full of live proofs');
    this.seen.set(key, expiresAt);
    return true;
  }

  /** Forget the proofs that can no longer be accepted. */
  private sweep(now: number): void {
    this.nextSweep = now + 10;
    for (const [key, until] of this.seen) if (until <= now) this.seen.delete(key);
  }
}
