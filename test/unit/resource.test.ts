// Resource servers (RFC 8707): which URIs can be registered, what resolveResource grants, and the
// admin API and guard options that carry them.
import {
  ConfigError,
  createAuthServer,
  createGuard,
  MemoryStore,
  ValidationError,
} from '../../lib';
import type { ServerContext } from '../../lib/server/context';
import { resolveResource, resourceUriProblem } from '../../lib/server/resource';
import { TEST_HASHING } from '../helpers/hashing';

describe('resourceUriProblem', () => {
  it.each([
    'https://print.example',
    'https://print.example/',
    'https://api.example/v1/print',
    'https://api.example:8443/a%20b',
    'http://localhost:4100/print',
    'http://127.0.0.1:4100',
    'http://[::1]:4100',
  ])('accepts %s', (uri) => {
    expect(resourceUriProblem(uri)).toBeUndefined();
  });

  it.each([
    [undefined, 'at most 1024'],
    ['', 'at most 1024'],
    [`https://${'a'.repeat(1020)}.example`, 'at most 1024'],
    ['print.example', 'not an absolute URL'],
    ['https:print.example', 'https'],
    ['ftp://print.example', 'https'],
    ['http://print.example', 'http only for localhost'],
    ['urn:example:print', 'https'],
    ['https://print.example?tenant=a', 'no query or fragment'],
    ['https://print.example#top', 'no query or fragment'],
    ['https://user:pw@print.example', 'no user info'],
    ['https://@print.example', 'no user info'],
    ['https://print.example/a b', 'no spaces'],
    ['https://prïnt.example', 'non-ASCII'],
    ['https://print.example/"x"', 'quotes'],
  ])('refuses %j (%s)', (uri, why) => {
    expect(resourceUriProblem(uri)).toContain(why);
  });
});

describe('resolveResource', () => {
  const store = new MemoryStore();
  const ctx = { config: { audience: 'https://auth.example' }, store } as unknown as ServerContext;
  beforeAll(async () => {
    await store.putScope({ name: 'print', service: 'print', roleCheck: false, roles: [] });
    await store.putScope({ name: 'scan', service: 'scan', roleCheck: false, roles: [] });
    await store.putScope({ name: 'plain', roleCheck: false, roles: [] });
    await store.putResource({ uri: 'https://print.example', services: ['print', 'fax'] });
  });
  afterAll(() => store.close());

  it('without a resource: the server audience and the scopes as given, and no store read', async () => {
    const spy = jest.spyOn(store, 'getResource');
    expect(await resolveResource(ctx, undefined, ['print', 'plain'])).toEqual({
      audience: 'https://auth.example',
      scopes: ['print', 'plain'],
    });
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });

  it('with a registered resource: its URI as audience, and only the scopes of its services', async () => {
    expect(
      await resolveResource(ctx, 'https://print.example', ['scan', 'print', 'plain', 'unknown']),
    ).toEqual({
      audience: 'https://print.example',
      scopes: ['print'],
      resource: 'https://print.example',
    });
  });

  it('no scopes asked or allowed: a token for the resource with none', async () => {
    expect(await resolveResource(ctx, 'https://print.example', [])).toEqual({
      audience: 'https://print.example',
      scopes: [],
      resource: 'https://print.example',
    });
  });

  it.each([
    ['unregistered', 'https://scan.example', ['scan']],
    ['serving none of the scopes', 'https://print.example', ['scan', 'plain']],
    ['relative', 'print.example', ['print']],
    ['with a fragment', 'https://print.example#x', ['print']],
    ['too long', `https://${'p'.repeat(1100)}`, ['print']],
  ])('%s → OAuthError invalid_target (400)', async (_name, requested, scopes) => {
    await expect(resolveResource(ctx, requested, scopes)).rejects.toMatchObject({
      error: 'invalid_target',
      status: 400,
    });
  });
});

describe('auth.admin resources', () => {
  const store = new MemoryStore();
  const { admin } = createAuthServer({
    issuer: 'http://localhost:4000',
    store,
    passwordHashing: TEST_HASHING,
  });
  afterAll(() => store.close());

  it('upsertResource stores the record (services deduplicated) and returns it; get, list, delete', async () => {
    const saved = await admin.upsertResource({
      uri: 'https://print.example',
      services: ['print', 'print', 'fax'],
      name: 'Cloud Print',
    });
    expect(saved).toEqual({
      uri: 'https://print.example',
      services: ['print', 'fax'],
      name: 'Cloud Print',
    });
    expect(await admin.getResource('https://print.example')).toEqual(saved);
    expect(await admin.listResources()).toEqual([saved]);
    expect(await admin.deleteResource('https://print.example')).toBe(true);
    expect(await admin.deleteResource('https://print.example')).toBe(false);
    expect(await admin.listResources()).toEqual([]);
  });

  it.each([
    [
      'an unknown field',
      { uri: 'https://a.example', services: ['a'], scopes: [] },
      'resource.scopes',
    ],
    ['no services', { uri: 'https://a.example', services: [] }, 'resource.services'],
    ['services missing', { uri: 'https://a.example' }, 'resource.services'],
    ['a bad service name', { uri: 'https://a.example', services: ['a b'] }, 'resource.services'],
    ['a bad URI', { uri: 'https://a.example?x', services: ['a'] }, 'resource.uri'],
    ['a URI that is not a string', { uri: 42, services: ['a'] }, 'resource.uri'],
    [
      'a control character in the name',
      { uri: 'https://a.example', services: ['a'], name: 'a\u0007' },
      'resource.name',
    ],
  ])('%s → ValidationError naming %s, nothing stored', async (_n, input, field) => {
    const err = await admin.upsertResource(input as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    expect(await admin.listResources()).toEqual([]);
  });
});

describe('createGuard resourceMetadata option', () => {
  const store = new MemoryStore();
  afterAll(() => store.close());
  const guard = (resourceMetadata: unknown) =>
    createGuard({ issuer: 'https://auth.example', store, resourceMetadata } as never);

  it('accepts scopesSupported and resourceName', () => {
    expect(() => guard({ scopesSupported: ['print'], resourceName: 'Print' })).not.toThrow();
  });

  it.each([
    [{ scopeSupported: ['print'] }, /did you mean "scopesSupported"/],
    [{ scopesSupported: 'print' }, /scopesSupported/],
    [{ scopesSupported: ['a b'] }, /scopesSupported/],
    [{ resourceName: '' }, /resourceName/],
    ['yes', /must be an object/],
  ])('refuses %j with a ConfigError', (value, message) => {
    expect(() => guard(value)).toThrow(ConfigError);
    expect(() => guard(value)).toThrow(message);
  });
});
