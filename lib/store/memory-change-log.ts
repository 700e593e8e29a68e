// MemoryStore's revocation-feed log: a capped array of changes in this process, read by position.
import { randomBytes } from 'node:crypto';
import type { FeedChange, FeedEntry } from '../core/feed-change';
import type { ChangeBatch } from './store';

/** How many changes a reader may fall behind before it must start afresh (as RedisStore's stream). */
export const CHANGE_LOG_LENGTH = 10_000;
/** At most this many changes per read. */
export const CHANGE_BATCH = 500;

/**
 * Positions are `<epoch>.<n>`: `n` counts changes since this log was created, and the epoch tells
 * a position of another process's log (a restarted server) from one of this log.
 *
 * @example const log = new MemoryChangeLog(); await log.append({ type: 'grant.revoked', grantId });
 */
export class MemoryChangeLog {
  private readonly epoch = randomBytes(6).toString('base64url');
  private readonly entries: FeedEntry[] = [];
  /** The sequence number of the last change appended (0: none yet). */
  private last = 0;
  private waiters = new Set<() => void>();

  constructor(private readonly length = CHANGE_LOG_LENGTH) {}

  append(change: FeedChange): void {
    this.last += 1;
    this.entries.push({ id: `${this.epoch}.${this.last}`, change });
    // Trim in chunks: shifting one entry per append would copy the array every time.
    if (this.entries.length > this.length * 1.1)
      this.entries.splice(0, this.entries.length - this.length);
    const waiting = this.waiters;
    this.waiters = new Set();
    for (const wake of waiting) wake();
  }

  async read(after: string | undefined, waitMs: number): Promise<ChangeBatch> {
    const end = `${this.epoch}.${this.last}`;
    if (after === undefined) return { entries: [], cursor: end, gap: false };
    const dot = after.lastIndexOf('.');
    const n = Number(after.slice(dot + 1));
    if (after.slice(0, dot) !== this.epoch || !Number.isSafeInteger(n) || n < 0 || n > this.last)
      return { entries: [], cursor: end, gap: true };
    const first = this.last - this.entries.length + 1; // sequence of entries[0]
    if (n + 1 < first) return { entries: [], cursor: end, gap: true };
    if (n === this.last && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.waiters.delete(wake);
          resolve();
        }, waitMs);
        timer.unref();
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        this.waiters.add(wake);
      });
      return this.read(after, 0);
    }
    const from = n + 1 - first;
    const entries = this.entries.slice(from, from + CHANGE_BATCH);
    return { entries, cursor: entries.at(-1)?.id ?? after, gap: false };
  }
}
