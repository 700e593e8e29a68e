// Client test fixture for the code flow: a real auth server with the authorize option, a cookie-less host login that signs in whoever the test says, and a fetch that records token requests.
import express from 'express';
import { type FetchLike, MemoryStore } from '../../lib';
import { seed } from '../helpers/app';
import { startAuthServer } from '../helpers/guard';

export interface HostUser {
  tenantId: string;
  username: string;
}

export interface CodeServer {
  issuer: string;
  /** The user the host login signs in next (its login page signs in without a form or cookie). */
  loginAs(user: HostUser): void;
  /** Nobody signed in at the host: the next authorization request goes to its login page. */
  signOutHost(): void;
  /** Register a public code-flow client of tenant acme. */
  addClient(id: string, redirectUris: string[]): Promise<void>;
  /** Query of every authorization request. */
  authorizeRequests: URLSearchParams[];
  /** `return_to` of every visit to the host login page. */
  logins: string[];
  /** Body of every token request sent through `fetch`. */
  tokenRequests: URLSearchParams[];
  /** A fetch for the TokenManager that records the token requests it sends. */
  fetch: FetchLike;
  close(): Promise<void>;
}

export const ALICE_AT_HOST: HostUser = { tenantId: 'acme', username: 'alice' };
/** A user of another tenant than the clients': their sign-in is access_denied. */
export const MALLORY_AT_HOST: HostUser = { tenantId: 'beta', username: 'mallory' };

/**
 * The seeded auth server (tenants acme and beta, alice and bob in acme, mallory in beta) whose
 * `authorize.authenticate` says "whoever the login page signed in last"; `GET /login` signs in the
 * next user at once and sends the browser back to `auth.safeReturnTo(return_to)`.
 */
export async function startCodeServer(): Promise<CodeServer> {
  let signedIn: HostUser | undefined;
  let next: HostUser = ALICE_AT_HOST;
  const authorizeRequests: URLSearchParams[] = [];
  const logins: string[] = [];
  const tokenRequests: URLSearchParams[] = [];
  const store = new MemoryStore();
  const live = await startAuthServer(store, {
    authorize: { authenticate: () => signedIn ?? null, loginUrl: '/login' },
  });
  await seed(live.auth);
  await live.auth.admin.upsertUser({ ...MALLORY_AT_HOST });
  const outer = express();
  outer.get('/oauth2/authorize', (req, _res, next) => {
    authorizeRequests.push(new URLSearchParams(req.originalUrl.split('?')[1] ?? ''));
    next();
  });
  outer.get('/login', (req, res) => {
    logins.push(String(req.query.return_to ?? ''));
    signedIn = next;
    res.redirect(live.auth.safeReturnTo(req.query.return_to) ?? '/');
  });
  outer.use(live.app);
  live.server.removeAllListeners('request');
  live.server.on('request', outer);
  const token = `${live.issuer}/oauth2/token`;
  return {
    issuer: live.issuer,
    loginAs: (user) => {
      next = user;
    },
    signOutHost: () => {
      signedIn = undefined;
    },
    addClient: async (id, redirectUris) => {
      await live.auth.admin.upsertClient({
        id,
        public: true,
        tenantId: 'acme',
        grants: ['authorization_code', 'refresh_token'],
        scopes: ['print', 'scan'],
        redirectUris,
      });
    },
    authorizeRequests,
    logins,
    tokenRequests,
    fetch: (input, init) => {
      if (String(input) === token && init?.body instanceof URLSearchParams)
        tokenRequests.push(new URLSearchParams(init.body));
      return globalThis.fetch(input, init);
    },
    close: async () => {
      await live.close();
      await store.close();
    },
  };
}
