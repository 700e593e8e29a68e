// Client test fixture: a live auth server (token calls counted, CORS) and a guarded API on another port.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type RequestHandler } from 'express';
import {
  type AuthServerOptions,
  type GuardOptions,
  MemoryStore,
  type Store,
  TOKEN_EXPIRES_IN,
} from '../../lib';
import { seed } from '../helpers/app';
import { guardedApp, type LiveAuthServer, localGuard, startAuthServer } from '../helpers/guard';

export interface ClientStack {
  issuer: string;
  live: LiveAuthServer;
  store: Store;
  /** Base URL of the guarded resource server (another origin than the issuer). */
  api: string;
  /** POSTs that reached the token endpoint. */
  tokenCalls(): number;
  close(): Promise<void>;
}

/**
 * Lets any origin call with a Bearer or DPoP token (and its `DPoP` proof) and read the responses,
 * a server's DPoP nonce included (the guard exposes Token-Expires-In and its challenge itself).
 */
export const cors: RequestHandler = (req, res, next) => {
  const origin = req.headers.origin;
  if (!origin) return next();
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Vary', 'Origin');
  if (req.method !== 'OPTIONS') {
    res.setHeader('Access-Control-Expose-Headers', 'DPoP-Nonce');
    return next();
  }
  res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
  res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, DPoP');
  res.setHeader('Access-Control-Max-Age', '600');
  res.status(204).end();
};

/** Listen on 127.0.0.1 with a free port. */
export async function listen(app: Express): Promise<{ server: Server; url: string }> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://localhost:${(server.address() as AddressInfo).port}`;
  return { server, url };
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/**
 * Seeded auth server (public client `app`, users alice and bob) with a token-call counter and CORS
 * in front of `auth.router()`, and the guardedApp routes plus:
 * - `GET /short`: authenticated, but answers `Token-Expires-In: <hint>` as a device deadline would,
 *   and the `jti` of the token it was sent;
 * - `POST /echo`: authenticated, echoes the text body (to check retried bodies).
 * A `clock` in `options` is the store's and the guard's clock too.
 */
export async function startClientStack(
  options: Partial<AuthServerOptions> = {},
  guardOptions: Partial<GuardOptions> = {},
): Promise<ClientStack> {
  const { clock } = options;
  const store = new MemoryStore(clock ? { now: () => Math.floor(clock() / 1000) } : {});
  const live = await startAuthServer(store, options);
  await seed(live.auth);
  let calls = 0;
  const outer = express();
  outer.use(cors);
  outer.use((req, _res, next) => {
    if (req.method === 'POST' && req.path.endsWith('/token')) calls++;
    next();
  });
  outer.use(live.app);
  live.server.removeAllListeners('request');
  live.server.on('request', outer);

  const guard = localGuard(live.issuer, store, { ...(clock ? { clock } : {}), ...guardOptions });
  const rs = express();
  rs.use(cors);
  rs.get('/short', guard.authenticate(), (req, res) => {
    res.setHeader(TOKEN_EXPIRES_IN, String(req.query.hint ?? '1'));
    res.json({ jti: req.auth?.claims.jti });
  });
  rs.post('/echo', express.text(), guard.authenticate(), (req, res) => {
    res.json({ body: req.body, token: req.auth?.claims.jti });
  });
  rs.use(guardedApp(guard));
  const api = await listen(rs);
  return {
    issuer: live.issuer,
    live,
    store,
    api: api.url,
    tokenCalls: () => calls,
    close: async () => {
      await closeServer(api.server);
      await live.close();
      await store.close();
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A storage whose contents the test can read: the refresh token a TokenManager holds, for instance. */
export class MapStorage {
  readonly map = new Map<string, string>();
  async get(key: string) {
    return this.map.get(key);
  }
  async set(key: string, value: string) {
    this.map.set(key, value);
  }
  async delete(key: string) {
    this.map.delete(key);
  }
  /** The stored session record, if any. */
  session():
    | { tokens: { accessToken: string; priority: number }[]; refreshToken?: string }
    | undefined {
    const entry = [...this.map].find(([k]) => k.includes(':session:'));
    return entry ? JSON.parse(entry[1]) : undefined;
  }
}
