// Prometheus metrics: event counters, latency histograms and the store gauge served by metricsHandler(), on the auth server and the guard.
import express, { type Express } from 'express';
import { Registry, register } from 'prom-client';
import request from 'supertest';
import {
  ConfigError,
  createAuthServer,
  createGuard,
  type Logger,
  MemoryStore,
  type Store,
  StoreUnavailableError,
} from '../../lib';
import {
  ALICE,
  APP,
  BOB,
  ISSUER,
  post,
  refresh,
  revoke,
  SVC,
  seed,
  signIn,
  TOKEN,
} from '../helpers/app';
import { guardedApp, seedScopes } from '../helpers/guard';
import { TEST_HASHING } from '../helpers/hashing';

// Not covered: `metrics: true` without prom-client installed must throw ConfigError
// (lib/metrics.ts loadPromClient). prom-client is a dev dependency here and cannot be uninstalled
// for one test, and module mocks would test the mock rather than the package resolution.

const quiet: Logger = { error: () => {} };

/** The value of one sample of Prometheus text, matching every label given; undefined when absent. */
function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/** Scrape `/metrics` of `app` and return a reader of sample values (0 when absent). */
async function scrape(app: Express) {
  const res = await request(app).get('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return {
    text: res.text,
    value: (name: string, labels: Record<string, string> = {}) =>
      sample(res.text, name, labels) ?? 0,
  };
}

/** Sample deltas between two scrapes around `action`. */
async function delta(app: Express, action: () => Promise<unknown>) {
  const before = await scrape(app);
  await action();
  const after = await scrape(app);
  return (name: string, labels: Record<string, string> = {}) =>
    after.value(name, labels) - before.value(name, labels);
}

const EVENTS = 'tokenward_auth_events_total';
const DURATION_COUNT = 'tokenward_auth_request_duration_seconds_count';
const STORE_UP = 'tokenward_auth_store_up';
const GUARD_EVENTS = 'tokenward_guard_events_total';
const GUARD_COUNT = 'tokenward_guard_request_duration_seconds_count';

/** A store whose every method fails with StoreUnavailableError while `fault.down` is set. */
function switchable(inner: Store, fault: { down: boolean }): Store {
  return new Proxy(inner, {
    get(target, prop) {
      const member = Reflect.get(target, prop, target);
      if (typeof member !== 'function') return member;
      return (...args: unknown[]) =>
        fault.down
          ? Promise.reject(new StoreUnavailableError('store down (test)'))
          : member.apply(target, args);
    },
  });
}

const cc = (app: Express) => post(app, TOKEN, { grant_type: 'client_credentials' }, SVC);

