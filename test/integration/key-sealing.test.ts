// keyEncryptionSecret: private signing keys sealed in the store, so that a dump of it cannot mint tokens.

import { generateKeyPairSync } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createLocalJWKSet, jwtVerify } from 'jose';
import request from 'supertest';
import { ConfigError, createAuthServer, MemoryStore, type Store } from '../../lib';
import { KeySealer } from '../../lib/tokens/key-sealing';
import { generateSigningKey } from '../../lib/tokens/signing-keys';
import { buildApp, introspect, post, SVC, seed, TOKEN } from '../helpers/app';
import { testClock } from '../helpers/clock';
import { makeStore, type TestStore } from '../helpers/stores';

const SECRET = 'k'.repeat(16) + 'e'.repeat(16);
const kidOf = (jwt: string): string =>
  JSON.parse(Buffer.from(jwt.split('.')[0] as string, 'base64url').toString()).kid;
const OTHER = 'o'.repeat(32);

describe('KeySealer', () => {
  const jwk = { kty: 'EC', crv: 'P-256', d: 'private-part', x: 'x', y: 'y' };

  it('opens what it sealed, for the same kid only; another secret or a changed byte opens nothing', () => {
    const sealer = new KeySealer(SECRET);
    const sealed = sealer.seal(jwk, 'kid-1');
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain('private-part');
    expect(sealer.open(sealed, 'kid-1')).toEqual(jwk);
    expect(sealer.open(sealed, 'kid-2')).toBeUndefined();
    expect(new KeySealer(OTHER).open(sealed, 'kid-1')).toBeUndefined();
    const parts = sealed.split('.');
    const ct = Buffer.from(parts[2] as string, 'base64url');
    ct[0] = (ct[0] as number) ^ 1;
    parts[2] = ct.toString('base64url');
    expect(sealer.open(parts.join('.'), 'kid-1')).toBeUndefined();
    expect(sealer.open('v2.a.b.c', 'kid-1')).toBeUndefined();
    expect(sealer.open('garbage', 'kid-1')).toBeUndefined();
  });

  it('seals with a fresh IV each time', () => {
    const sealer = new KeySealer(SECRET);
    expect(sealer.seal(jwk, 'k')).not.toBe(sealer.seal(jwk, 'k'));
  });
});

describe('createAuthServer keyEncryptionSecret option', () => {
  it('must be at least 32 characters and is refused together with keys', () => {
    expect(() =>
      createAuthServer({ issuer: 'https://a.example', keyEncryptionSecret: 'short' }),
    ).toThrow(ConfigError);
    expect(() =>
      createAuthServer({
        issuer: 'https://a.example',
        keyEncryptionSecret: SECRET,
        keys: [{ privateKey: { kty: 'EC' } }],
      }),
    ).toThrow(/not stored/);
  });
});

describe('keys at rest on a shared store (RedisStore)', () => {
  let ts: TestStore;
  beforeAll(async () => {
    ts = await makeStore('redis', 'key-sealing-config');
  });
  afterAll(() => ts.close());
  const issuer = 'https://a.example';
  const staticKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

  it('RedisStore is shared, MemoryStore is not', () => {
    expect(ts.store.shared).toBe(true);
    expect((new MemoryStore() as Store).shared).toBeUndefined();
  });

  it('without keyEncryptionSecret or keys: ConfigError naming both and insecureClearKeys', () => {
    const build = () => createAuthServer({ issuer, store: ts.store });
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/"keyEncryptionSecret"/);
    expect(build).toThrow(/"keys"/);
    expect(build).toThrow(/"insecureClearKeys: true"/);
    expect(build).toThrow(/development only/);
  });

  it('a secret of 32+ characters or keys will do; insecureClearKeys warns once at start-up', () => {
    expect(() =>
      createAuthServer({ issuer, store: ts.store, keyEncryptionSecret: SECRET }),
    ).not.toThrow();
    expect(() =>
      createAuthServer({ issuer, store: ts.store, keys: [{ privateKey: staticKey }] }),
    ).not.toThrow();
    const warned: string[] = [];
    const logger = { error: () => {}, warn: (_f: unknown, m: string) => void warned.push(m) };
    createAuthServer({ issuer, store: ts.store, insecureClearKeys: true, logger });
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(/clear.*development only/);
    // A MemoryStore keeps its keys in the process: no option needed, no warning.
    createAuthServer({ issuer, logger });
    expect(warned).toHaveLength(1);
  });

  it('insecureClearKeys conflicts with keyEncryptionSecret and with keys, and must be a boolean', () => {
    const conflicts = [
      { keyEncryptionSecret: SECRET, insecureClearKeys: true },
      { keys: [{ privateKey: staticKey }], insecureClearKeys: true },
      { insecureClearKeys: 'yes' as never },
    ];
    for (const options of conflicts)
      expect(() => createAuthServer({ issuer, store: ts.store, ...options })).toThrow(ConfigError);
    expect(() =>
      createAuthServer({ issuer, store: ts.store, keyEncryptionSecret: 'short' }),
    ).toThrow(/at least 32 characters/);
  });

  it('a raw read of the key record in Redis holds no private JWK member', async () => {
    const t = buildApp(ts.store, { keyEncryptionSecret: SECRET });
    await seed(t.auth);
    expect((await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC)).status).toBe(200);
    await t.auth.admin.rotateKeys();
    const raw = await (ts.redis as Redis).get(`${ts.prefix}{keys}`);
    const records = JSON.parse(raw as string) as Record<string, unknown>[];
    expect(records).toHaveLength(2);
    for (const record of records) {
      expect(record).not.toHaveProperty('privateJwk');
      expect(record.publicJwk).not.toHaveProperty('d');
    }
    expect(raw).not.toMatch(/"d"\s*:/);
    expect(records[0]?.sealedPrivateJwk).toMatch(/^v1\./);
    expect(records[1]).not.toHaveProperty('sealedPrivateJwk');
  });
});

