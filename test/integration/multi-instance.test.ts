// Several auth-server instances on one Redis: shared signing keys, revocation seen by every instance,
// key rotation with the previous public key kept in the JWKS.
import request from 'supertest';
import { buildApp, introspect, refresh, revoke, seed, signIn, type TestApp } from '../helpers/app';
import { makeStore, type TestStore } from '../helpers/stores';

describe.each(['redis', 'cluster'] as const)('instances sharing %s', (kind) => {
  let ts: TestStore;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    ts = await makeStore(kind, `multi-${kind}`);
    a = buildApp(ts.store);
    b = buildApp(ts.store);
    await seed(a.auth);
  });
  afterAll(() => ts.close());

  it('concurrent first starts agree on one signing key', async () => {
    const [ja, jb] = await Promise.all([
      request(a.app).get('/oauth2/jwks'),
      request(b.app).get('/oauth2/jwks'),
    ]);
    expect(ja.body.keys).toHaveLength(1);
    expect(jb.body).toEqual(ja.body);
  });

  it('a token issued by one instance is introspected active by the other; revocation on one is seen by the other at once', async () => {
    const s = await signIn(a.app);
    expect((await introspect(b.app, s.access_token)).active).toBe(true);
    expect((await revoke(b.app, s.refresh_token)).status).toBe(200);
    expect(await introspect(a.app, s.access_token)).toEqual({ active: false });
    expect((await refresh(a.app, s.refresh_token)).body.error).toBe('invalid_grant');
  });

  it('rotateKeys on one instance: new tokens use the new kid, old tokens stay valid, both instances serve both keys', async () => {
    const before = await signIn(a.app);
    const oldKid = (await request(a.app).get('/oauth2/jwks')).body.keys[0].kid;
    const newKid = await a.auth.admin.rotateKeys();
    expect(newKid).not.toBe(oldKid);
    const after = await signIn(a.app);
    const header = JSON.parse(
      Buffer.from(after.access_token.split('.')[0] as string, 'base64url').toString(),
    );
    expect(header.kid).toBe(newKid);
    // b has not reloaded yet: an unknown kid makes it reload once, so the new token verifies.
    expect((await introspect(b.app, after.access_token)).active).toBe(true);
    expect((await introspect(b.app, before.access_token)).active).toBe(true);
    const kids = (await request(b.app).get('/oauth2/jwks')).body.keys.map(
      (k: { kid: string }) => k.kid,
    );
    expect(kids).toEqual([newKid, oldKid]);
  });
});
