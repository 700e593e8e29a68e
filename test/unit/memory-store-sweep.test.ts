// MemoryStore stays bounded: expired grants are swept, treated as absent before that, and the timer is unref'd.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { GrantRecord, IssuedTokens } from '../../lib';
import { MemoryStore } from '../../lib';
import { randomId, sha256 } from '../../lib/tokens/secrets';

const T0 = 1_000_000;

describe('MemoryStore sweep', () => {
  let clock: number;
  let store: MemoryStore;

  beforeEach(() => {
    clock = T0;
    store = new MemoryStore({ now: () => clock });
  });
  afterEach(() => store.close());

  const grantRecord = (): GrantRecord => ({
    id: randomId(),
    clientId: 'app',
    tenantId: 'acme',
    grantType: 'password',
    subject: 'alice',
    scope: 'read',
    createdAt: T0,
    maxExpiresAt: T0 + 86400,
  });

  /** Create a grant whose access token expires at T0+access and refresh token (if any) at T0+refresh. */
  async function create(access: number, refresh?: number) {
    const grant = grantRecord();
    const hash = sha256(randomId(32));
    const jti = randomId(16);
    const tokens: IssuedTokens = {
      jti,
      accessExpiresAt: T0 + access,
      ...(refresh === undefined ? {} : { refresh: { hash, expiresAt: T0 + refresh } }),
    };
    await store.createGrant(grant, tokens);
    return { grant, hash, jti };
  }

  it('sweep() removes expired grants only, and size drops', async () => {
    const short = await create(60, 120);
    const long = await create(60, 1000);
    await create(30); // access token only
    expect(store.size).toBe(3);

    expect(store.sweep()).toBe(0);
    expect(store.size).toBe(3);

    clock = T0 + 120;
    expect(store.sweep()).toBe(2);
    expect(store.size).toBe(1);
    expect((await store.getAccessTokenState(long.grant.id, long.jti, clock)).grant).toStrictEqual(
      long.grant,
    );
    expect(
      (await store.getAccessTokenState(short.grant.id, short.jti, clock)).grant,
    ).toBeUndefined();

    clock = T0 + 1000;
    expect(store.sweep()).toBe(1);
    expect(store.size).toBe(0);
  });

  it('a grant past its expiry is absent before any sweep', async () => {
    const { grant, hash, jti } = await create(60, 120);
    clock = T0 + 119;
    expect(await store.getAccessTokenState(grant.id, jti, clock)).toStrictEqual({
      grant,
      revoked: false,
    });
    expect(await store.getRefreshTokenState(grant.id, hash, clock)).toMatchObject({ active: true });

    clock = T0 + 120;
    expect(await store.getAccessTokenState(grant.id, jti, clock)).toStrictEqual({ revoked: false });
    expect(await store.getRefreshTokenState(grant.id, hash, clock)).toBeUndefined();
    const next = {
      jti: randomId(16),
      accessExpiresAt: clock + 60,
      refresh: { hash: sha256(randomId(32)), expiresAt: clock + 120 },
    };
    const input = {
      grantId: grant.id,
      presentedHash: hash,
      clientId: 'app',
      now: clock,
      requestedScope: '',
      leewaySeconds: 0,
      next,
    };
    expect(await store.rotateRefreshToken(input)).toStrictEqual({ ok: false, reason: 'not_found' });
    expect(await store.revokeByRefreshToken(grant.id, hash, 'app', clock)).toBe('not_found');
    expect(await store.revokeGrant(grant.id, clock)).toBe('not_found');
  });

  it('a revoked family is kept, revoked, until its last access token expires, then swept', async () => {
    const { grant, jti } = await create(60, 3600);
    expect(await store.revokeGrant(grant.id, T0 + 1)).toBe('revoked');

    clock = T0 + 59;
    expect(store.sweep()).toBe(0);
    expect(await store.getAccessTokenState(grant.id, jti, clock)).toStrictEqual({
      grant,
      revoked: true,
    });

    clock = T0 + 60;
    expect(store.sweep()).toBe(1);
    expect(store.size).toBe(0);
  });

  it('the interval timer sweeps by itself', async () => {
    jest.useFakeTimers();
    try {
      const timed = new MemoryStore({ now: () => clock, sweepInterval: 5 });
      const grant = grantRecord();
      await timed.createGrant(grant, { jti: randomId(16), accessExpiresAt: T0 + 10 });
      clock = T0 + 10;
      jest.advanceTimersByTime(4999);
      expect(timed.size).toBe(1);
      jest.advanceTimersByTime(1);
      expect(timed.size).toBe(0);
      await timed.close();
    } finally {
      jest.useRealTimers();
    }
  });

  it('the interval timer does not keep the process alive', () => {
    const timer = (store as unknown as { timer: NodeJS.Timeout }).timer;
    expect(timer.hasRef()).toBe(false);

    // End to end: a process that builds a store and never closes it still exits by itself.
    const root = path.resolve(__dirname, '../..');
    const code =
      "const { MemoryStore } = require('./lib/store/memory-store'); new MemoryStore({ sweepInterval: 1 }); console.log('built');";
    const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], {
      cwd: root,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(child.error).toBeUndefined();
    expect(child.signal).toBeNull();
    expect(child.stdout.trim()).toBe('built');
    expect(child.status).toBe(0);
  }, 30_000);
});
