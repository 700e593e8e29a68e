// The "cloud print" resource server of the sample: a remote-mode guard in front of a tiny print-job API.
import type { Server } from 'node:http';
import express, { type RequestHandler } from 'express';
import { createGuard } from '../lib';

export interface PrintServerOptions {
  /** The authorization server's issuer. */
  issuer: string;
  port: number;
  /** A client of the authorization server allowed to introspect. */
  clientId: string;
  clientSecret: string;
  /** Seconds an introspection answer is reused (default 1). */
  cacheTtl?: number;
}

/** Allows the demo page (any origin) to call the API with a bearer token; the guard exposes Token-Expires-In. */
const cors: RequestHandler = (req, res, next) => {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type');
  res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
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
  });
  const jobs: { id: number; by: string; tenantId: string; document: string }[] = [];
  const app = express();
  app.use(cors);
  app.get('/', (_req, res) => {
    res.type('text/plain').send('cloud print API: GET /me, GET|POST /print/jobs, GET /scan\n');
  });
  // Who the token acts for (SPEC B4), and its scopes and expiry.
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
