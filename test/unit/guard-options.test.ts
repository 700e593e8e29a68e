// createGuard option validation: bad configuration throws ConfigError when the guard is created, never per request.
import express from 'express';
import request from 'supertest';
import { ConfigError, createGuard, type GuardOptions, MemoryStore } from '../../lib';

const ISSUER = 'https://auth.example.com';
const INTROSPECTION = { clientId: 'print-rs', clientSecret: 'print-rs-secret' };

const store = new MemoryStore();
afterAll(() => store.close());

/** Local-mode options with `extra` merged in (an `undefined` value drops nothing: it is given). */
const local = (extra: Record<string, unknown> = {}) =>
  ({ issuer: ISSUER, store, ...extra }) as unknown as GuardOptions;
const remote = (extra: Record<string, unknown> = {}, introspection: Record<string, unknown> = {}) =>
  ({
    issuer: ISSUER,
    introspection: { ...INTROSPECTION, ...introspection },
    ...extra,
  }) as unknown as GuardOptions;

/** The ConfigError createGuard throws for `options`. */
function configError(options: unknown): ConfigError {
  try {
    createGuard(options as GuardOptions);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('createGuard accepted the options');
}

describe('createGuard options', () => {
  it('accepts minimal local and remote options', () => {
    expect(createGuard(local()).mode).toBe('local');
    expect(createGuard(remote()).mode).toBe('remote');
    expect(createGuard(remote({}, { endpoint: 'https://auth.example.com/introspect' })).mode).toBe(
      'remote',
    );
  });

  describe('issuer', () => {
    it.each([
      ['missing', undefined],
      ['not a string', 42],
      ['empty', ''],
      ['not a URL', 'auth.example.com'],
    ])('%s → ConfigError naming "issuer"', (_name, issuer) => {
      expect(configError(local({ issuer })).message).toMatch(/"issuer"/);
    });

    it('a missing issuer key altogether → ConfigError', () => {
      expect(configError({ store }).message).toMatch(/"issuer"/);
    });

    it.each([
      'http://auth.example.com',
      'http://10.0.0.1:4000',
      'ftp://auth.example.com',
      'http://localhost.example.com',
    ])('non-https issuer %s → ConfigError', (issuer) => {
      expect(configError(local({ issuer })).message).toMatch(/https/);
    });

    it.each(['http://localhost:4000', 'http://127.0.0.1:4000', 'http://[::1]:4000'])(
      'http is allowed for %s',
      (issuer) => {
        expect(createGuard(local({ issuer })).mode).toBe('local');
      },
    );

    it('an issuer with a query or fragment → ConfigError', () => {
      expect(configError(local({ issuer: `${ISSUER}?tenant=a` })).message).toMatch(/query/);
      expect(configError(local({ issuer: `${ISSUER}#x` })).message).toMatch(/fragment/);
    });
  });

  describe('mode: exactly one of store and introspection', () => {
    it('both → ConfigError', () => {
      expect(configError(local({ introspection: INTROSPECTION })).message).toMatch(/not both/);
    });

    it('neither → ConfigError', () => {
      expect(configError({ issuer: ISSUER }).message).toMatch(/"store".*"introspection"/);
    });

    it.each([
      ['a plain object', {}],
      ['a Map', new Map()],
      ['a string', 'redis://localhost'],
      ['an object with a non-function getAccessTokenState', { getAccessTokenState: true }],
    ])('store that is %s → ConfigError', (_name, bad) => {
      expect(configError(local({ store: bad })).message).toMatch(/Store/);
    });

    it('introspection that is not an object → ConfigError', () => {
      expect(
        configError({ issuer: ISSUER, introspection: 'https://auth.example.com/introspect' })
          .message,
      ).toMatch(/"introspection" must be an object/);
    });

    it('registryCacheTtl in remote mode → ConfigError pointing at introspection.cacheTtl', () => {
      expect(configError(remote({ registryCacheTtl: 5 })).message).toMatch(
        /"registryCacheTtl".*introspection\.cacheTtl/,
      );
    });

    it('jwksRefreshInterval in local mode → ConfigError', () => {
      expect(configError(local({ jwksRefreshInterval: 10 })).message).toMatch(
        /"jwksRefreshInterval" is for remote mode/,
      );
    });

    it('each is fine in its own mode', () => {
      expect(createGuard(local({ registryCacheTtl: 5 })).mode).toBe('local');
      expect(createGuard(remote({ jwksRefreshInterval: 10 })).mode).toBe('remote');
    });
  });

  describe('unknown keys', () => {
    it('a misspelt top-level option → ConfigError with a did-you-mean hint', () => {
      const err = configError({ issuer: ISSUER, instrospection: INTROSPECTION });
      expect(err.message).toMatch(/unknown option "instrospection"/);
      expect(err.message).toMatch(/did you mean "introspection"\?/);
    });

    it.each([
      ['realms', 'realm'],
      ['audiance', 'audience'],
      ['clocktolerance', 'clockTolerance'],
      ['tokenCacheSze', 'tokenCacheSize'],
      ['tenant', 'tenants'],
    ])('%s → hint "%s"', (key, hint) => {
      expect(configError(local({ [key]: 1 })).message).toMatch(`did you mean "${hint}"?`);
    });

    it('a key far from every option → ConfigError without a hint', () => {
      const err = configError(local({ somethingElseEntirely: true }));
      expect(err.message).toMatch(/unknown option "somethingElseEntirely"/);
      expect(err.message).not.toMatch(/did you mean/);
    });

    it('an unknown introspection key → ConfigError with a hint', () => {
      const err = configError(remote({}, { cacheTTL: 1 }));
      expect(err.message).toMatch(/introspection/);
      expect(err.message).toMatch(/unknown option "cacheTTL"/);
      expect(err.message).toMatch(/did you mean "cacheTtl"\?/);
      expect(configError(remote({}, { endpiont: 'https://a.example/i' })).message).toMatch(
        /did you mean "endpoint"\?/,
      );
    });

    it('an option given as undefined is the default, not an error', () => {
      expect(createGuard(local({ realm: undefined, audience: undefined })).mode).toBe('local');
    });
  });

  describe('tenants (tenants and local users)', () => {
    it.each([
      ['an empty array', []],
      ['a string, not an array', 'acme'],
      ['a tenant id with a space', ['acme', 'be ta']],
      ['a tenant id too long', ['a'.repeat(65)]],
      ['an empty tenant id', ['']],
      ['a number', [42]],
    ])('%s → ConfigError naming "tenants"', (_name, tenants) => {
      expect(configError(local({ tenants })).message).toMatch(/"tenants"/);
      expect(configError(remote({ tenants })).message).toMatch(/"tenants"/);
    });

    it('a non-empty list of tenant ids is accepted in both modes', () => {
      expect(createGuard(local({ tenants: ['acme', 'beta.eu_1-x'] })).mode).toBe('local');
      expect(createGuard(remote({ tenants: ['acme', 'acme'] })).mode).toBe('remote');
    });
  });

  describe('introspection credentials and endpoint', () => {
    it.each([
      ['clientId missing', { clientId: undefined }],
      ['clientId empty', { clientId: '' }],
      ['clientSecret missing', { clientSecret: undefined }],
      ['clientSecret not a string', { clientSecret: 123 }],
      ['clientSecret with a newline', { clientSecret: 'a\nb' }],
    ])('%s → ConfigError', (_name, introspection) => {
      expect(configError(remote({}, introspection)).message).toMatch(/introspection\.client/);
    });

    it.each(['http://auth.example.com/introspect', 'not a url', 'file:///etc/passwd'])(
      'endpoint %s → ConfigError',
      (endpoint) => {
        expect(configError(remote({}, { endpoint })).message).toMatch(/"introspection\.endpoint"/);
      },
    );

    it('an http endpoint on localhost is allowed', () => {
      expect(createGuard(remote({}, { endpoint: 'http://localhost:4000/introspect' })).mode).toBe(
        'remote',
      );
    });
  });

  describe('realm (sent inside a quoted-string)', () => {
    it.each([
      ['contains a double quote', 'print "api"'],
      ['contains a backslash', 'print\\api'],
      ['contains a newline', 'print\napi'],
      ['is empty', ''],
      ['is not a string', 5],
      ['is non-ASCII', 'imprimé'],
      ['is longer than 128 characters', 'r'.repeat(129)],
    ])('realm that %s → ConfigError', (_name, realm) => {
      expect(configError(local({ realm })).message).toMatch(/"realm"/);
    });

    it('a realm with spaces and punctuation is fine', () => {
      expect(createGuard(local({ realm: 'Cloud Print (acme)' })).mode).toBe('local');
    });
  });

  describe('numbers', () => {
    it.each([
      ['clockTolerance', -1],
      ['clockTolerance', 1.5],
      ['clockTolerance', '5'],
      ['clockTolerance', 301],
      ['clockTolerance', Number.NaN],
      ['tokenCacheSize', -1],
      ['tokenCacheSize', Number.POSITIVE_INFINITY],
      ['registryCacheTtl', -5],
      ['registryCacheTtl', 301],
    ])('local %s: %p → ConfigError', (name, value) => {
      expect(configError(local({ [name]: value })).message).toMatch(`"${name}"`);
    });

    it.each([
      ['jwksRefreshInterval', 0],
      ['jwksRefreshInterval', 3601],
      ['jwksRefreshInterval', 2.5],
    ])('remote %s: %p → ConfigError', (name, value) => {
      expect(configError(remote({ [name]: value })).message).toMatch(`"${name}"`);
    });

    it.each([
      ['cacheTtl', -1],
      ['cacheTtl', 301],
      ['cacheTtl', 0.5],
      ['cacheSize', 0],
      ['cacheSize', '100'],
      ['timeout', 0],
      ['timeout', 60001],
      ['timeout', Number.NaN],
    ])('introspection.%s: %p → ConfigError', (name, value) => {
      expect(configError(remote({}, { [name]: value })).message).toMatch(`"introspection.${name}"`);
    });

    it('limits themselves are accepted (0 turns caches off)', () => {
      expect(
        createGuard(local({ clockTolerance: 0, tokenCacheSize: 0, registryCacheTtl: 0 })).mode,
      ).toBe('local');
      expect(createGuard(remote({ clockTolerance: 300 }, { cacheTtl: 0, timeout: 1 })).mode).toBe(
        'remote',
      );
    });
  });

  describe('audience', () => {
    it.each([
      ['empty', ''],
      ['not a string', ['https://a.example']],
    ])('audience that is %s → ConfigError', (_name, audience) => {
      expect(configError(local({ audience })).message).toMatch(/"audience"/);
    });
  });

  it('revocation feed options: maxCacheTtl at least cacheTtl, feed a boolean', () => {
    expect(configError(remote({}, { cacheTtl: 10, maxCacheTtl: 5 })).message).toMatch(
      /"introspection.maxCacheTtl" \(5\) must be at least "introspection.cacheTtl" \(10\)/,
    );
    expect(configError(remote({}, { maxCacheTtl: 4000 })).message).toMatch(/maxCacheTtl/);
    expect(configError(remote({}, { feed: 'yes' })).message).toMatch(/"introspection.feed"/);
  });

  it('options that are not an object → ConfigError', () => {
    expect(configError(undefined).message).toMatch(/options are required/);
    expect(configError('https://auth.example.com').message).toMatch(/options are required/);
  });
});

describe('requireScope / requireService arguments are checked when the middleware is built', () => {
  const guard = createGuard(local());

  it('requireScope() with no scope → ConfigError', () => {
    expect(() => guard.requireScope()).toThrow(ConfigError);
  });

  it.each([
    ['empty', ''],
    ['with a space', 'print scan'],
    ['with a double quote', 'pr"int'],
    ['with a backslash', 'pr\\int'],
    ['non-ASCII', 'imprimé'],
    ['longer than 128 characters', 's'.repeat(129)],
    ['not a string', 42],
  ])('requireScope with a scope that is %s → ConfigError', (_name, scope) => {
    expect(() => guard.requireScope(scope as string)).toThrow(ConfigError);
    expect(() => guard.requireScope('print', scope as string)).toThrow(ConfigError);
  });

  it.each([
    ['empty', ''],
    ['with a double quote', 'pr"int'],
    ['with a space', 'cloud print'],
    ['with a control character', 'print\u0007'],
    ['not a string', undefined],
  ])('requireService with a service that is %s → ConfigError', (_name, service) => {
    expect(() => guard.requireService(service as string)).toThrow(ConfigError);
  });

  it('valid arguments give named middleware functions', () => {
    expect(guard.requireScope('print', 'scan', 'print').name).toBe('requireScope');
    expect(guard.requireService('print').name).toBe('requireService');
    expect(guard.authenticate().name).toBe('authenticate');
    expect(guard.resolveIdentity().name).toBe('resolveIdentity');
  });

  it('a well-built app never answers a configuration error per request (the route still guards)', async () => {
    const app = express();
    app.get('/print', guard.authenticate(), guard.requireScope('print'), (_req, res) => {
      res.json({ ok: true });
    });
    const res = await request(app).get('/print');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer realm="tokenward", DPoP realm="tokenward", algs="ES256 ES384 ES512 PS256 PS384 PS512 RS256 RS384 RS512"',
    );
  });

  describe('dpop and replayStore (RFC 9449)', () => {
    it("dpop is 'allowed' or 'required'; anything else → ConfigError", () => {
      expect(createGuard(local({ dpop: 'required' })).mode).toBe('local');
      expect(configError(local({ dpop: true })).message).toMatch(
        /"dpop" must be 'allowed' or 'required'/,
      );
    });
    it('replayStore is for remote mode, and must be a tokenward store', () => {
      expect(createGuard(remote({ replayStore: store })).mode).toBe('remote');
      expect(configError(local({ replayStore: store })).message).toMatch(
        /"replayStore" is for remote mode/,
      );
      expect(configError(remote({ replayStore: {} })).message).toMatch(/must be a tokenward Store/);
    });
  });
});
