// keyEncryptionSecret: private signing keys sealed in the store, so that a dump of it cannot mint tokens.
import { createLocalJWKSet, jwtVerify } from 'jose';
import request from 'supertest';
import { ConfigError, createAuthServer } from '../../lib';
import { KeySealer } from '../../lib/tokens/key-sealing';
import { buildApp, post, SVC, seed, TOKEN } from '../helpers/app';
import { makeStore, type TestStore } from '../helpers/stores';

const SECRET = 'k'.repeat(16) + 'e'.repeat(16);
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

describe.each(['redis', 'memory'] as const)('sealed signing keys on %s', (kind) => {
  let ts: TestStore;
  beforeEach(async () => {
    ts = await makeStore(kind, `key-sealing-${kind}`);
  });
  afterEach(() => ts.close());

  const issue = async (t: ReturnType<typeof buildApp>) =>
    post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC);

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
    for (const options of [{ keyEncryptionSecret: OTHER, logger }, { logger }]) {
      const c = buildApp(ts.store, options);
      const res = await issue(c);
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: 'server_error', error_description: expect.any(String) });
      expect(JSON.stringify(res.body)).not.toMatch(/sealed|secret/);
    }
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(await ts.snapshot()).toBe(before);
  });

  it('a key stored in the clear keeps signing once a secret is set; the next rotation seals', async () => {
    const plain = buildApp(ts.store);
    await seed(plain.auth);
    expect((await issue(plain)).status).toBe(200);
    expect((await ts.store.getSigningKeys())[0]?.privateJwk).toBeDefined();
    const sealed = buildApp(ts.store, { keyEncryptionSecret: SECRET });
    expect((await issue(sealed)).status).toBe(200);
    const kid = await sealed.auth.admin.rotateKeys();
    const current = (await ts.store.getSigningKeys()).find((k) => k.kid === kid);
    expect(current?.sealedPrivateJwk).toMatch(/^v1\./);
    expect((await issue(sealed)).status).toBe(200);
  });
});
