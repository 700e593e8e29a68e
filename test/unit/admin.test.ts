// Admin API validation: clear ValidationErrors, no hashes in views, secrets and passwords kept on update.
import { createAuthServer, MemoryStore, ValidationError } from '../../lib';
import { TEST_HASHING } from '../helpers/hashing';

describe('auth.admin', () => {
  const store = new MemoryStore();
  const auth = createAuthServer({
    issuer: 'http://localhost:4000',
    store,
    passwordHashing: TEST_HASHING,
  });
  const a = auth.admin;
  beforeAll(async () => {
    await a.upsertTenant({ id: 'acme' });
  });
  afterAll(() => store.close());

  it.each([
    ['tenant id with a brace', () => a.upsertTenant({ id: 'ac{me}' }), /tenant.id/],
    [
      'unknown tenant field',
      () => a.upsertTenant({ id: 'x', localUsrMode: true } as never),
      /unknown field/,
    ],
    [
      'client of an unknown tenant',
      () =>
        a.upsertClient({
          id: 'c',
          tenantId: 'nope',
          secret: 's'.repeat(16),
          grants: ['client_credentials'],
        }),
      /does not exist/,
    ],
    [
      'client with a short secret',
      () =>
        a.upsertClient({
          id: 'c',
          tenantId: 'acme',
          secret: 'short',
          grants: ['client_credentials'],
        }),
      /16-1024/,
    ],
    [
      'new confidential client without secret',
      () => a.upsertClient({ id: 'c2', tenantId: 'acme', grants: ['client_credentials'] }),
      /required/,
    ],
    [
      'public client with client_credentials',
      () =>
        a.upsertClient({ id: 'p', tenantId: 'acme', public: true, grants: ['client_credentials'] }),
      /public client/,
    ],
    [
      'public client with a secret',
      () =>
        a.upsertClient({
          id: 'p',
          tenantId: 'acme',
          public: true,
          secret: 's'.repeat(16),
          grants: ['password'],
        }),
      /no secret/,
    ],
    [
      'unknown grant type',
      () =>
        a.upsertClient({
          id: 'c',
          tenantId: 'acme',
          secret: 's'.repeat(16),
          grants: ['implicit' as never],
        }),
      /not one of/,
    ],
    [
      'no grants',
      () => a.upsertClient({ id: 'c', tenantId: 'acme', secret: 's'.repeat(16), grants: [] }),
      /at least one/,
    ],
    [
      'bad scope token',
      () =>
        a.upsertClient({
          id: 'c',
          tenantId: 'acme',
          secret: 's'.repeat(16),
          grants: ['password'],
          scopes: ['a b'],
        }),
      /not a valid scope/,
    ],
    [
      'user with a short password',
      () => a.upsertUser({ tenantId: 'acme', username: 'u', password: 'short' }),
      /8-1024/,
    ],
    [
      'username with surrounding spaces',
      () => a.upsertUser({ tenantId: 'acme', username: ' u ', password: 'long-enough' }),
      /surrounding/,
    ],
    [
      'roleCheck without roles',
      () => a.upsertScope({ name: 'print', roleCheck: true }),
      /at least one role/,
    ],
  ])('rejects %s', async (_name, call, message) => {
    await expect(call()).rejects.toThrow(ValidationError);
    await expect(call()).rejects.toThrow(message);
  });

  it('a user may have no password (they sign in through the host login); one can be given later', async () => {
    const user = await a.upsertUser({ tenantId: 'acme', username: 'nopass' });
    expect(user).toEqual({ tenantId: 'acme', username: 'nopass', roles: [] });
    // Giving one later works, and is a new password (its grants end, none here).
    expect(
      await a.upsertUser({ tenantId: 'acme', username: 'nopass', password: 'long-enough' }),
    ).toEqual(user);
  });

  it('never returns secret or password hashes, and keeps them when an update omits them', async () => {
    const c = await a.upsertClient({
      id: 'svc',
      tenantId: 'acme',
      secret: 'svc-secret-0123456789',
      grants: ['client_credentials'],
    });
    expect(c).not.toHaveProperty('secretHash');
    expect(c.public).toBe(false);
    const before = (await store.getClient('svc'))?.secretHash;
    expect(before).toMatch(/^scrypt\$/);
    await a.upsertClient({
      id: 'svc',
      tenantId: 'acme',
      grants: ['client_credentials'],
      scopes: ['print'],
    });
    expect((await store.getClient('svc'))?.secretHash).toBe(before);
    const u = await a.upsertUser({
      tenantId: 'acme',
      username: 'alice',
      password: 'alice-password',
      roles: ['printer'],
    });
    expect(u).toEqual({ tenantId: 'acme', username: 'alice', roles: ['printer'] });
    const hash = (await store.getUser('acme', 'alice'))?.passwordHash;
    await a.upsertUser({ tenantId: 'acme', username: 'alice', roles: [] });
    expect((await store.getUser('acme', 'alice'))?.passwordHash).toBe(hash);
    expect((await a.listUsers('acme')).every((x) => !('passwordHash' in x))).toBe(true);
    expect((await a.listClients()).every((x) => !('secretHash' in x))).toBe(true);
  });

  it('refuses to delete a tenant that still has clients; deletes return whether something was removed', async () => {
    await expect(a.deleteTenant('acme')).rejects.toThrow(/still has clients/);
    expect(await a.deleteClient('svc')).toBe(true);
    expect(await a.deleteClient('svc')).toBe(false);
    await a.upsertScope({ name: 'scan', service: 'scan' });
    expect(await a.getScope('scan')).toEqual({
      name: 'scan',
      service: 'scan',
      roleCheck: false,
      roles: [],
    });
    expect(await a.deleteScope('scan')).toBe(true);
  });
});
