// createAuthServer options: validated at start-up with ConfigError and helpful messages.
import { generateKeyPairSync } from 'node:crypto';
import { ConfigError, createAuthServer, MemoryStore } from '../../lib';
import { parseAuthServerOptions } from '../../lib/options/auth-server-options';

const issuer = 'https://auth.example.com';

describe('createAuthServer options', () => {
  it('rejects an unknown option with a "did you mean" hint', () => {
    expect(() => createAuthServer({ issuer, acessTokenTtl: 60 } as never)).toThrow(
      /unknown option "acessTokenTtl" \(did you mean "accessTokenTtl"\?\)/,
    );
  });

  it.each([
    [{ issuer: 'http://auth.example.com' }, /https/],
    [{ issuer: 'not a url' }, /not a URL/],
    [{ issuer: 'https://a.example.com/?x=1' }, /query or fragment/],
    [{ issuer: 'https://a.example.com/#f' }, /query or fragment/],
    [{ issuer, accessTokenTtl: 0 }, /accessTokenTtl/],
    [{ issuer, accessTokenTtl: 1.5 }, /accessTokenTtl/],
    [{ issuer, refreshTokenTtl: 100, refreshTokenMaxAge: 50 }, /refreshTokenMaxAge/],
    [{ issuer, signingAlg: 'HS256' }, /signingAlg/],
    [{ issuer, signingAlg: 'none' }, /signingAlg/],
    [{ issuer, rateLimit: { failedPasswordPerIp: 1 } }, /did you mean "failedPasswordsPerIp"/],
    [{ issuer, rateLimit: { perClient: 1 } }, /unknown option "perClient"/],
    [{ issuer, rateLimit: { failedPasswordsPerUsername: 0 } }, /failedPasswordsPerUsername/],
    [{ issuer, passwordHashing: { maxConcurrent: 0 } }, /maxConcurrent/],
    [{ issuer, keys: [] }, /keys/],
    [{ issuer, keys: [{ privateKey: 'not a key' }] }, /private key/],
    [{ issuer, refreshReuseLeewaySeconds: -1 }, /refreshReuseLeewaySeconds/],
  ])('rejects %j', (options, message) => {
    expect(() => createAuthServer(options as never)).toThrow(ConfigError);
    expect(() => createAuthServer(options as never)).toThrow(message);
  });

  it('rate limits by default: 100 failed passwords per IP and 10 per username per 15 minutes; scrypt N=2^17', () => {
    const config = parseAuthServerOptions({ issuer });
    expect(config.rateLimit).toEqual({
      windowSeconds: 900,
      failedPasswordsPerIp: 100,
      failedPasswordsPerUsername: 10,
      refreshesPerFamily: 300,
      failedRefreshesPerIp: 300,
      failedClientAuthPerClient: 50,
      failedClientAuthPerIp: 100,
    });
    expect(config.passwordHashing).toEqual({ scryptCost: 17, maxConcurrent: 2, maxQueued: 16 });
    expect(parseAuthServerOptions({ issuer, rateLimit: false }).rateLimit).toBe(false);
  });

  it('revocationFeed: on by default; false turns it off; bad settings are refused with their range', () => {
    const base = { issuer: 'http://localhost:4000', store: new MemoryStore() };
    expect(parseAuthServerOptions(base).revocationFeed).toEqual({
      heartbeat: 10,
      maxBuffer: 256 * 1024,
      maxStreamsPerClient: 16,
    });
    expect(parseAuthServerOptions({ ...base, revocationFeed: false }).revocationFeed).toBe(false);
    expect(createAuthServer({ ...base, revocationFeed: false }).metadata()).not.toHaveProperty(
      'revocation_feed_endpoint',
    );
    expect(() => parseAuthServerOptions({ ...base, revocationFeed: { heartbeat: 0 } })).toThrow(
      /revocationFeed.heartbeat" must be a whole number from 1 to 60/,
    );
    expect(() =>
      parseAuthServerOptions({ ...base, revocationFeed: { maxBufer: 1 } as never }),
    ).toThrow(ConfigError);
    expect(() => parseAuthServerOptions({ ...base, revocationFeed: 'on' as never })).toThrow(
      /"revocationFeed" must be true, false or/,
    );
  });

  it('accepts http for localhost and strips a trailing slash', () => {
    expect(createAuthServer({ issuer: 'http://localhost:4000/' }).issuer).toBe(
      'http://localhost:4000',
    );
  });

  it('rejects a key that does not fit the algorithm (an RSA key for ES256)', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(() => createAuthServer({ issuer, keys: [{ privateKey }] })).toThrow(
      /does not fit algorithm ES256/,
    );
    expect(
      createAuthServer({
        issuer,
        keys: [{ privateKey, alg: 'RS256' }],
        store: new MemoryStore(),
      }).metadata().access_token_signing_alg_values_supported,
    ).toEqual(['RS256']);
  });

  it('keys given in options sign tokens and are served in the JWKS', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const auth = createAuthServer({
      issuer,
      keys: [
        { privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, kid: 'k1' },
      ],
    });
    const jwks = await auth.jwks();
    expect(jwks.keys).toEqual([
      expect.objectContaining({ kid: 'k1', kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' }),
    ]);
    expect(jwks.keys[0]).not.toHaveProperty('d');
    await expect(auth.admin.rotateKeys()).rejects.toThrow(ConfigError);
  });

  describe('dpop (RFC 9449)', () => {
    it('nonces on a shared store need a secret every instance shares; a MemoryStore uses its own', () => {
      const shared = Object.assign(new MemoryStore(), { shared: true });
      expect(() =>
        parseAuthServerOptions({
          issuer,
          store: shared,
          insecureClearKeys: true,
          dpop: { nonce: true },
        }),
      ).toThrow(/"dpop.nonce" on a shared store .* "keyEncryptionSecret"/);
      const withSecret = parseAuthServerOptions({
        issuer,
        store: shared,
        keyEncryptionSecret: 's'.repeat(32),
        dpop: { nonce: true },
      });
      expect(withSecret.dpop.nonces).toBeDefined();
      expect(parseAuthServerOptions({ issuer, dpop: { nonce: true } }).dpop.nonces).toBeDefined();
      expect(parseAuthServerOptions({ issuer }).dpop.nonces).toBeUndefined();
      void shared.close();
    });
    it.each([
      [{ algorithms: ['HS256'] }, /asymmetric algorithms only/],
      [{ algorithms: [] }, /non-empty list/],
      [{ proofMaxAge: 3 }, /proofMaxAge/],
      [{ nonce: 'yes' }, /"dpop.nonce" must be a boolean/],
      [{ nonces: true }, /nonce/],
    ])('%j → ConfigError', (dpop, message) => {
      expect(() => createAuthServer({ issuer, dpop } as never)).toThrow(message);
    });
  });
});
