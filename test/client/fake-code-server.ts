// A stand-in authorization server for the code flow (authorize with PKCE, RFC 9207 iss, a cookie-less host login, a stubbed token endpoint).
import { createHash, randomBytes } from 'node:crypto';
import express from 'express';
import { closeServer, listen } from './stack';

export interface FakeUser {
  tenantId: string;
  username: string;
}

export interface CodeServer {
  issuer: string;
  /** The user the host login signs in next (its login page signs in without a form or cookie). */
  loginAs(user: FakeUser | undefined): void;
  /** Forget the signed-in user: the next authorize request goes to the login page. */
  signOutHost(): void;
  /** Register a public code-flow client. */
  addClient(id: string, redirectUris: string[]): Promise<void>;
  /** Query of every authorize request. */
  authorizeRequests: URLSearchParams[];
  /** Body of every token request. */
  tokenRequests: URLSearchParams[];
  /** Paths the host login page was asked for. */
  logins: string[];
  close(): Promise<void>;
}

const s256 = (v: string) => createHash('sha256').update(v).digest('base64url');

/** The wire contract of the code flow: metadata, GET /oauth2/authorize, /login, POST /oauth2/token. */
export async function startCodeServer(): Promise<CodeServer> {
  const clients = new Map<string, { tenantId: string; redirectUris: string[] }>();
  const codes = new Map<
    string,
    { clientId: string; redirectUri: string; challenge: string; scope: string | undefined }
  >();
  let signedIn: FakeUser | undefined;
  let next: FakeUser | undefined = { tenantId: 'acme', username: 'alice' };
  const authorizeRequests: URLSearchParams[] = [];
  const tokenRequests: URLSearchParams[] = [];
  const logins: string[] = [];
  const app = express();
  let issuer = '';
  app.get('/.well-known/oauth-authorization-server', (_req, res) => {
    res.json({
      issuer,
      authorization_endpoint: `${issuer}/oauth2/authorize`,
      token_endpoint: `${issuer}/oauth2/token`,
      revocation_endpoint: `${issuer}/oauth2/revoke`,
      grant_types_supported: ['authorization_code', 'refresh_token', 'password'],
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    });
  });
  app.get('/login', (req, res) => {
    logins.push(req.originalUrl);
    signedIn = next;
    const back = String(req.query.return_to ?? '');
    res.redirect(back.startsWith('/oauth2/authorize?') ? back : '/');
  });
  app.get('/oauth2/authorize', (req, res) => {
    const q = new URLSearchParams(req.originalUrl.split('?')[1] ?? '');
    authorizeRequests.push(q);
    const client = clients.get(q.get('client_id') ?? '');
    const redirectUri = q.get('redirect_uri') ?? '';
    if (!client || !client.redirectUris.includes(redirectUri)) {
      res.status(400).type('html').send('<h1>unknown client or redirect URI</h1>');
      return;
    }
    const back = (params: Record<string, string>) => {
      const u = new URL(redirectUri);
      for (const [k, v] of Object.entries({ ...params, state: q.get('state') ?? '', iss: issuer }))
        u.searchParams.set(k, v);
      res.redirect(u.href);
    };
    if (q.get('response_type') !== 'code') return back({ error: 'unsupported_response_type' });
    const challenge = q.get('code_challenge');
    if (!challenge || q.get('code_challenge_method') !== 'S256')
      return back({ error: 'invalid_request', error_description: 'PKCE S256 required' });
    if (!signedIn) {
      res.redirect(`/login?return_to=${encodeURIComponent(req.originalUrl)}`);
      return;
    }
    if (signedIn.tenantId !== client.tenantId)
      return back({ error: 'access_denied', error_description: 'user not in the client tenant' });
    const code = randomBytes(16).toString('base64url');
    codes.set(code, {
      clientId: q.get('client_id') ?? '',
      redirectUri,
      challenge,
      scope: q.get('scope') ?? undefined,
    });
    back({ code });
  });
  app.post('/oauth2/token', express.urlencoded({ extended: false }), (req, res) => {
    const body = new URLSearchParams(req.body as Record<string, string>);
    tokenRequests.push(body);
    const bad = (description: string) =>
      res.status(400).json({ error: 'invalid_grant', error_description: description });
    if (body.get('grant_type') !== 'authorization_code')
      return res.status(400).json({ error: 'unsupported_grant_type' });
    const code = codes.get(body.get('code') ?? '');
    codes.delete(body.get('code') ?? '');
    if (!code) return bad('unknown code');
    if (code.clientId !== body.get('client_id')) return bad('client');
    if (code.redirectUri !== body.get('redirect_uri')) return bad('redirect_uri');
    if (s256(body.get('code_verifier') ?? '') !== code.challenge) return bad('code_verifier');
    res.json({
      access_token: randomBytes(16).toString('hex'),
      token_type: 'Bearer',
      expires_in: 300,
      refresh_token: randomBytes(16).toString('hex'),
      ...(code.scope ? { scope: code.scope } : {}),
    });
  });
  const live = await listen(app);
  issuer = live.url;
  return {
    issuer,
    loginAs: (user) => {
      next = user;
    },
    signOutHost: () => {
      signedIn = undefined;
    },
    addClient: async (id, redirectUris) => {
      clients.set(id, { tenantId: 'acme', redirectUris });
    },
    authorizeRequests,
    tokenRequests,
    logins,
    close: () => closeServer(live.server),
  };
}