describe('auth server metrics (metrics: true)', () => {
  const memory = new MemoryStore();
  const fault = { down: false };
  const auth = createAuthServer({
    issuer: ISSUER,
    store: switchable(memory, fault),
    rateLimit: false,
    passwordHashing: TEST_HASHING,
    clientCacheTtl: 0,
    logger: quiet,
    metrics: true,
  });
  const app = express();
  app.get('/metrics', auth.metricsHandler());
  app.use(auth.router());

  beforeAll(() => seed(auth));
  afterAll(() => memory.close());

  it('serves Prometheus text with the counter, the histogram and the gauge described', async () => {
    const { text } = await scrape(app);
    expect(text).toContain(`# TYPE ${EVENTS} counter`);
    expect(text).toContain('# TYPE tokenward_auth_request_duration_seconds histogram');
    expect(text).toContain(`# TYPE ${STORE_UP} gauge`);
    expect(sample(text, STORE_UP)).toBe(1);
  });

  it('token.issued {detail: client_credentials} and the token-endpoint durations move by the number of issues', async () => {
    const d = await delta(app, async () => {
      for (let i = 0; i < 3; i++) expect((await cc(app)).status).toBe(200);
    });
    expect(d(EVENTS, { event: 'token.issued', detail: 'client_credentials' })).toBe(3);
    expect(d(EVENTS, { event: 'token.issued', detail: 'password' })).toBe(0);
    expect(d(DURATION_COUNT, { endpoint: 'token', status: '200' })).toBe(3);
    expect(
      d('tokenward_auth_request_duration_seconds_bucket', { endpoint: 'token', le: '+Inf' }),
    ).toBe(3);
    const p = await delta(app, () => signIn(app));
    expect(p(EVENTS, { event: 'token.issued', detail: 'password' })).toBe(1);
    expect(p(EVENTS, { event: 'token.issued', detail: 'client_credentials' })).toBe(0);
  });

  it('every other event counts under its name, with its bounded detail label', async () => {
    const session = await signIn(app);
    const d = await delta(app, async () => {
      expect(
        (await post(app, TOKEN, { grant_type: 'client_credentials' }, { ...SVC, secret: 'no' }))
          .status,
      ).toBe(401);
      expect(
        (
          await post(app, TOKEN, {
            grant_type: 'password',
            client_id: APP.id,
            username: BOB.username,
            password: 'not-bobs',
          })
        ).status,
      ).toBe(400);
      const next = await refresh(app, session.refresh_token);
      expect(next.status).toBe(200);
      expect((await refresh(app, session.refresh_token)).status).toBe(400); // reuse
      expect((await revoke(app, next.body.access_token)).status).toBe(200);
      await auth.admin.rotateKeys();
    });
    expect(d(EVENTS, { event: 'client_auth.failed', detail: 'token' })).toBe(1);
    expect(d(EVENTS, { event: 'password.failed', detail: '' })).toBe(1);
    expect(d(EVENTS, { event: 'token.refreshed', detail: '' })).toBe(1);
    expect(d(EVENTS, { event: 'refresh.reused', detail: '' })).toBe(1);
    expect(d(EVENTS, { event: 'family.revoked', detail: 'reuse' })).toBe(1);
    expect(d(EVENTS, { event: 'access_token.revoked', detail: 'revocation' })).toBe(1);
    expect(d(EVENTS, { event: 'keys.rotated', detail: '' })).toBe(1);
    expect(d(DURATION_COUNT, { endpoint: 'token', status: '401' })).toBe(1);
    expect(d(DURATION_COUNT, { endpoint: 'revocation', status: '200' })).toBe(1);
  });

  it('store_up is 0 after a store failure and 1 after the next success', async () => {
    fault.down = true;
    const failed = await delta(app, async () => expect((await cc(app)).status).toBe(503));
    expect(failed(EVENTS, { event: 'store.unavailable', detail: 'token' })).toBe(1);
    expect(failed(DURATION_COUNT, { endpoint: 'token', status: '503' })).toBe(1);
    expect((await scrape(app)).value(STORE_UP)).toBe(0);
    fault.down = false;
    expect((await cc(app)).status).toBe(200);
    expect((await scrape(app)).value(STORE_UP)).toBe(1);
  });

  it('store_up stays 0 after a failure when the next answer never reached the store', async () => {
    fault.down = true;
    try {
      expect((await cc(app)).status).toBe(503);
      expect((await scrape(app)).value(STORE_UP)).toBe(0);
      // Refused before any store call: says nothing about the store.
      const bad = await post(app, TOKEN, { grant_type: 'urn:example:unknown' }, SVC);
      expect(bad.status).toBe(400);
      expect((await scrape(app)).value(STORE_UP)).toBe(0);
    } finally {
      fault.down = false;
    }
  });

  it('metrics are off unless asked for: metricsHandler() then throws ConfigError', async () => {
    const plain = createAuthServer({ issuer: ISSUER, store: memory, logger: quiet });
    expect(() => plain.metricsHandler()).toThrow(ConfigError);
    const off = createAuthServer({ issuer: ISSUER, store: memory, logger: quiet, metrics: false });
    expect(() => off.metricsHandler()).toThrow(ConfigError);
    const guard = createGuard({ issuer: ISSUER, store: memory, logger: quiet });
    expect(() => guard.metricsHandler()).toThrow(ConfigError);
  });

  it('metrics: true uses a registry of its own, never the global one, so two servers do not clash', async () => {
    const second = createAuthServer({
      issuer: ISSUER,
      store: memory,
      logger: quiet,
      metrics: true,
    });
    const guards = [1, 2].map(() =>
      createGuard({ issuer: ISSUER, store: memory, logger: quiet, metrics: true }),
    );
    expect(register.getSingleMetric(EVENTS)).toBeUndefined();
    expect(register.getSingleMetric(GUARD_EVENTS)).toBeUndefined();
    // The second server counts apart from the first.
    const other = express();
    other.get('/metrics', second.metricsHandler());
    other.use(second.router());
    expect((await cc(other)).status).toBe(200);
    expect(
      (await scrape(other)).value(EVENTS, { event: 'token.issued', detail: 'client_credentials' }),
    ).toBe(1);
    for (const g of guards) expect(typeof g.metricsHandler()).toBe('function');
  });
});

