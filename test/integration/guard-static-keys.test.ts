// Local-mode guards when the authorization server signs with keys given in options (not kept in the store).
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import request from 'supertest';
import { ConfigError, createGuard, MemoryStore } from '../../lib';
import { seed, signIn } from '../helpers/app';
import { guardedApp, type LiveAuthServer, startAuthServer } from '../helpers/guard';

describe('guard keys option (local mode)', () => {
  const store = new MemoryStore();
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  let live: LiveAuthServer;
  let token: string;

  beforeAll(async () => {
    live = await startAuthServer(store, { keys: [{ privateKey, alg: 'ES384' }] });
    await seed(live.auth);
    token = (await signIn(live.app)).access_token;
  });
  afterAll(async () => {
    await live.close();
    await store.close();
  });

  const call = (keys?: Parameters<typeof createGuard>[0]['keys']) =>
    request(guardedApp(createGuard({ issuer: live.issuer, store, ...(keys ? { keys } : {}) })))
      .get('/me')
      .set('Authorization', `Bearer ${token}`);

  it('verifies with the public key given as PEM, JWK or KeyObject', async () => {
    const pub = createPublicKey(privateKey);
    for (const key of [
      pub.export({ type: 'spki', format: 'pem' }) as string,
      pub.export({ format: 'jwk' }),
      pub,
    ])
      expect((await call([{ key }])).status).toBe(200);
  });

  it('refuses every token without them: the store holds no keys of a static-key server', async () => {
    expect((await call()).status).toBe(401);
  });

  it('refuses tokens when given another key', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    expect((await call([{ key: other }])).status).toBe(401);
  });

  it('rejects keys that are not keys, or do not fit their algorithm, at creation', () => {
    expect(() => createGuard({ issuer: live.issuer, store, keys: [{ key: 'nope' }] })).toThrow(
      ConfigError,
    );
    expect(() =>
      createGuard({ issuer: live.issuer, store, keys: [{ key: privateKey, alg: 'ES256' }] }),
    ).toThrow(ConfigError);
    expect(() =>
      createGuard({
        issuer: live.issuer,
        introspection: { clientId: 'a', clientSecret: 'b' },
        keys: [{ key: privateKey }],
      }),
    ).toThrow(ConfigError);
  });
});
