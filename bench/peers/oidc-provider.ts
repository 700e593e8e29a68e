// Peer: oidc-provider v9 (ESM, Koa inside) mounted in Express 5, default in-memory adapter, ES256 JWT access tokens.
import { generateKeyPairSync } from 'node:crypto';
import type { Express } from 'express';
import {
  APP_ID,
  CC_SECRET,
  INTROSPECT_PATH,
  JWT_RESOURCE,
  OPAQUE_RESOURCE,
  PEER_REFRESH_TOKENS,
  RS,
  SCOPE,
  type ServerConfig,
  TOKEN_PATH,
  USER,
} from '../shared';

const TOKEN_TTL = 600;
const REFRESH_TTL = 14 * 86400;

export async function mountOidcProvider(app: Express, cfg: ServerConfig, issuer: string) {
  // ESM-only: a dynamic import from this CommonJS-compiled file.
  const { default: Provider, errors } = await import('oidc-provider');
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    format: 'jwk',
  });
  const confidential = { response_types: [], redirect_uris: [] };
  const clients = [
    ...Array.from({ length: cfg.ccClients ?? 1 }, (_, i) => ({
      ...confidential,
      client_id: `cc-${i}`,
      client_secret: CC_SECRET,
      grant_types: ['client_credentials'],
    })),
    {
      ...confidential,
      client_id: RS.id,
      client_secret: RS.secret,
      grant_types: ['client_credentials'],
    },
    // Refresh tokens come from authorization_code in oidc-provider; the bench seeds them directly.
    {
      client_id: APP_ID,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/cb'],
    },
  ];
  const jwtServer = {
    scope: SCOPE,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'ES256' } },
  };
  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [{ ...jwk, kid: 'bench-es256', alg: 'ES256', use: 'sig' }] },
    // No RS256 key: ID tokens (none are issued here) would use ES256 too.
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => JWT_RESOURCE,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (resource === JWT_RESOURCE) return jwtServer;
          if (resource === OPAQUE_RESOURCE) return { scope: SCOPE, accessTokenFormat: 'opaque' };
          throw new errors.InvalidTarget();
        },
      },
    },
    rotateRefreshToken: true,
    // Numbers (tokenward's defaults), not the default functions, which need a request context.
    ttl: {
      AccessToken: TOKEN_TTL,
      ClientCredentials: TOKEN_TTL,
      RefreshToken: REFRESH_TTL,
      Grant: REFRESH_TTL,
    },
    findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
    routes: { token: TOKEN_PATH, introspection: INTROSPECT_PATH },
  });
  // A 500 would only show as a status in the bench: print why.
  provider.on('server_error', (_ctx, err) => console.error(err));

  app.post(PEER_REFRESH_TOKENS, async (req, res) => {
    const n = Number(req.query.n ?? 1);
    const client = await provider.Client.find(APP_ID);
    const tokens: string[] = [];
    for (let i = 0; i < n; i++) {
      // What an authorization_code grant with offline_access would leave behind.
      const grant = new provider.Grant({ clientId: APP_ID, accountId: USER.username });
      grant.addResourceScope(JWT_RESOURCE, SCOPE);
      const grantId = await grant.save();
      const rt = new provider.RefreshToken({
        client,
        accountId: USER.username,
        grantId,
        gty: 'authorization_code',
        scope: SCOPE,
        resource: JWT_RESOURCE,
      });
      tokens.push(await rt.save());
    }
    res.json({ tokens });
  });
  app.use(provider.callback());
}
