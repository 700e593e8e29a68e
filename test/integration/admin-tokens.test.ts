// auth.admin.introspectToken / revokeToken: operator actions on any token, whatever client holds it.
import { MemoryStore } from '../../lib';
import { buildApp, refresh, seed, signIn, type TestApp } from '../helpers/app';

describe('admin token actions', () => {
  const store = new MemoryStore();
  let t: TestApp;
  beforeAll(async () => {
    t = buildApp(store);
    await seed(t.auth);
  });
  afterAll(() => store.close());

  it('introspectToken answers as the introspection endpoint does', async () => {
    const s = await signIn(t.app);
    expect(await t.auth.admin.introspectToken(s.access_token)).toMatchObject({
      active: true,
      sub: 'alice',
      client_id: 'app',
      token_type: 'Bearer',
    });
    expect(await t.auth.admin.introspectToken(s.refresh_token)).toMatchObject({
      active: true,
      token_type: 'refresh_token',
    });
    expect(await t.auth.admin.introspectToken('garbage')).toStrictEqual({ active: false });
  });

  it('revokeToken with a refresh token revokes the family; with an access token, that token', async () => {
    const a = await signIn(t.app);
    const b = await signIn(t.app);
    expect(await t.auth.admin.revokeToken(a.access_token)).toBe(true);
    expect((await t.auth.admin.introspectToken(a.access_token)).active).toBe(false);
    expect((await t.auth.admin.introspectToken(a.refresh_token)).active).toBe(true);
    expect(await t.auth.admin.revokeToken(b.refresh_token)).toBe(true);
    expect((await t.auth.admin.introspectToken(b.access_token)).active).toBe(false);
    expect((await refresh(t.app, b.refresh_token)).status).toBe(400);
    expect(await t.auth.admin.revokeToken('not-a-token')).toBe(false);
  });
});
