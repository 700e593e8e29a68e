// Token-endpoint rate limits: 429 with an RFC-style body and standard headers; on Redis the limit
// holds across instances sharing the store (RedisStore's rate-limit store).
import { ALICE, APP, buildApp, post, SVC, seed, TOKEN } from '../helpers/app';
import { makeStore, type TestStore } from '../helpers/stores';

describe.each(['memory', 'redis', 'cluster'] as const)('rate limits on %s', (kind) => {
  // Each test has a store of its own (its own key prefix on Redis, so its own limiter counts) and
  // seeds it: any one test passes alone, in any order.
  let ts: TestStore;
  beforeEach(async () => {
    ts = await makeStore(kind, `ratelimit-${kind}`);
  });
  afterEach(() => ts.close());

  it('per client: the request past the limit gets 429 temporarily_unavailable with Retry-After and RateLimit headers', async () => {
    const t = buildApp(ts.store, { rateLimit: { perClient: 3 } });
    await seed(t.auth);
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 5; i++) {
      last = await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(last?.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: expect.any(String),
    });
    expect(Number(last?.headers['retry-after'])).toBeGreaterThan(0);
    expect(last?.headers.ratelimit).toMatch(/r=0/);
    expect(last?.headers['ratelimit-policy']).toBeDefined();
  });

  it('per username for the password grant, whatever the client', async () => {
    const t = buildApp(ts.store, { rateLimit: { perUsername: 2, perClient: 1000 } });
    await seed(t.auth);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push(
        (
          await post(t.app, TOKEN, {
            grant_type: 'password',
            client_id: APP.id,
            ...ALICE,
            password: 'wrong-password',
          })
        ).status,
      );
    }
    expect(statuses).toEqual([400, 400, 429, 429]);
    // Another user is not affected.
    const bob = await post(t.app, TOKEN, {
      grant_type: 'password',
      client_id: APP.id,
      username: 'bob',
      password: 'bob-password',
    });
    expect(bob.status).toBe(200);
  });

  it('per username within a tenant: the same username in another tenant keeps its own count', async () => {
    const t = buildApp(ts.store, { rateLimit: { perUsername: 2, perClient: 1000 } });
    await seed(t.auth);
    const a = t.auth.admin;
    await a.upsertTenant({ id: 'gamma' });
    await a.upsertClient({
      id: 'gamma-app',
      public: true,
      tenantId: 'gamma',
      grants: ['password', 'refresh_token'],
      scopes: [],
    });
    await a.upsertUser({ tenantId: 'gamma', username: 'carol', password: 'gamma-carol-pw' });
    const attempt = (client: string, password: string) =>
      post(t.app, TOKEN, {
        grant_type: 'password',
        client_id: client,
        username: 'carol',
        password,
      });
    // carol of tenant acme is guessed at until limited (acme has no carol: the same 400 as a wrong password).
    const acme = [];
    for (let i = 0; i < 3; i++) acme.push((await attempt(APP.id, 'guess')).status);
    expect(acme).toEqual([400, 400, 429]);
    // carol of tenant gamma still signs in.
    expect((await attempt('gamma-app', 'gamma-carol-pw')).status).toBe(200);
  });

  if (kind !== 'memory') {
    it('two instances on one Redis share the limit', async () => {
      // Two auth servers, each with its own limiter instances, sharing only the store.
      const a = buildApp(ts.store, { rateLimit: { perClient: 4 } });
      const b = buildApp(ts.store, { rateLimit: { perClient: 4 } });
      await seed(a.auth);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          post(
            i % 2 ? a.app : b.app,
            TOKEN,
            { grant_type: 'client_credentials' },
            { id: 'web', secret: 'x'.repeat(16) },
          ),
        ),
      );
      // Same client id on both instances: at most 4 get past the limiter (the rest 429).
      expect(results.filter((r) => r.status !== 429).length).toBe(4);
    });
  }
});
