// Password hashing: scrypt at N=2^17 r=8 p=1 by default, older hashes upgraded at the next successful
// sign-in (compare-and-set), and at most maxConcurrent scrypt computations at once (a full queue: 503).
import { ConfigError, createAuthServer, MemoryStore, type UserRecord } from '../../lib';
import * as secrets from '../../lib/tokens/secrets';
import {
  ALICE,
  APP,
  buildApp,
  INTROSPECT,
  post,
  RS,
  SVC,
  seed,
  signIn,
  TOKEN,
} from '../helpers/app';

afterEach(() => jest.restoreAllMocks());

describe('password hashing', () => {
  it('a cost below the default is warned about once; outside 14-20 is a ConfigError', () => {
    const warnings: string[] = [];
    const logger = { error: () => {}, warn: (_f: unknown, m: string) => void warnings.push(m) };
    const issuer = 'http://localhost:4000';
    createAuthServer({ issuer, logger, passwordHashing: { scryptCost: 17 } });
    expect(warnings).toEqual([]);
    createAuthServer({ issuer, logger, passwordHashing: { scryptCost: 15 } });
    expect(warnings).toEqual([expect.stringMatching(/scryptCost is below 17/)]);
    for (const scryptCost of [13, 21, 16.5])
      expect(() => createAuthServer({ issuer, passwordHashing: { scryptCost } })).toThrow(
        ConfigError,
      );
    expect(() =>
      createAuthServer({ issuer, passwordHashing: { scryptCots: 15 } as never }),
    ).toThrow(/did you mean "scryptCost"/);
  });

  it('by default new hashes are scrypt N=2^17, r=8, p=1', async () => {
    const store = new MemoryStore();
    const auth = createAuthServer({ issuer: 'http://localhost:4000', store });
    await auth.admin.upsertTenant({ id: 'acme' });
    await auth.admin.upsertUser({ tenantId: 'acme', username: 'dana', password: 'dana-password' });
    const stored = (await store.getUser('acme', 'dana'))?.passwordHash ?? '';
    expect(stored).toMatch(/^scrypt\$131072\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(await secrets.verifySecret('dana-password', stored)).toBe(true);
  });

  it('a hash made at a lower cost still verifies and is upgraded at the next successful sign-in only', async () => {
    const store = new MemoryStore();
    const t = buildApp(store, { passwordHashing: { scryptCost: 15 } });
    await seed(t.auth);
    const old = await secrets.hashSecret(ALICE.password, 14);
    const alice = (await store.getUser('acme', ALICE.username)) as UserRecord;
    await store.putUser({ ...alice, passwordHash: old });
    // A failed sign-in changes nothing.
    const wrong = await post(t.app, TOKEN, {
      grant_type: 'password',
      client_id: APP.id,
      ...ALICE,
      password: 'not-her-password',
    });
    expect(wrong.status).toBe(400);
    expect((await store.getUser('acme', ALICE.username))?.passwordHash).toBe(old);
    await signIn(t.app);
    const upgraded = (await store.getUser('acme', ALICE.username))?.passwordHash ?? '';
    expect(upgraded).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await secrets.verifySecret(ALICE.password, upgraded)).toBe(true);
    expect({ ...(await store.getUser('acme', ALICE.username)), passwordHash: '' }).toEqual({
      ...alice,
      passwordHash: '',
    });
    // Already at the current cost: the next sign-in hashes nothing more.
    const hash = jest.spyOn(secrets, 'hashSecret');
    await signIn(t.app);
    expect(hash).not.toHaveBeenCalled();
    expect((await store.getUser('acme', ALICE.username))?.passwordHash).toBe(upgraded);
  });

  it('the upgrade never overwrites a password changed between the check and the write', async () => {
    const store = new MemoryStore();
    const t = buildApp(store, { passwordHashing: { scryptCost: 15 } });
    await seed(t.auth);
    const alice = (await store.getUser('acme', ALICE.username)) as UserRecord;
    await store.putUser({ ...alice, passwordHash: await secrets.hashSecret(ALICE.password, 14) });
    const upgrade = store.upgradePasswordHash.bind(store);
    jest.spyOn(store, 'upgradePasswordHash').mockImplementation(async (...args) => {
      // An admin changes the password while the sign-in re-hashes the old one.
      await store.putUser({ ...alice, passwordHash: await secrets.hashSecret('brand-new-pw', 14) });
      return upgrade(...args);
    });
    await signIn(t.app);
    const stored = (await store.getUser('acme', ALICE.username))?.passwordHash ?? '';
    expect(await secrets.verifySecret('brand-new-pw', stored)).toBe(true);
    expect(await secrets.verifySecret(ALICE.password, stored)).toBe(false);
  });

  it('a flood of wrong secrets: at most maxConcurrent scrypt computations at once; past the queue, 503 with Retry-After', async () => {
    const t = buildApp(new MemoryStore(), {
      passwordHashing: { scryptCost: 14, maxConcurrent: 2, maxQueued: 4 },
    });
    await seed(t.auth);
    // Every check waits at a gate opened once the 18 refusals are in: no check can finish early
    // and free its slot, so exactly 2 run, 4 wait and the rest are refused (no timing involved).
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let running = 0;
    let peak = 0;
    const verify = secrets.verifySecret;
    const spy = jest.spyOn(secrets, 'verifySecret').mockImplementation(async (secret, stored) => {
      running++;
      peak = Math.max(peak, running);
      try {
        await gate;
        return await verify(secret, stored);
      } finally {
        running--;
      }
    });
    const wrong = (i: number) =>
      post(t.app, INTROSPECT, { token: 'x' }, { id: RS.id, secret: `wrong-secret-${i}` });
    const password = (i: number) =>
      post(t.app, TOKEN, {
        grant_type: 'password',
        client_id: APP.id,
        ...ALICE,
        password: `guess-${i}`,
      });
    let refusedSoFar = 0;
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        (i % 2 ? wrong(i) : password(i)).then((r) => {
          if (r.status === 503 && ++refusedSoFar === 18) open();
          return r;
        }),
      ),
    );
    expect(peak).toBe(2);
    const statuses = answers.map((r) => r.status);
    // 2 running + 4 queued got their (failed) check; the rest were refused without one.
    expect(statuses.filter((s) => s === 401 || s === 400)).toHaveLength(6);
    expect(spy).toHaveBeenCalledTimes(6);
    const refused = answers.filter((r) => r.status === 503);
    expect(refused).toHaveLength(18);
    for (const r of refused) {
      expect(r.body.error).toBe('temporarily_unavailable');
      expect(r.headers['retry-after']).toBe('1');
    }
    // Once the flood has passed, the right secret is checked again.
    expect((await post(t.app, INTROSPECT, { token: 'x' }, RS)).body).toEqual({ active: false });
  });

  it('a client starting with many requests in flight: concurrent checks of its secret share one scrypt, none is refused', async () => {
    const t = buildApp(new MemoryStore(), {
      passwordHashing: { scryptCost: 14, maxConcurrent: 2, maxQueued: 4 },
    });
    await seed(t.auth);
    const spy = jest.spyOn(secrets, 'verifySecret');
    const answers = await Promise.all(
      Array.from({ length: 40 }, () =>
        post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC),
      ),
    );
    expect(answers.map((r) => r.status)).toStrictEqual(Array(40).fill(200));
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
  });
});
