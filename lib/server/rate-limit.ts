// Token-endpoint rate limits (express-rate-limit, counting in the store when it is Redis): per client,
// and for the password grant per username and per IP.
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { OAuthError } from '../errors';
import { sendOAuthError } from '../http/error-handler';
import type { ServerContext } from './context';

function claimedClientId(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const id = decoded.slice(0, Math.max(0, decoded.indexOf(':')));
    if (id) return id.slice(0, 256);
  }
  const bodyId = (req.body as Record<string, unknown> | undefined)?.client_id;
  return typeof bodyId === 'string' ? bodyId.slice(0, 256) : undefined;
}

const isPassword = (req: Request) =>
  (req.body as Record<string, unknown> | undefined)?.grant_type === 'password';
const ip = (req: Request) => ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown');

/** The limiters to run before the token endpoint (after the body is parsed); none when disabled. */
export function tokenRateLimiters(ctx: ServerContext): RequestHandler[] {
  const limits = ctx.config.rateLimit;
  if (!limits) return [];
  const make = (
    name: string,
    limit: number,
    key: (req: Request) => string | Promise<string>,
    skip?: (req: Request) => boolean,
  ) =>
    rateLimit({
      windowMs: limits.windowSeconds * 1000,
      limit,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      identifier: name,
      keyGenerator: key,
      ...(skip ? { skip: (req: Request) => skip(req) } : {}),
      ...(ctx.store.rateLimitStore ? { store: ctx.store.rateLimitStore(`${name}:`) } : {}),
      handler: (_req, res) => {
        ctx.events.emit('rate_limited', { limiter: name as 'client' | 'user' | 'ip' });
        sendOAuthError(
          res,
          new OAuthError('temporarily_unavailable', 'rate limit exceeded; retry later', 429),
        );
      },
    });
  return [
    make('client', limits.perClient, (req) => `c:${claimedClientId(req) ?? `ip:${ip(req)}`}`),
    make(
      'user',
      limits.perUsername,
      async (req) => {
        const u = (req.body as Record<string, unknown>).username;
        const name = typeof u === 'string' ? u.toLowerCase().slice(0, 256) : '';
        // Usernames are per tenant: alice of one tenant must not lock out alice of another.
        // Every client of the tenant shares the count; unknown clients share one (they fail anyway).
        const id = claimedClientId(req);
        const client =
          id === undefined || id.length > 128 ? undefined : await ctx.clients.lookup(id);
        return `u:${encodeURIComponent(client?.tenantId ?? '')}:${name}`;
      },
      (req) => !isPassword(req),
    ),
    make(
      'ip',
      limits.perIp,
      (req) => `ip:${ip(req)}`,
      (req) => !isPassword(req),
    ),
  ];
}
