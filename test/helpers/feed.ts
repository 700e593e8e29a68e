// A raw revocation feed subscriber for tests: fetch + eventsource-parser, every event recorded.
import { createParser } from 'eventsource-parser';
import { eventually } from './eventually';

export interface FeedEvent {
  id?: string;
  event?: string;
  data: string;
}

export interface RawFeed {
  status: number;
  /** The body of a refused request (JSON), else undefined. */
  body?: Record<string, unknown>;
  events: FeedEvent[];
  /** Events other than `ready` and `heartbeat`. */
  changes(): FeedEvent[];
  /** Resolves once `n` changes have arrived (or rejects after `timeoutMs`). */
  waitForChanges(n: number, timeoutMs?: number): Promise<FeedEvent[]>;
  ready(): Promise<void>;
  /** Whether the server ended the stream. */
  ended: boolean;
  lastId(): string | undefined;
  close(): void;
}

/** Open the feed at `url` as `client`, resuming after `lastEventId` when given. */
export async function openFeed(
  url: string,
  client: { id: string; secret: string } | undefined,
  lastEventId?: string,
): Promise<RawFeed> {
  const abort = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (client)
    headers.authorization = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  const res = await fetch(url, { headers, signal: abort.signal });
  const events: FeedEvent[] = [];
  const feed: RawFeed = {
    status: res.status,
    events,
    ended: false,
    changes: () => events.filter((e) => e.event !== 'ready' && e.event !== 'heartbeat'),
    async waitForChanges(n, timeoutMs = 5000) {
      await eventually(() => feed.changes().length >= n, timeoutMs);
      return feed.changes();
    },
    ready: () => eventually(() => events.some((e) => e.event === 'ready')),
    lastId: () => [...events].reverse().find((e) => e.id)?.id,
    close: () => abort.abort(),
  };
  if (!res.ok || !res.body) {
    feed.body = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    feed.ended = true;
    return feed;
  }
  const parser = createParser({ onEvent: (e) => events.push(e) });
  const decoder = new TextDecoder();
  (async () => {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
        parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {}
    feed.ended = true;
  })();
  return feed;
}
