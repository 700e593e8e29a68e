// An independent OAuth client (oauth4webapi) walking tokenward's endpoints; prints what it saw as JSON.
import * as oauth from 'oauth4webapi';

const [issuerUrl, svcSecret, rsSecret, username, password] = process.argv.slice(2);
const issuer = new URL(issuerUrl);
const opts = { [oauth.allowInsecureRequests]: true };
const out = {};

const as = await oauth.processDiscoveryResponse(
  issuer,
  await oauth.discoveryRequest(issuer, { ...opts, algorithm: 'oauth2' }),
);
out.discovered = as.token_endpoint;

const svc = { client_id: 'svc' };
const cc = await oauth.processClientCredentialsResponse(
  as,
  svc,
  await oauth.clientCredentialsGrantRequest(
    as,
    svc,
    oauth.ClientSecretBasic(svcSecret),
    new URLSearchParams({ scope: 'print' }),
    opts,
  ),
);
out.clientCredentials = { token_type: cc.token_type, scope: cc.scope, expires_in: cc.expires_in };

// RFC 9068 validation as a resource server, keys from our JWKS.
const request = new Request('http://rs.example/print', {
  headers: { authorization: `Bearer ${cc.access_token}` },
});
const claims = await oauth.validateJwtAccessToken(as, request, issuer.href, opts);
out.validated = { sub: claims.sub, client_id: claims.client_id, tenant_id: claims.tenant_id };

const app = { client_id: 'app' };
const pw = await oauth.processGenericTokenEndpointResponse(
  as,
  app,
  await oauth.genericTokenEndpointRequest(
    as,
    app,
    oauth.None(),
    'password',
    new URLSearchParams({ username, password }),
    opts,
  ),
);
const rotated = await oauth.processRefreshTokenResponse(
  as,
  app,
  await oauth.refreshTokenGrantRequest(as, app, oauth.None(), pw.refresh_token, opts),
);
out.rotated = rotated.refresh_token !== pw.refresh_token;

const rs = { client_id: 'print-rs' };
const introspect = async (token) =>
  oauth.processIntrospectionResponse(
    as,
    rs,
    await oauth.introspectionRequest(as, rs, oauth.ClientSecretBasic(rsSecret), token, opts),
  );
const before = await introspect(rotated.access_token);
out.introspected = {
  active: before.active,
  username: before.username,
  tenant_id: before.tenant_id,
};

// Revoking the (already rotated) root revokes the family.
await oauth.processRevocationResponse(
  await oauth.revocationRequest(as, app, oauth.None(), pw.refresh_token, opts),
);
out.afterRevoke = (await introspect(rotated.access_token)).active;

// A refresh with the revoked family's newest token is refused with invalid_grant.
try {
  await oauth.processRefreshTokenResponse(
    as,
    app,
    await oauth.refreshTokenGrantRequest(as, app, oauth.None(), rotated.refresh_token, opts),
  );
  out.refreshAfterRevoke = 'accepted';
} catch (err) {
  out.refreshAfterRevoke = err?.error ?? err?.cause?.error ?? String(err);
}
console.log(JSON.stringify(out));