describe.each(['redis', 'memory'] as const)('sealed signing keys on %s', (kind) => {
  let ts: TestStore;
  beforeEach(async () => {
    ts = await makeStore(kind, `key-sealing-${kind}`);
  });
  afterEach(() => ts.close());

  const issue = async (t: ReturnType<typeof buildApp>) =>
    post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC);
  const quiet = { error: () => {} };

  it('stores no private key in the clear; tokens verify against the JWKS; every instance with the secret signs', async () => {
    const a = buildApp(ts.store, { keyEncryptionSecret: SECRET });
    await seed(a.auth);
    const first = await issue(a);
    expect(first.status).toBe(200);
    const [record] = await ts.store.getSigningKeys();
    expect(record?.privateJwk).toBeUndefined();
    expect(record?.sealedPrivateJwk).toMatch(/^v1\./);
    // Nothing in the store dump carries a JWK private member.
    expect(await ts.snapshot()).not.toMatch(/\\?"d\\?"\s*:/);
    const jwks = createLocalJWKSet((await request(a.app).get('/oauth2/jwks').expect(200)).body);
    const issuer = a.auth.issuer;
    await expect(
      jwtVerify(first.body.access_token, jwks, { issuer, audience: issuer }),
    ).resolves.toBeDefined();
    // A second instance with the same secret opens the key and signs with the same kid.
    const b = buildApp(ts.store, { keyEncryptionSecret: SECRET });
    const second = await issue(b);
    expect(second.status).toBe(200);
    const kid = (t: string) =>
      JSON.parse(Buffer.from(t.split('.')[0] as string, 'base64url').toString()).kid;
    expect(kid(second.body.access_token)).toBe(kid(first.body.access_token));
    // Rotation seals the new key too.
    const newKid = await b.auth.admin.rotateKeys();
    const keys = await ts.store.getSigningKeys();
    const rotated = keys.find((k) => k.kid === newKid);
    expect(rotated?.sealedPrivateJwk).toMatch(/^v1\./);
    expect(rotated?.privateJwk).toBeUndefined();
  });

  it('an instance with another secret (or none) issues nothing and changes nothing', async () => {
    const a = buildApp(ts.store, { keyEncryptionSecret: SECRET });
    await seed(a.auth);
    expect((await issue(a)).status).toBe(200);
    const before = await ts.snapshot();
    const errors: unknown[] = [];
    const logger = { error: (fields: unknown) => errors.push(fields), warn: () => {} };
    // "None" on a shared store is the explicit insecureClearKeys.
    const none = kind === 'redis' ? { insecureClearKeys: true, logger } : { logger };
    for (const options of [{ keyEncryptionSecret: OTHER, logger }, none]) {
      const c = buildApp(ts.store, options);
      const res = await issue(c);
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: 'server_error', error_description: expect.any(String) });
      expect(JSON.stringify(res.body)).not.toMatch(/sealed|secret/);
    }
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(await ts.snapshot()).toBe(before);
  });

  it('a sealing server never signs with a clear key it finds active: it rotates to a sealed key, drops the clear one, logs once', async () => {
    // A clear key written by a server told insecureClearKeys (or an old CLI, or injected).
    const plain = buildApp(ts.store, kind === 'redis' ? { insecureClearKeys: true } : {});
    await seed(plain.auth);
    const clearToken = (await issue(plain)).body.access_token as string;
    const [clear] = await ts.store.getSigningKeys();
    expect(clear?.privateJwk).toBeDefined();
    const errors: [Record<string, unknown>, string][] = [];
    const logger = { error: (f: Record<string, unknown>, m: string) => errors.push([f, m]) };
    const sealed = buildApp(ts.store, { keyEncryptionSecret: SECRET, logger });
    const first = await issue(sealed);
    expect(first.status).toBe(200);
    expect(kidOf(first.body.access_token)).not.toBe(clear?.kid);
    // The clear key is gone from the store and the JWKS: tokens it signed are not trusted.
    const keys = await ts.store.getSigningKeys();
    expect(keys.map((k) => k.kid)).not.toContain(clear?.kid);
    expect(keys.some((k) => k.privateJwk !== undefined)).toBe(false);
    expect(keys[0]?.sealedPrivateJwk).toMatch(/^v1\./);
    const jwks = createLocalJWKSet(
      (await request(sealed.app).get('/oauth2/jwks').expect(200)).body,
    );
    const { issuer } = sealed.auth;
    const verified = await jwtVerify(first.body.access_token, jwks, { issuer, audience: issuer });
    expect(verified.protectedHeader.kid).toBe(keys[0]?.kid);
    await expect(jwtVerify(clearToken, jwks, { issuer, audience: issuer })).rejects.toThrow();
    expect((await introspect(sealed.app, clearToken)).active).toBe(false);
    // Logged once, naming the kid and never the key.
    expect((await issue(sealed)).status).toBe(200);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.[0]).toEqual({ kid: clear?.kid });
    expect(errors[0]?.[1]).toMatch(/not sealed/);
    expect(JSON.stringify(errors)).not.toContain(String(clear?.privateJwk?.d));
  });

  it('a running sealing server that finds an injected clear key at its next reload does not sign with it', async () => {
    const clock = testClock();
    const sealed = buildApp(ts.store, { keyEncryptionSecret: SECRET, clock, logger: quiet });
    await seed(sealed.auth);
    const before = kidOf((await issue(sealed)).body.access_token);
    // Injected by whoever can write the store: a clear key made active behind the servers' back.
    const injected = generateSigningKey('ES256', clock.seconds());
    await ts.store.rotateSigningKeys(injected, clock.seconds(), 700);
    expect((await ts.store.getSigningKeys())[0]?.kid).toBe(injected.kid);
    clock.advance(61_000); // past the background reload interval
    // The reload runs in the background (requests meanwhile sign with the cached sealed key):
    // issue until the store shows it done, never with the injected key.
    const kids = new Set<string>();
    let keys = await ts.store.getSigningKeys();
    for (let i = 0; i < 50 && keys.some((k) => k.kid === injected.kid); i++) {
      kids.add(kidOf((await issue(sealed)).body.access_token));
      keys = await ts.store.getSigningKeys();
    }
    kids.add(kidOf((await issue(sealed)).body.access_token));
    expect(kids.has(injected.kid)).toBe(false);
    expect(keys.map((k) => k.kid)).not.toContain(injected.kid);
    expect(keys[0]?.kid).not.toBe(before);
    expect(keys[0]?.sealedPrivateJwk).toMatch(/^v1\./);
  });

  it('a rotation by a sealing server leaves the retired key with its public part only', async () => {
    const a = buildApp(ts.store, { keyEncryptionSecret: SECRET });
    await seed(a.auth);
    expect((await issue(a)).status).toBe(200);
    const [old] = await ts.store.getSigningKeys();
    await a.auth.admin.rotateKeys();
    const retired = (await ts.store.getSigningKeys()).find((k) => k.kid === old?.kid);
    expect(retired?.retiredAt).toEqual(expect.any(Number));
    expect(retired).not.toHaveProperty('sealedPrivateJwk');
    expect(retired).not.toHaveProperty('privateJwk');
    // Still published, so the tokens it signed verify until it expires.
    const jwks = (await request(a.app).get('/oauth2/jwks').expect(200)).body.keys;
    expect(jwks.map((k: { kid: string }) => k.kid)).toContain(old?.kid);
  });
});
