// Interop: oauth4webapi completes the authorization-code flow with PKCE against the sample app,
// logging in through the sample host's own login form (its session cookie kept by the client).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Sample, startSample } from '../../sample-app/sample';
import { demoCallback } from '../../sample-app/seed';

const run = promisify(execFile);

describe('oauth4webapi: authorization code + PKCE against the sample, through its login form', () => {
  let sample: Sample;
  beforeAll(async () => {
    sample = await startSample({ authPort: 0, printPort: 0 });
  });
  afterAll(() => sample.close());

  it('login form, callback with state and iss, code exchange, RFC 9068 validation, refresh; a replayed code is refused', async () => {
    const script = path.join(__dirname, 'oauth4webapi-code-flow.mjs');
    const redirectUri = demoCallback(sample.printUrl, 'mobile-app');
    const { stdout } = await run(process.execPath, [
      script,
      sample.issuer,
      redirectUri,
      'alice',
      'alice-password',
      'mobile-app',
      sample.issuer,
    ]);
    expect(JSON.parse(stdout)).toEqual({
      authorizationEndpoint: `${sample.issuer}/oauth2/authorize`,
      hops: ['/login', 'form', '/oauth2/authorize', '/demo/callback/mobile-app'],
      tokens: { token_type: 'bearer', scope: expect.any(String), refresh: 'string' },
      claims: { sub: 'alice', gty: 'authorization_code', tenant_id: 'acme' },
      refreshed: 'string',
      replay: 'invalid_grant',
    });
  });
});
