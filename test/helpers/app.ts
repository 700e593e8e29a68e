// App builders for integration tests: an Express app with the auth server, seeded with demo records.
import express, { type Express } from 'express';
import request from 'supertest';
import { type AuthServer, type AuthServerOptions, createAuthServer, type Store } from '../../lib';
import { TEST_HASHING } from './hashing';
import { keysAtRest } from './key-secret';

export const ISSUER = 'http://localhost:4000';
export const TOKEN = '/oauth2/token';
export const REVOKE = '/oauth2/revoke';
export const INTROSPECT = '/oauth2/introspect';

/** Seeded credentials. */
export const SVC = { id: 'svc', secret: 'svc-secret-0123456789' };
export const SVC_RT = { id: 'svc-rt', secret: 'svc-rt-secret-0123456789' };
export const RS = { id: 'print-rs', secret: 'print-rs-secret-0123456789' };
export const WEB = { id: 'web', secret: 'web-secret-0123456789' };
export const APP = { id: 'app' };
export const ALICE = { username: 'alice', password: 'alice-password' };
export const BOB = { username: 'bob', password: 'bob-password' };

export interface TestApp {
  app: Express;
  auth: AuthServer;
}

/** On a shared store the server seals its keys with the test secret unless `options` say how. */
export function buildApp(store: Store, options: Partial<AuthServerOptions> = {}): TestApp {
  const auth = createAuthServer({
    issuer: ISSUER,
    store,
    rateLimit: false,
    passwordHashing: TEST_HASHING,
    ...keysAtRest(store, options),
    ...options,
  });
  const app = express();
  app.use(auth.router());
  app.locals.tokenwardAuth = auth; // for introspect() below
  return { app, auth };
}

/** Tenants acme (localUserMode) and beta; clients svc, svc-rt, print-rs, web, app; users alice, bob. */
export async function seed(auth: AuthServer): Promise<void> {
  const a = auth.admin;
  await a.upsertTenant({ id: 'acme', localUserMode: true });
  await a.upsertTenant({ id: 'beta' });
  await a.upsertClient({
    ...SVC,
    tenantId: 'acme',
    grants: ['client_credentials'],
    scopes: ['print', 'scan'],
    localUsers: true,
  });
  await a.upsertClient({
    ...SVC_RT,
    tenantId: 'beta',
    grants: ['client_credentials', 'refresh_token'],
    scopes: ['print'],
    clientCredentialsRefresh: true,
  });
  await a.upsertClient({
    ...RS,
    tenantId: 'acme',
    grants: ['client_credentials'],
    scopes: [],
    introspect: true,
  });
  await a.upsertClient({
    ...WEB,
    tenantId: 'acme',
    grants: ['password', 'refresh_token'],
    scopes: ['print', 'scan'],
  });
  await a.upsertClient({
    ...APP,
    public: true,
    tenantId: 'acme',
    grants: ['password', 'refresh_token'],
    scopes: ['print', 'scan'],
  });
  await a.upsertUser({ tenantId: 'acme', ...ALICE, roles: ['printer'] });
  await a.upsertUser({ tenantId: 'acme', ...BOB });
}

/** POST a form to `path`, with Basic client credentials when given. */
export function post(
  app: Express,
  path: string,
  form: Record<string, string>,
  basic?: { id: string; secret: string },
) {
  const req = request(app).post(path).type('form');
  if (basic) req.auth(basic.id, basic.secret);
  return req.send(form);
}

/** Password sign-in through the public `app` client; returns the token response body. */
export async function signIn(app: Express, user = ALICE, extra: Record<string, string> = {}) {
  const res = await post(app, TOKEN, {
    grant_type: 'password',
    client_id: APP.id,
    ...user,
    ...extra,
  });
  if (res.status !== 200)
    throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as {
    access_token: string;
    refresh_token: string;
    expires_in: number;
    scope: string;
  };
}

export function refresh(app: Express, refreshToken: string, extra: Record<string, string> = {}) {
  return post(app, TOKEN, {
    grant_type: 'refresh_token',
    client_id: APP.id,
    refresh_token: refreshToken,
    ...extra,
  });
}

export function revoke(
  app: Express,
  token: string,
  client: Record<string, string> = { client_id: APP.id },
) {
  return post(app, REVOKE, { token, ...client });
}

/**
 * What the server behind `app` says about `token` now, for every tenant's tokens and every client's
 * refresh tokens: through its admin API when `app` was built here (the introspection endpoint tells a
 * client only about its own tenant's access tokens and its own refresh tokens, so asking it as one
 * client would make "inactive" checks pass for the wrong reason), else at the endpoint as print-rs.
 */
export async function introspect(app: Express, token: string): Promise<Record<string, unknown>> {
  const auth = app.locals.tokenwardAuth as AuthServer | undefined;
  if (auth) return { ...(await auth.admin.introspectToken(token)) };
  const res = await post(app, INTROSPECT, { token }, RS);
  if (res.status !== 200)
    throw new Error(`introspection failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Record<string, unknown>;
}
