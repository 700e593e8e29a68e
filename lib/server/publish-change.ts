// Publishing to the revocation feed: whoever ends something writes the change through the store.
import type { FeedChange } from '../core/feed-change';
import type { ServerContext } from './context';

/**
 * Record `change` for every remote guard (through the store, so that whichever instance made it,
 * every instance's subscribers hear of it). Awaited by whoever ended something, before answering:
 * a store that fails here fails the request (503), which the caller may retry; revoking is idempotent.
 */
export async function publishChange(ctx: ServerContext, change: FeedChange): Promise<void> {
  if (!ctx.config.revocationFeed) return;
  await ctx.store.appendChange(change);
  ctx.events.emit('feed.published', { type: change.type });
}
