// The whole sample: authorization server and cloud-print resource server, on MemoryStore or RedisStore.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Redis from 'ioredis';
import {
  type AuthServer,
  type AuthServerEvents,
  createAuthServer,
  MemoryStore,
  RedisStore,
} from '../lib';
import { createHostLogin } from './host-login';
import { startPrintServer } from './print-server';
import { DEMO, HOST_USERS, seedDemo } from './seed';

export interface SampleOptions {
  /** Port of the authorization server (0: any free port). */
  authPort: number;
  /** Port of the print server (0: any free port). */
  printPort: number;
  /** Use Redis at this URL instead of a MemoryStore. */
  redisUrl?: string;
  /** Device-session idle seconds (default 300). */
  deviceIdleTtl?: number;
  /**
   * Seals the signing keys kept in Redis (`keyEncryptionSecret`, 32+ characters; `npm start` reads
   * TOKENWARD_KEY_SECRET, as the CLI does). Default on Redis: {@link DEV_KEY_SECRET}.
   */
  keyEncryptionSecret?: string;
}

/**
 * DEVELOPMENT ONLY — a secret published in this file, so it protects nothing: the sample seals its
 * keys in Redis with it only so that `REDIS_URL=… npm start` works out of the box. A real
 * deployment sets its own keyEncryptionSecret (e.g. from TOKENWARD_KEY_SECRET).
 */
export const DEV_KEY_SECRET = 'tokenward-sample-DEVELOPMENT-ONLY-key-secret';

export interface Sample {
  issuer: string;
  printUrl: string;
  auth: AuthServer;
  storeName: string;
  deviceIdleTtl: number;
  close(): Promise<void>;
}

/** Start both servers, seeded with the demo records. */
export async function startSample(options: SampleOptions): Promise<Sample> {
  const redis = options.redisUrl
    ? new Redis(options.redisUrl, { maxRetriesPerRequest: 1 })
    : undefined;
  // Without a listener ioredis prints a stack trace at every reconnect attempt while Redis is down
  // (the endpoints meanwhile answer 503 and recover by themselves).
  redis?.on('error', (err) => console.error(`redis: ${err.message}`));
  const store = redis ? new RedisStore({ redis }) : new MemoryStore();
  // The AS must know its own URL before it is built: listen first (answering 503 until the app
  // is ready), attach the app after.
  let ready: express.Express | undefined;
  const authServer = http.createServer((req, res) => {
    if (ready) return ready(req, res);
    res.writeHead(503, { 'retry-after': '1' }).end();
  });
  await new Promise<void>((resolve, reject) =>
    authServer.once('error', reject).listen(options.authPort, resolve),
  );
  const issuer = `http://localhost:${(authServer.address() as AddressInfo).port}`;
  // The print server serves the demo page (GET /demo, another origin), which signs in from the
  // browser: its origins get CORS at the AS (the `cors` option) and register their callbacks.
  const printServer = await startPrintServer({
    issuer,
    port: options.printPort,
    clientId: DEMO.printService.id,
    clientSecret: DEMO.printService.secret,
    deviceIdleTtl: options.deviceIdleTtl ?? 300,
  });
  const printPort = (printServer.address() as AddressInfo).port;
  const printUrl = `http://localhost:${printPort}`;
  const pageOrigins = new Set([printUrl, `http://127.0.0.1:${printPort}`]);
  // The host application's own login (GET/POST /login): the code flow asks it who is signed in.
  const login = createHostLogin(HOST_USERS, { own: issuer, pages: pageOrigins });
  const auth = createAuthServer({
    issuer,
    store,
    // Short enough to watch two apps on one device keep each other alive (device sessions).
    deviceIdleTtl: options.deviceIdleTtl ?? 300,
    // Prometheus metrics at GET /metrics on the auth server.
    metrics: true,
    // On Redis the private signing keys are kept sealed (a shared store needs it).
    ...(redis ? { keyEncryptionSecret: options.keyEncryptionSecret ?? DEV_KEY_SECRET } : {}),
    // Sign-in with the authorization code: nobody signed in → the login page, then back.
    authorize: { authenticate: (req) => login.authenticate(req), loginUrl: '/login' },
    cors: { origins: [...pageOrigins] },
  });
  const app = express();
  app.get('/metrics', auth.metricsHandler());
  app.use(login.router((value) => auth.safeReturnTo(value)));
  app.use(auth.router());
  // Seeded once the page's origins are known: its apps register their callbacks there.
  await seedDemo(auth, [...pageOrigins]);
  ready = app;
  const closeServer = (s: http.Server) =>
    new Promise<void>((resolve) => {
      // Connections still open after 3 s are cut so shutdown cannot hang on keep-alive clients.
      setTimeout(() => s.closeAllConnections(), 3000).unref();
      s.close(() => resolve());
      s.closeIdleConnections();
    });
  return {
    issuer,
    printUrl,
    auth,
    storeName: redis
      ? `RedisStore at ${options.redisUrl}, keys sealed with ${
          options.keyEncryptionSecret ? 'TOKENWARD_KEY_SECRET' : 'the development-only secret'
        }`
      : 'MemoryStore',
    deviceIdleTtl: options.deviceIdleTtl ?? 300,
    close: async () => {
      await Promise.all([closeServer(authServer), closeServer(printServer)]);
      await store.close();
      await redis?.quit().catch(() => undefined);
    },
  };
}

/** Every audit event of the sample's auth server, as one line of text each. */
export function onEachEvent(auth: AuthServer, print: (line: string) => void): void {
  const names: (keyof AuthServerEvents)[] = [
    'token.issued',
    'token.refreshed',
    'refresh.reused',
    'family.revoked',
    'access_token.revoked',
    'device_session.expired',
    'device_session.revoked',
    'client_auth.failed',
    'password.failed',
    'rate_limited',
    'store.unavailable',
    'keys.rotated',
  ];
  for (const name of names)
    auth.events.on(name, (payload) => print(`event ${name} ${JSON.stringify(payload)}`));
}
