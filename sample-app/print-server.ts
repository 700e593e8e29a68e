// The "cloud print" resource server of the sample: a remote-mode guard in front of a tiny print-job API.
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import express, { type RequestHandler } from 'express';
import { createGuard, TOKEN_EXPIRES_IN } from '../lib';
import { bundleClient } from '../scripts/client-bundle.cjs';

export interface PrintServerOptions {
  /** The authorization server's issuer. */
  issuer: string;
  port: number;
  /** A client of the authorization server allowed to introspect. */
  clientId: string;
  clientSecret: string;
  /** Seconds an introspection answer is reused (default 1). */
  cacheTtl?: number;
  /** The authorization server's device idle TTL, shown on the demo page. */
  deviceIdleTtl?: number;
}

const DEMO_DIR = path.join(__dirname, 'demo-page');

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * `GET /demo`: a page where two apps of one device sign in with the browser TokenManager (through
 * the sample's login page, with a redirect) and call this API. Its client bundle is built into memory by esbuild when the server starts, so the page
 * works without `npm run build`.
 */
function demoPage(options: PrintServerOptions): express.Router {
  const bundle = bundleClient();
  bundle.catch((err: unknown) => {
    console.error(
      'demo page: the tokenward/client bundle could not be built:',
      err instanceof Error ? err.message : err,
    );
  });
  const html = readFileSync(path.join(DEMO_DIR, 'index.html'), 'utf8')
    .replace('%ISSUER%', () => escapeHtml(options.issuer))
    .replace('%DEVICE_IDLE_TTL%', () => escapeHtml(String(options.deviceIdleTtl ?? '')));
  const script = readFileSync(path.join(DEMO_DIR, 'demo.js'), 'utf8');
  const router = express.Router();
  // The page, also where each app's sign-in comes back (its redirect URI, with the code in the
  // query): a Referer carries at most the origin, never that code (strict-origin, unlike
  // no-referrer, keeps the Origin header the login's sign-out form is checked by).
  router.get(['/demo', '/demo/callback/:clientId'], (_req, res) => {
    res
      .set({ 'Cache-Control': 'no-cache', 'Referrer-Policy': 'strict-origin' })
      .type('html')
      .send(html);
  });
  router.get('/demo/demo.js', (_req, res) => {
    res.set('Cache-Control', 'no-cache').type('text/javascript').send(script);
  });
  router.get('/demo/tokenward-client.mjs', async (_req, res) => {
    try {
      const text = await bundle;
      res.set('Cache-Control', 'no-cache').type('text/javascript').send(text);
    } catch {
      res
        .status(503)
        .type('text/plain')
        .send('the client bundle could not be built: see the log\n');
    }
  });
  return router;
}

/**
 * Lets pages of any origin call the API with a Bearer or DPoP token and its proof (the `DPoP`
 * request header), and read the challenge, the renewal hint and a DPoP nonce of each answer.
 */
const cors: RequestHandler = (req, res, next) => {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, DPoP');
  res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
  res.setHeader(
    'Access-Control-Expose-Headers',
    `WWW-Authenticate, ${TOKEN_EXPIRES_IN}, DPoP-Nonce`,
  );
  if (req.method === 'OPTIONS') {
    res.status(204).end();
    return;
  }
  next();
};

/** Start the print server; resolves once it listens. */
export async function startPrintServer(options: PrintServerOptions): Promise<Server> {
  const guard = createGuard({
    issuer: options.issuer,
    introspection: {
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      cacheTtl: options.cacheTtl ?? 1,
    },
    realm: 'cloud-print',
    // Bearer tokens (the scripted client, curl) and DPoP-bound ones (the demo page) alike; a bound
    // token is accepted only with a proof of its key (RFC 9449).
    dpop: 'allowed',
  });
  const jobs: { id: number; by: string; tenantId: string; document: string }[] = [];
  const app = express();
  app.use(cors);
  app.get('/', (_req, res) => {
    res
      .type('text/plain')
      .send('cloud print API: GET /me, GET|POST /print/jobs, GET /scan; demo page: GET /demo\n');
  });
  app.use(demoPage(options));
  // Who the token acts for (tenants and local users), and its scopes and expiry.
  app.get('/me', guard.authenticate(), guard.resolveIdentity(), (req, res) => {
    const { identity, clientId, scopes, deviceId, expiresAt } = req.auth ?? {};
    res.json({ identity, clientId, scopes, deviceId, expiresAt });
  });
  const print = [guard.authenticate(), guard.resolveIdentity(), guard.requireService('print')];
  app.get('/print/jobs', ...print, (req, res) => {
    const tenantId = req.auth?.tenantId;
    res.json({ jobs: jobs.filter((j) => j.tenantId === tenantId) });
  });
  app.post('/print/jobs', express.json({ limit: '4kb' }), ...print, (req, res) => {
    const identity = req.auth?.identity;
    const document =
      typeof req.body?.document === 'string' ? req.body.document.slice(0, 200) : 'untitled';
    const job = {
      id: jobs.length + 1,
      by: `${identity?.kind}:${identity?.id}`,
      tenantId: identity?.tenantId ?? '',
      document,
    };
    if (jobs.length < 1000) jobs.push(job);
    res.status(201).json(job);
  });
  app.get('/scan', guard.authenticate(), guard.requireService('scan'), (_req, res) => {
    res.json({ scanner: 'ready' });
  });
  return new Promise((resolve, reject) => {
    const server = app.listen(options.port, () => resolve(server)).once('error', reject);
  });
}
