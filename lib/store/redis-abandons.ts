// Bookkeeping of abandoned rotations (a refresh whose caller timed out and answered 503): which never
// reached Redis, and which abandonments have not been seen to land, so the client's retry sends them first.

/** Remembers up to `max` strings, forgetting the oldest first. */
class BoundedSet {
  private readonly items = new Set<string>();
  constructor(private readonly max: number) {}
  add(item: string) {
    if (this.items.size >= this.max) {
      const oldest = this.items.values().next().value;
      if (oldest !== undefined) this.items.delete(oldest);
    }
    this.items.add(item);
  }
  delete(item: string) {
    return this.items.delete(item);
  }
}

/** Sends the abandonment of the rotation of `presentedHash` to `nextHash` of a grant. */
export type LandAbandon = (presentedHash: string, nextHash: string) => Promise<unknown>;

/**
 * Per RedisStore: rotations not yet handed to ioredis (nothing to abandon), and abandonments not
 * known to have landed, per grant (bounded: at most 10 000 grants, 16 abandonments each).
 *
 * @example abandons.unsent(next); await abandons.flush(grantId, land); // then send the rotation
 */
export class AbandonedRotations {
  /** grant id → (next hash → presented hash) of abandonments not known to have landed. */
  private readonly pending = new Map<string, Map<string, string>>();
  /** Successors of rotations that failed before they were handed to ioredis. */
  private readonly unsentRotations = new BoundedSet(1000);

  /** A rotation to `nextHash` is about to be sent: until {@link sent}, it cannot run. */
  unsent(nextHash: string) {
    this.unsentRotations.add(nextHash);
  }

  /** The rotation to `nextHash` was handed to ioredis. */
  sent(nextHash: string) {
    this.unsentRotations.delete(nextHash);
  }

  /** Land the grant's pending abandonments first: the client may be retrying one of them. */
  async flush(grantId: string, land: LandAbandon) {
    const pending = this.pending.get(grantId);
    for (const [abandoned, presented] of pending ?? []) {
      await land(presented, abandoned);
      pending?.delete(abandoned);
    }
    if (pending?.size === 0 && this.pending.get(grantId) === pending) this.pending.delete(grantId);
  }

  /**
   * Abandon the rotation of `presentedHash` to `nextHash`: nothing when it never reached Redis;
   * otherwise remembered until `land` resolves, so the grant's next rotation (the client's retry)
   * sends it first, whether this one is lost with the connection or still waiting in ioredis'
   * retries.
   */
  async abandon(grantId: string, presentedHash: string, nextHash: string, land: LandAbandon) {
    if (this.unsentRotations.delete(nextHash)) return;
    if (this.pending.size >= 10_000) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
    }
    const pending = this.pending.get(grantId) ?? new Map<string, string>();
    this.pending.set(grantId, pending);
    if (pending.size < 16) pending.set(nextHash, presentedHash);
    await land(presentedHash, nextHash);
    pending.delete(nextHash);
    if (pending.size === 0 && this.pending.get(grantId) === pending) this.pending.delete(grantId);
  }
}
