// `npm start`: a demo auth server on AUTH_PORT (default 4000), MemoryStore or RedisStore when REDIS_URL is set.
import http from 'node:http';
import express from 'express';
import Redis from 'ioredis';
import { createAuthServer, MemoryStore, RedisStore } from '../lib';
import { DEMO, seedDemo } from './seed';

async function main(): Promise<void> {
  const port = Number(process.env.AUTH_PORT ?? 4000);
  const issuer = `http://localhost:${port}`;
  const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : undefined;
  const store = redis ? new RedisStore({ redis }) : new MemoryStore();
  const auth = createAuthServer({ issuer, store });
  await seedDemo(auth);

  const app = express();
  app.use(auth.router());
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, resolve));

  const m = auth.metadata();
  const ps = `${DEMO.printService.id}:${DEMO.printService.secret}`;
  console.log(`tokenward demo on ${issuer} (${redis ? `RedisStore at ${process.env.REDIS_URL}` : 'MemoryStore'})
  metadata:      ${issuer}/.well-known/oauth-authorization-server
  jwks:          ${m.jwks_uri}
  token:         ${m.token_endpoint}
  revocation:    ${m.revocation_endpoint}
  introspection: ${m.introspection_endpoint}

Try:
  curl -s -u ${ps} -d grant_type=client_credentials -d scope=print ${m.token_endpoint}
  curl -s -d grant_type=password -d client_id=${DEMO.mobileApp.id} -d username=${DEMO.alice.username} -d password=${DEMO.alice.password} ${m.token_endpoint}
  curl -s -d grant_type=refresh_token -d client_id=${DEMO.mobileApp.id} -d refresh_token=REFRESH_TOKEN ${m.token_endpoint}
  curl -s -u ${ps} -d token=ACCESS_TOKEN ${m.introspection_endpoint}`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: shutting down`);
    // Connections still open after 3 s are cut so shutdown cannot hang on keep-alive clients.
    setTimeout(() => server.closeAllConnections(), 3000).unref();
    server.close(async (err) => {
      await store.close();
      await redis?.quit().catch(() => undefined);
      process.exit(err ? 1 : 0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