describe('guard metrics', () => {
  const store = new MemoryStore();
  const auth = createAuthServer({
    issuer: ISSUER,
    store,
    rateLimit: false,
    passwordHashing: TEST_HASHING,
    logger: quiet,
  });
  const guard = createGuard({ issuer: ISSUER, store, logger: quiet, metrics: true });
  const tokens = express();
  tokens.use(auth.router());
  const api = guardedApp(guard);
  api.get('/metrics', guard.metricsHandler());

  beforeAll(async () => {
    await seed(auth);
    await seedScopes(auth);
  });
  afterAll(() => store.close());

  it('token.rejected {detail: reason}, token.accepted, access.denied and the duration histogram by outcome', async () => {
    const alice = await signIn(tokens, ALICE);
    const bob = await signIn(tokens, BOB);
    const bearer = (path: string, token: string) =>
      request(api).get(path).set('Authorization', `Bearer ${token}`);
    const d = await delta(api, async () => {
      expect((await bearer('/me', 'not-a-token')).status).toBe(401);
      expect((await bearer('/me', `${alice.access_token}x`)).status).toBe(401);
      expect((await request(api).get('/me')).status).toBe(401);
      expect((await request(api).get('/me?access_token=abc')).status).toBe(400);
      expect((await bearer('/me', alice.access_token)).status).toBe(200);
      expect((await bearer('/print', bob.access_token)).status).toBe(403);
    });
    expect(d(GUARD_EVENTS, { event: 'token.rejected', detail: 'invalid' })).toBe(2);
    expect(d(GUARD_EVENTS, { event: 'token.rejected', detail: 'missing' })).toBe(1);
    expect(d(GUARD_EVENTS, { event: 'token.rejected', detail: 'malformed' })).toBe(1);
    expect(d(GUARD_EVENTS, { event: 'token.accepted', detail: '' })).toBe(2);
    expect(d(GUARD_EVENTS, { event: 'access.denied', detail: '' })).toBe(1);
    expect(d(GUARD_COUNT, { outcome: 'invalid' })).toBe(2);
    expect(d(GUARD_COUNT, { outcome: 'missing' })).toBe(1);
    expect(d(GUARD_COUNT, { outcome: 'malformed' })).toBe(1);
    expect(d(GUARD_COUNT, { outcome: 'accepted' })).toBe(2);
  });

  it('a guard whose store is down counts token.rejected {detail: unavailable} and outcome unavailable', async () => {
    const fault = { down: true };
    const down = createGuard({
      issuer: ISSUER,
      store: switchable(store, fault),
      logger: quiet,
      metrics: true,
    });
    const app = guardedApp(down);
    app.get('/metrics', down.metricsHandler());
    const token = (await signIn(tokens)).access_token;
    const d = await delta(app, async () => {
      expect((await request(app).get('/me').set('Authorization', `Bearer ${token}`)).status).toBe(
        503,
      );
    });
    expect(d(GUARD_EVENTS, { event: 'token.rejected', detail: 'unavailable' })).toBe(1);
    expect(d(GUARD_COUNT, { outcome: 'unavailable' })).toBe(1);
  });
});

describe('one registry shared by the auth server and the guard', () => {
  const store = new MemoryStore();
  afterAll(() => store.close());

  it('both register their metrics in it without a name clash; one /metrics serves both', async () => {
    const registry = new Registry();
    const auth = createAuthServer({
      issuer: ISSUER,
      store,
      rateLimit: false,
      logger: quiet,
      metrics: { registry },
    });
    const guard = createGuard({ issuer: ISSUER, store, logger: quiet, metrics: { registry } });
    await seed(auth);
    const app = express();
    app.use(auth.router());
    app.use(guardedApp(guard));
    app.get('/metrics', auth.metricsHandler());
    const d = await delta(app, async () => {
      expect((await cc(app)).status).toBe(200);
      expect((await request(app).get('/me').set('Authorization', 'Bearer nope')).status).toBe(401);
    });
    expect(d(EVENTS, { event: 'token.issued', detail: 'client_credentials' })).toBe(1);
    expect(d(GUARD_EVENTS, { event: 'token.rejected', detail: 'invalid' })).toBe(1);
    expect(registry.getSingleMetric(EVENTS)).toBeDefined();
    expect(registry.getSingleMetric(GUARD_EVENTS)).toBeDefined();
    expect(registry.getSingleMetric(STORE_UP)).toBeDefined();
    // The guard's handler serves the same registry.
    const viaGuard = await request(express().get('/metrics', guard.metricsHandler())).get(
      '/metrics',
    );
    expect(
      sample(viaGuard.text, EVENTS, { event: 'token.issued', detail: 'client_credentials' }),
    ).toBe(1);
  });
});
