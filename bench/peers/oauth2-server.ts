// Peer: @node-oauth/oauth2-server v5 in Express 5 with a minimal in-memory model signing ES256 JWT access tokens.
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import OAuth2Server, {
  type Client,
  type RefreshToken,
  Request,
  Response,
  type Token,
  type User,
} from '@node-oauth/oauth2-server';
import express, { type Express, type RequestHandler } from 'express';
import jwt from 'jsonwebtoken';
import { APP_ID, CC_SECRET, SCOPE, type ServerConfig, TOKEN_PATH, USER } from '../shared';

const TOKEN_TTL = 600;
const REFRESH_TTL = 14 * 86400;
const KID = 'bench-es256';

interface BenchClient extends Client {
  /** undefined: a public client (no authentication at the token endpoint). */
  secret?: Buffer;
  scopes: string[];
}

/** Constant-time secret check (the stored secret is plain: no scrypt, unlike tokenward's hash). */
function secretMatches(stored: Buffer, given: string): boolean {
  const g = Buffer.from(given);
  return g.length === stored.length && timingSafeEqual(g, stored);
}

export function mountOauth2Server(app: Express, cfg: ServerConfig, issuer: string) {
  // Parsed once, as tokenward keeps its signing key as a KeyObject.
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const clients = new Map<string, BenchClient>();
  for (let i = 0; i < (cfg.ccClients ?? 1); i++)
    clients.set(`cc-${i}`, {
      id: `cc-${i}`,
      secret: Buffer.from(CC_SECRET),
      grants: ['client_credentials'],
      scopes: [SCOPE],
    });
  clients.set(APP_ID, { id: APP_ID, grants: ['password', 'refresh_token'], scopes: [SCOPE] });
  const users = new Map([[USER.username, Buffer.from(USER.password)]]);
  /** Live refresh tokens; rotation deletes the old one (revokeToken). Access tokens are not kept. */
  const refreshTokens = new Map<string, RefreshToken>();

  const model = {
    async getClient(id: string, secret?: string | null) {
      const c = clients.get(id);
      if (!c) return false;
      if (c.secret === undefined) return secret ? false : c;
      return secret && secretMatches(c.secret, secret) ? c : false;
    },
    async getUser(username: string, password: string) {
      const p = users.get(username);
      return p && secretMatches(p, password) ? { id: username } : false;
    },
    async getUserFromClient(client: Client) {
      return { id: client.id };
    },
    async validateScope(_user: User, client: Client, scope?: string[]) {
      const allowed = (client as BenchClient).scopes;
      const asked = scope?.length ? scope : allowed;
      return asked.every((s) => allowed.includes(s)) ? asked : false;
    },
    // RFC 9068 claims, as tokenward's: typ at+jwt, kid, iss, sub, aud, exp, iat, jti, client_id, scope.
    async generateAccessToken(client: Client, user: User, scope: string[]) {
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: issuer,
        sub: user.id as string,
        aud: issuer,
        exp: now + TOKEN_TTL,
        iat: now,
        jti: randomBytes(16).toString('base64url'),
        client_id: client.id,
        scope: scope.join(' '),
      };
      return jwt.sign(claims, privateKey, {
        algorithm: 'ES256',
        keyid: KID,
        header: { alg: 'ES256', typ: 'at+jwt' },
      });
    },
    async saveToken(token: Token, client: Client, user: User) {
      const saved = { ...token, client, user };
      if (token.refreshToken) refreshTokens.set(token.refreshToken, saved as RefreshToken);
      return saved;
    },
    async getRefreshToken(value: string) {
      return refreshTokens.get(value) ?? false;
    },
    async revokeToken(token: RefreshToken) {
      return refreshTokens.delete(token.refreshToken);
    },
    // Required by the model's type (resource-server side); never called at the token endpoint.
    async getAccessToken() {
      return false as const;
    },
  };

  const oauth = new OAuth2Server({
    model,
    accessTokenLifetime: TOKEN_TTL,
    refreshTokenLifetime: REFRESH_TTL,
    alwaysIssueNewRefreshToken: true,
    // The public client signs in and refreshes with client_id alone, as with tokenward.
    requireClientAuthentication: { password: false, refresh_token: false },
  });

  const token: RequestHandler = async (req, res) => {
    // Only what the library reads: `new Request(req)` would copy every property of Node's request.
    const request = new Request({
      headers: req.headers as Record<string, string>,
      method: req.method,
      query: req.query as Record<string, string>,
      body: req.body,
    });
    const response = new Response();
    try {
      await oauth.token(request, response);
    } catch (err) {
      // The error is in `response` (status and body), set by the library; a 500 also says why here.
      if ((response.status ?? 500) >= 500) console.error(err);
    }
    res
      .status(response.status ?? 500)
      .set(response.headers)
      .json(response.body);
  };
  app.post(TOKEN_PATH, express.urlencoded({ extended: false, limit: '16kb' }), token);
}
