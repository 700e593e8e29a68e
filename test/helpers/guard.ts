// Guard test fixtures: an authorization server listening on a real port, and resource-server apps guarded in either mode.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import {
  type AuthServer,
  type AuthServerOptions,
  createAuthServer,
  createGuard,
  type Guard,
  type GuardOptions,
  type Store,
} from '../../lib';
import { RS } from './app';
import { TEST_HASHING } from './hashing';
import { keysAtRest } from './key-secret';

export interface LiveAuthServer {
  /** `http://localhost:<port>`: the issuer, reachable over HTTP (remote guards fetch from it). */
  issuer: string;
  port: number;
  auth: AuthServer;
  /** The Express app serving `auth.router()`; usable with supertest directly. */
  app: Express;
  server: Server;
  close(): Promise<void>;
}

/** Start an authorization server on 127.0.0.1 with a free port (or `port`), issuer http://localhost:<port>. */
export async function startAuthServer(
  store: Store,
  options: Partial<AuthServerOptions> & { port?: number } = {},
): Promise<LiveAuthServer> {
  const { port: wanted = 0, ...rest } = options;
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(wanted, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://localhost:${port}`;
  const auth = createAuthServer({
    issuer,
    store,
    rateLimit: false,
    passwordHashing: TEST_HASHING,
    ...keysAtRest(store, rest),
    ...rest,
  });
  const app = express();
  app.use(auth.router());
  app.locals.tokenwardAuth = auth; // for introspect() in ./app
  server.on('request', app);
  return {
    issuer,
    port,
    auth,
    app,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Registers scopes print (service print, role printer required) and scan (service scan, no role check). */
export async function seedScopes(auth: AuthServer): Promise<void> {
  await auth.admin.upsertScope({
    name: 'print',
    service: 'print',
    roleCheck: true,
    roles: ['printer'],
  });
  await auth.admin.upsertScope({ name: 'scan', service: 'scan', roleCheck: false });
}

/** A local-mode guard on `store`. */
export function localGuard(issuer: string, store: Store, extra: Partial<GuardOptions> = {}): Guard {
  return createGuard({ issuer, store, ...extra });
}

/**
 * A remote-mode guard introspecting as print-rs; cacheTtl 0 and no revocation feed unless given
 * (these tests check each answer at once; the feed's own tests turn it on and wait for it).
 */
export function remoteGuard(
  issuer: string,
  introspection: Partial<NonNullable<GuardOptions['introspection']>> = {},
  extra: Partial<GuardOptions> = {},
): Guard {
  return createGuard({
    issuer,
    introspection: {
      clientId: RS.id,
      clientSecret: RS.secret,
      cacheTtl: 0,
      feed: false,
      ...introspection,
    },
    ...extra,
  });
}

/**
 * A resource server: GET /me (authenticate + resolveIdentity, answers req.auth), /print and /scan
 * (requireService), /scope/print and /scope/print-scan (requireScope), POST /me with a JSON body.
 */
export function guardedApp(guard: Guard): Express {
  const app = express();
  const me: express.RequestHandler = (req, res) => {
    res.json(req.auth);
  };
  app.get('/me', guard.authenticate(), guard.resolveIdentity(), me);
  app.post(
    '/me',
    express.json(),
    express.urlencoded({ extended: false }),
    guard.authenticate(),
    me,
  );
  app.get('/print', guard.authenticate(), guard.requireService('print'), me);
  app.get('/scan', guard.authenticate(), guard.requireService('scan'), me);
  app.get('/scope/print', guard.authenticate(), guard.requireScope('print'), me);
  app.get('/scope/print-scan', guard.authenticate(), guard.requireScope('print', 'scan'), me);
  return app;
}
