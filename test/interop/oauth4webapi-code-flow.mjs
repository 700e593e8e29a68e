// oauth4webapi (an independent, spec-strict client) walks the authorization-code flow with PKCE:
// discovery, the authorization request, the host's own login form (cookies kept by hand), the
// callback (state and RFC 9207 iss checked by oauth4webapi), the code exchange and a refresh.
import * as oauth from 'oauth4webapi';

const [issuerUrl, redirectUri, username, password, clientId, audience] = process.argv.slice(2);
const issuer = new URL(issuerUrl);
const opts = { [oauth.allowInsecureRequests]: true };
const out = {};
const client = { client_id: clientId };

const as = await oauth.processDiscoveryResponse(
  issuer,
  await oauth.discoveryRequest(issuer, { ...opts, algorithm: 'oauth2' }),
);
out.authorizationEndpoint = as.authorization_endpoint;

const verifier = oauth.generateRandomCodeVerifier();
const state = oauth.generateRandomState();
const url = new URL(as.authorization_endpoint);
url.searchParams.set('client_id', client.client_id);
url.searchParams.set('redirect_uri', redirectUri);
url.searchParams.set('response_type', 'code');
url.searchParams.set('scope', 'print');
url.searchParams.set('state', state);
url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
url.searchParams.set('code_challenge_method', 'S256');

// A browser: follow redirects by hand, keeping cookies, until the redirect URI is reached.
const jar = new Map();
const cookies = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
async function go(target, init = {}) {
  const res = await fetch(target, {
    ...init,
    redirect: 'manual',
    headers: { ...init.headers, cookie: cookies() },
  });
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    jar.set(pair.slice(0, i), pair.slice(i + 1));
  }
  return res;
}
let res = await go(url);
const hops = [];
let callback;
for (let i = 0; i < 10 && !callback; i++) {
  const location = res.headers.get('location');
  if (res.status >= 300 && res.status < 400 && location) {
    const next = new URL(location, res.url || url);
    hops.push(next.pathname);
    if (next.href.startsWith(redirectUri)) callback = next;
    else res = await go(next);
  } else if (res.status === 200 && (await res.clone().text()).includes('<form')) {
    // The host's login form, as a browser submits it: its action, its hidden return_to, and the
    // Origin header browsers send with a form post.
    const html = await res.text();
    const page = new URL(res.url);
    const action = new URL(/<form[^>]*action="([^"]*)"/.exec(html)?.[1] ?? page.pathname, page);
    const hidden = /name="return_to" value="([^"]*)"/.exec(html)?.[1];
    // HTML character references, as a browser decodes the attribute (&amp; &#38; &#x26; …).
    const decode = (v) =>
      v
        .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(Number.parseInt(h, 16)))
        .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
        .replaceAll('&quot;', '"')
        .replaceAll('&lt;', '<')
        .replaceAll('&gt;', '>')
        .replaceAll('&amp;', '&');
    const returnTo = decode(hidden ?? page.searchParams.get('return_to') ?? '');
    hops.push('form');
    res = await go(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: page.origin },
      body: new URLSearchParams({ username, password, return_to: returnTo }),
    });
  } else throw new Error(`unexpected answer ${res.status} at ${res.url}`);
}
out.hops = hops;
if (!callback) throw new Error(`the redirect URI was never reached: ${JSON.stringify(hops)}`);
const params = oauth.validateAuthResponse(as, client, callback, state);
const tokens = await oauth.processAuthorizationCodeResponse(
  as,
  client,
  await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.None(),
    params,
    redirectUri,
    verifier,
    opts,
  ),
);
out.tokens = {
  token_type: tokens.token_type,
  scope: tokens.scope,
  refresh: typeof tokens.refresh_token,
};
const claims = await oauth.validateJwtAccessToken(
  as,
  new Request('http://rs.example/print', {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  }),
  audience, // the sample's access tokens are for its issuer, written without a trailing slash
  opts,
);
out.claims = { sub: claims.sub, gty: claims.gty, tenant_id: claims.tenant_id };
const refreshed = await oauth.processRefreshTokenResponse(
  as,
  client,
  await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token, opts),
);
out.refreshed = typeof refreshed.access_token;
// The same code again: refused (RFC 6749 §4.1.2).
try {
  await oauth.processAuthorizationCodeResponse(
    as,
    client,
    await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.None(),
      params,
      redirectUri,
      verifier,
      opts,
    ),
  );
  out.replay = 'accepted';
} catch (err) {
  out.replay = err.error ?? err.cause?.error ?? err.message;
}
process.stdout.write(JSON.stringify(out));
