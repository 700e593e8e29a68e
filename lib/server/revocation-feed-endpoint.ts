// Revocation feed endpoint: Server-Sent Events of what ended, for authenticated introspecting clients.
import type { RequestHandler } from 'express';
import { changeToWire } from '../core/feed-change';
import { invalidRequest, OAuthError } from '../errors';
import type { FeedHub, FeedSubscriber } from './change-feed';
import { authenticateClient } from './client-auth';
import type { ServerContext } from './context';
import { readParams } from './params';

/** A position as the feed hands them out (`<epoch>.<n>`), the only Last-Event-ID it resumes. */
const POSITION = /^[A-Za-z0-9_-]{1,32}\.\d{1,15}$/;

/**
 * The wire, one SSE event per change (`id`: its position; `event`: its type; `data`: JSON), plus:
 * `ready` once the stream has caught up (from then on nothing is missed), `heartbeat` when nothing
 * happened for a while (so that a silent stream shows as dead), `reset` when changes were lost.
 *
 * @example
 * // GET /oauth2/revocation-feed, Authorization: Basic …, Accept: text/event-stream
 * // id: Qx3.42
 * // event: grant.revoked
 * // data: {"tenant_id":"acme","grant_id":"…"}
 */
export function revocationFeedEndpoint(ctx: ServerContext, hub: FeedHub): RequestHandler {
  const { maxBuffer, maxStreamsPerClient, heartbeat } = ctx.config.revocationFeed || {
    maxBuffer: 0,
    maxStreamsPerClient: 0,
    heartbeat: 0,
  };
  const open = new Map<string, number>();
  return async function revocationFeedEndpoint(req, res) {
    const params = readParams(req);
    const { client } = await authenticateClient(ctx, req, params, false, 'revocation_feed');
    if (!client.introspect)
      throw new OAuthError('unauthorized_client', 'client is not allowed to introspect', 403);
    const last = req.headers['last-event-id'];
    if (last !== undefined && (typeof last !== 'string' || !POSITION.test(last)))
      throw invalidRequest('Last-Event-ID is not a position of this feed');
    const streams = open.get(client.id) ?? 0;
    if (streams >= maxStreamsPerClient)
      throw new OAuthError(
        'invalid_request',
        `client already has ${streams} revocation feed streams open`,
        429,
      );

    let ended = false;
    let ready = false;
    const release = () => {
      if (ended) return false;
      ended = true;
      hub.leave(sub);
      const left = (open.get(client.id) ?? 1) - 1;
      if (left > 0) open.set(client.id, left);
      else open.delete(client.id);
      return true;
    };
    const close = (reason: 'client' | 'slow' | 'store' | 'shutdown' | 'client_changed') => {
      if (!release()) return;
      ctx.events.emit('feed.closed', { clientId: client.id, reason });
      if (reason !== 'client') res.destroy();
    };
    const write = (chunk: string) => {
      if (ended) return;
      res.write(chunk);
      // A subscriber that does not read: drop it rather than buffer without bound. It reconnects
      // with its Last-Event-ID and catches up from the store, or gets a reset.
      if (res.writableLength > maxBuffer) close('slow');
    };
    const sub: FeedSubscriber = {
      position: '',
      sees: (change) =>
        client.introspectAllTenants === true ||
        change.tenantId === undefined ||
        change.tenantId === client.tenantId,
      send(entry) {
        write(
          `id: ${entry.id}\nevent: ${entry.change.type}\ndata: ${changeToWire(entry.change)}\n\n`,
        );
        // The subscriber's own registration changed: it must authenticate again.
        const c = entry.change;
        if ((c.type === 'client.ended' || c.type === 'client.changed') && c.clientId === client.id)
          close('client_changed');
      },
      reset: (position) => write(`id: ${position}\nevent: reset\ndata: {}\n\n`),
      heartbeat(position) {
        // The first tells the subscriber it has caught up, and how often to expect a heartbeat.
        write(
          ready
            ? `id: ${position}\nevent: heartbeat\ndata: {}\n\n`
            : `id: ${position}\nevent: ready\ndata: {"heartbeat":${heartbeat}}\n\n`,
        );
        ready = true;
      },
      end: (reason) => close(reason),
    };
    open.set(client.id, streams + 1);
    res.on('close', () => close('client'));
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Accel-Buffering', 'no'); // proxies must not hold events back
    try {
      await hub.join(sub, last);
    } catch (err) {
      if (res.headersSent) close('store');
      else {
        // Nothing sent yet: the error handler answers (503 when the store is down).
        release();
        res.removeHeader('Content-Type');
      }
      throw err;
    }
    ctx.events.emit('feed.subscribed', { clientId: client.id, resumed: last !== undefined });
  };
}
