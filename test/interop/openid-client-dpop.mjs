// openid-client 6 (an independent client) with its own DPoP support (RFC 9449) against tokenward:
// bound tokens from the password and authorization-code grants (server nonces on, so its nonce
// retry runs), refreshes, and resource requests to guards; prints what it saw as JSON.
import * as client from 'openid-client';

const [
  issuerUrl,
  username,
  password,
  codeClientId,
  redirectUri,
  dpopOnlyClientId,
  requiredRs,
  allowedRs,
] = process.argv.slice(2);
const issuer = new URL(issuerUrl);
const out = {};

/** Every token-endpoint call: its status, whether its proof carried a nonce, the error code. */
const tokenCalls = [];
const payloadOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
const recordingFetch = async (url, init) => {
  const res = await fetch(url, init);
  if (String(url).endsWith('/oauth2/token')) {
    const proof = new Headers(init.headers).get('dpop');
    const body = res.status === 200 ? undefined : await res.clone().json();
    tokenCalls.push({
      status: res.status,
      proof: proof === null ? 'none' : payloadOf(proof).nonce === undefined ? 'no nonce' : 'nonce',
      ...(body ? { error: body.error } : {}),
      nonceHeader: res.headers.has('dpop-nonce'),
    });
  }
  return res;
};
const takeCalls = () => tokenCalls.splice(0);

async function configFor(clientId) {
  return client.discovery(issuer, clientId, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
    algorithm: 'oauth2',
    [client.customFetch]: recordingFetch,
  });
}

/** The OAuth error code of a refused call (token endpoint: body; resource: WWW-Authenticate). */
async function refusal(promise) {
  try {
    await promise;
    return 'accepted';
  } catch (err) {
    if (err instanceof client.WWWAuthenticateChallengeError)
      return {
        status: err.status,
        challenges: err.cause.map((c) => ({ scheme: c.scheme, error: c.parameters.error })),
      };
    return err.error ?? err.code ?? String(err);
  }
}

/** A resource request through openid-client: status and body, or how it was refused. */
async function resource(config, token, url, dpop) {
  try {
    const res = await client.fetchProtectedResource(
      config,
      token,
      new URL(url),
      'GET',
      undefined,
      undefined,
      dpop ? { DPoP: dpop } : undefined,
    );
    const body = await res.json();
    return { status: res.status, subject: body.subject, clientId: body.clientId };
  } catch (err) {
    return refusal(Promise.reject(err));
  }
}

const config = await configFor('app');
out.algs = config.serverMetadata().dpop_signing_alg_values_supported?.includes('ES256');

// Password grant with key A: the first proof carries no nonce, the server asks for one, and
// openid-client retries once with it.
const keyA = await client.randomDPoPKeyPair('ES256');
const dpopA = client.getDPoPHandle(config, keyA);
const jktA = await dpopA.calculateThumbprint();
const pw = await client.genericGrantRequest(
  config,
  'password',
  { username, password, scope: 'print' },
  { DPoP: dpopA },
);
out.password = {
  token_type: pw.token_type,
  boundToA: payloadOf(pw.access_token).cnf?.jkt === jktA,
  calls: takeCalls(),
};

// Resource requests with the handle: both guards accept (a fresh proof each time, with ath).
out.fetchRequired = await resource(config, pw.access_token, `${requiredRs}/me`, dpopA);
out.fetchAllowed = await resource(config, pw.access_token, `${allowedRs}/me`, dpopA);

// The same token without key A: as Bearer, or DPoP with a proof of key B.
const keyB = await client.randomDPoPKeyPair('ES256');
const dpopB = client.getDPoPHandle(config, keyB);
out.stolen = {
  bearerRequired: await resource(config, pw.access_token, `${requiredRs}/me`),
  bearerAllowed: await resource(config, pw.access_token, `${allowedRs}/me`),
  otherKeyRequired: await resource(config, pw.access_token, `${requiredRs}/me`, dpopB),
  otherKeyAllowed: await resource(config, pw.access_token, `${allowedRs}/me`, dpopB),
};

// A refresh proved with key B is refused (after B's own nonce round), and so is one without a
// proof; neither spends the token: key A's refresh then rotates it (A's nonce is kept: no retry).
out.refreshOtherKey = await refusal(
  client.refreshTokenGrant(config, pw.refresh_token, undefined, { DPoP: dpopB }),
);
out.refreshNoProof = await refusal(client.refreshTokenGrant(config, pw.refresh_token));
out.refusedCalls = takeCalls();
const rotated = await client.refreshTokenGrant(config, pw.refresh_token, undefined, {
  DPoP: dpopA,
});
out.refresh = {
  token_type: rotated.token_type,
  rotated: rotated.refresh_token !== pw.refresh_token,
  boundToA: payloadOf(rotated.access_token).cnf?.jkt === jktA,
  calls: takeCalls(),
};
out.fetchRotated = await resource(config, rotated.access_token, `${requiredRs}/me`, dpopA);

// Authorization code + PKCE with key C: the browser part is one redirect (the server signs the
// user in by itself here); the code is redeemed with a proof, then refreshed with the same key.
const codeConfig = await configFor(codeClientId);
const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const authUrl = client.buildAuthorizationUrl(codeConfig, {
  redirect_uri: redirectUri,
  scope: 'print',
  state,
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
});
const redirect = await fetch(authUrl, { redirect: 'manual' });
const callback = new URL(redirect.headers.get('location'), authUrl);
const keyC = await client.randomDPoPKeyPair('ES256');
const dpopC = client.getDPoPHandle(codeConfig, keyC);
const jktC = await dpopC.calculateThumbprint();
const code = await client.authorizationCodeGrant(
  codeConfig,
  callback,
  { pkceCodeVerifier: verifier, expectedState: state },
  undefined,
  { DPoP: dpopC },
);
const codeRefreshed = await client.refreshTokenGrant(codeConfig, code.refresh_token, undefined, {
  DPoP: dpopC,
});
out.code = {
  token_type: code.token_type,
  boundToC: payloadOf(code.access_token).cnf?.jkt === jktC,
  refreshedBoundToC: payloadOf(codeRefreshed.access_token).cnf?.jkt === jktC,
  calls: takeCalls(),
};
out.fetchCode = await resource(codeConfig, codeRefreshed.access_token, `${requiredRs}/me`, dpopC);
out.codeStolen = await resource(codeConfig, codeRefreshed.access_token, `${requiredRs}/me`);

// A client registered with dpop: 'required': refused without a proof, served with one.
const onlyConfig = await configFor(dpopOnlyClientId);
out.dpopOnly = {
  withoutProof: await refusal(
    client.genericGrantRequest(onlyConfig, 'password', { username, password }),
  ),
  withProof: (
    await client.genericGrantRequest(
      onlyConfig,
      'password',
      { username, password },
      { DPoP: client.getDPoPHandle(onlyConfig, keyA) },
    )
  ).token_type,
  calls: takeCalls(),
};

process.stdout.write(JSON.stringify(out));
