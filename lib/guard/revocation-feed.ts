// A remote guard's subscription to the authorization server's revocation feed (Server-Sent Events).
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { changeFromWire, type FeedChange } from '../core/feed-change';
import type { Logger } from '../core/logger';
import type { Events, GuardEvents } from '../events';

/** `subscribed`: caught up and listening; `connecting`: not (yet, or again); `off`: not used. */
export type FeedStatus = 'subscribed' | 'connecting' | 'off';

/** What the subscription tells the guard's introspection cache. */
export interface FeedListener {
  /** Drop the answers `change` affects. */
  change(change: FeedChange): void;
  /** Changes may have been missed: drop every answer. */
  reset(): void;
  /** The status changed (answers are kept long only while `subscribed`). */
  status(status: FeedStatus): void;
}

/** Without a heartbeat from the server for this many of its intervals, the stream is taken for dead. */
const MISSED_HEARTBEATS = 3;
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 10_000;

/**
 * Keeps one event stream open to the feed, resuming with Last-Event-ID after any drop (backing off
 * while the server is away), and hands what it hears to the listener.
 *
 * @example const feed = new RevocationFeed(endpoint, authorization, listener, events, logger); feed.start();
 */
export class RevocationFeed {
  private state: FeedStatus = 'connecting';
  private lastEventId?: string;
  private abort?: AbortController;
  private closed = false;
  private retryMs = FIRST_RETRY_MS;
  private timer?: NodeJS.Timeout;

  constructor(
    /** The feed's URL, or undefined when the issuer advertises none (then the feed stays off). */
    private readonly endpoint: () => Promise<string | undefined>,
    private readonly authorization: string,
    private readonly listener: FeedListener,
    private readonly events: Events<GuardEvents>,
    private readonly logger: Logger,
    private readonly connectTimeoutMs: number,
  ) {}

  get status(): FeedStatus {
    return this.state;
  }

  start(): void {
    void this.connect();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.abort?.abort();
    this.setStatus('off');
  }

  private setStatus(status: FeedStatus): void {
    if (this.state === status) return;
    this.state = status;
    this.listener.status(status);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    let reason = 'unreachable';
    try {
      const url = await this.endpoint();
      if (url === undefined) {
        this.setStatus('off');
        this.logger.debug?.(
          {},
          'revocation feed: the issuer advertises none; caching answers cacheTtl only',
        );
        return;
      }
      reason = await this.listen(url);
    } catch (err) {
      reason = (err as Error)?.name === 'AbortError' ? 'timeout' : 'unreachable';
    }
    if (this.closed) return;
    if (this.state === 'subscribed') this.events.emit('feed.disconnected', { reason });
    this.setStatus('connecting');
    this.timer = setTimeout(() => void this.connect(), this.retryMs * (0.5 + Math.random() / 2));
    this.timer.unref();
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }

  /** One connection, until it ends; resolves with why it ended. */
  private async listen(url: string): Promise<string> {
    const abort = new AbortController();
    this.abort = abort;
    let watchdog: NodeJS.Timeout | undefined;
    let silence = this.connectTimeoutMs;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => abort.abort(), silence);
      watchdog.unref();
    };
    arm();
    try {
      const res = await fetch(url, {
        headers: {
          authorization: this.authorization,
          accept: 'text/event-stream',
          ...(this.lastEventId ? { 'last-event-id': this.lastEventId } : {}),
        },
        signal: abort.signal,
      });
      if (!res.ok || !res.body) {
        await res.body?.cancel();
        if (res.status === 401 || res.status === 403)
          this.logger.error(
            { status: res.status },
            "revocation feed refused the guard's introspection credentials: caching answers cacheTtl only",
          );
        return `status_${res.status}`;
      }
      const parser = createParser({
        onEvent: (e: EventSourceMessage) => {
          if (e.id) this.lastEventId = e.id;
          arm();
          if (e.event === 'ready') {
            const hb = Number((JSON.parse(e.data || '{}') as { heartbeat?: unknown }).heartbeat);
            if (hb > 0) silence = hb * 1000 * MISSED_HEARTBEATS;
            arm();
            this.retryMs = FIRST_RETRY_MS;
            this.setStatus('subscribed');
            this.events.emit('feed.connected', { resumed: this.lastEventId !== undefined });
          } else if (e.event === 'reset') {
            this.listener.reset();
            this.events.emit('feed.change', { type: 'reset' });
          } else if (e.event !== 'heartbeat') {
            const change = changeFromWire(e.event ?? '', e.data);
            if (change) {
              this.listener.change(change);
              this.events.emit('feed.change', { type: change.type });
            } else {
              // A change this guard cannot read (a newer server's): it may end anything.
              this.listener.reset();
              this.events.emit('feed.change', { type: 'reset' });
            }
          }
        },
      });
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
      }
      return 'closed';
    } catch (err) {
      if (abort.signal.aborted && !this.closed) return 'silent';
      throw err;
    } finally {
      clearTimeout(watchdog);
    }
  }
}
