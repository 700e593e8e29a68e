// The revocation feed's server side: fan the store's log of changes out to this instance's
// subscribers (one reader per instance, however many guards listen).
import type { FeedChange, FeedEntry } from '../core/feed-change';
import type { Logger } from '../core/logger';
import type { Store } from '../store/store';

/** One subscriber: an open event stream (see revocation-feed-endpoint.ts). */
export interface FeedSubscriber {
  /** The last position it was sent (or told of). */
  position: string;
  /** Whether it may see `change` (its tenant's changes, or all with introspectAllTenants). */
  sees(change: FeedChange): boolean;
  send(entry: FeedEntry): void;
  /** Changes were lost: it must drop whatever it cached; `position` is where the log goes on. */
  reset(position: string): void;
  /** Nothing new: the log is read and the subscriber is up to date at `position`. */
  heartbeat(position: string): void;
  /** Close the stream (the store failed, or the server shuts down); the subscriber reconnects. */
  end(reason: 'store' | 'shutdown'): void;
}

/** `<epoch>.<n>` of the same epoch: n compared; otherwise undefined. */
function compare(a: string, b: string): number | undefined {
  const i = a.lastIndexOf('.');
  const j = b.lastIndexOf('.');
  if (a.slice(0, i) !== b.slice(0, j)) return undefined;
  return Number(a.slice(i + 1)) - Number(b.slice(j + 1));
}

/**
 * Reads the store's log in one loop while anyone listens (a blocking read that returns on each
 * change, or after `waitMs` for a heartbeat) and hands every change to each subscriber that may see it.
 *
 * @example const hub = new FeedHub(store, 10_000, logger); await hub.join(subscriber, lastEventId);
 */
export class FeedHub {
  private readonly subscribers = new Set<FeedSubscriber>();
  /** Where the loop reads from next; set while it runs. */
  private position?: string;
  private running = false;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly waitMs: number,
    private readonly logger: Logger,
  ) {}

  /**
   * Add `sub`, first sending what it missed after `lastEventId` (or a reset when the log no longer
   * holds it). Rejects when the store cannot be read: the caller answers 503.
   */
  async join(sub: FeedSubscriber, lastEventId: string | undefined): Promise<void> {
    if (this.closed) throw new Error('the revocation feed is closed');
    let at = lastEventId;
    if (at === undefined) {
      at = this.position ?? (await this.store.readChanges(undefined, 0)).cursor;
    } else {
      for (;;) {
        const batch = await this.store.readChanges(at, 0);
        if (batch.gap) {
          sub.reset(batch.cursor);
          at = batch.cursor;
          break;
        }
        for (const e of batch.entries) if (sub.sees(e.change)) sub.send(e);
        at = batch.cursor;
        if (batch.entries.length === 0) break;
      }
    }
    // Caught up with the log; the loop may have read further meanwhile: catch up to it (no await
    // between this check and joining, so nothing the loop hands out can be missed or sent twice).
    while (this.position !== undefined && (compare(at, this.position) ?? 0) < 0) {
      const batch = await this.store.readChanges(at, 0);
      if (batch.gap) {
        sub.reset(batch.cursor);
        at = batch.cursor;
        continue;
      }
      for (const e of batch.entries) if (sub.sees(e.change)) sub.send(e);
      if (batch.entries.length === 0) break;
      at = batch.cursor;
    }
    sub.position = at;
    this.subscribers.add(sub);
    sub.heartbeat(at);
    if (!this.running) {
      this.position = at;
      this.running = true;
      void this.run();
    }
  }

  leave(sub: FeedSubscriber): void {
    this.subscribers.delete(sub);
  }

  get size(): number {
    return this.subscribers.size;
  }

  private async run(): Promise<void> {
    try {
      while (this.subscribers.size > 0 && !this.closed) {
        const from = this.position as string;
        const batch = await this.store.readChanges(from, this.waitMs);
        if (this.position !== from) return; // closed and restarted meanwhile
        this.deliver(batch.entries, batch.gap, batch.cursor);
        this.position = batch.cursor;
      }
    } catch (err) {
      // Subscribers fall back to short caching and reconnect with Last-Event-ID; nothing is lost.
      if (this.subscribers.size > 0 && !this.closed)
        this.logger.warn?.(
          { cause: (err as Error)?.message, subscribers: this.subscribers.size },
          'revocation feed: the store cannot be read; closing its event streams',
        );
      for (const sub of this.subscribers) sub.end('store');
      this.subscribers.clear();
    } finally {
      this.running = false;
      this.position = undefined;
    }
  }

  private deliver(entries: FeedEntry[], gap: boolean, cursor: string): void {
    for (const sub of [...this.subscribers]) {
      if (gap) sub.reset(cursor);
      else if (entries.length === 0) sub.heartbeat(cursor);
      for (const e of entries) {
        // A subscriber that joined after a catch-up read may already have this one.
        if ((compare(e.id, sub.position) ?? 1) <= 0) continue;
        if (sub.sees(e.change)) sub.send(e);
        sub.position = e.id;
      }
      sub.position = cursor;
    }
  }

  /** End every stream and stop reading (at shutdown). */
  close(): void {
    this.closed = true;
    for (const sub of this.subscribers) sub.end('shutdown');
    this.subscribers.clear();
  }
}
