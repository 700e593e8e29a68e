// Several instances on one store: three auth-server processes on one Redis share the password rate limit, see each other's revocations at once, and serve keys rotated on one of them.
import { Redis } from 'ioredis';
import { createAuthServer, RedisStore } from '../../lib';
import { APP, BOB, ISSUER, seed } from '../helpers/app';
import { TEST_KEY_SECRET } from '../helpers/key-secret';
import { type NodeProcess, startNodeProcess } from '../helpers/processes';
import { redisUrl, uniquePrefix } from '../helpers/redis';

const PER_USERNAME = 5;
const RATE_LIMIT = {
  failedPasswordsPerUsername: PER_USERNAME,
  failedPasswordsPerIp: 1000,
  windowSeconds: 60,
};
/** Attempts sent at once for one username, round-robin over the instances. */
const ATTEMPTS = 30;
/** KeyRing: unknown kids reload at once (≤ 1 per 5 s); otherwise keys are reloaded after 60 s. */
const BACKGROUND_RELOAD_BOUND_MS = 65_000;

jest.setTimeout(30_000);

const PASSWORD = 'instances-password';
const USERS = ['rotation-user', 'family-user', 'access-user'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Instance {
  proc: NodeProcess;
  url: string;
}

function form(body: Record<string, string>): RequestInit {
  return { method: 'POST', body: new URLSearchParams(body) };
}

async function call(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

const kidOf = (jwt: string): string =>
  JSON.parse(Buffer.from(jwt.split('.')[0] as string, 'base64url').toString()).kid;

describe('three Express processes sharing one Redis', () => {
  const prefix = uniquePrefix('instances');
  let seeder: Redis;
  let instances: Instance[] = [];
  /** Kids each instance's JWKS served before the rotation (loads their key rings at a known time). */
  let kidsBefore: string[][] = [];
  let rotatedKid = '';
  let rotatedAt = 0;

  const at = (i: number) => instances[i] as Instance;
  /** Password sign-in through instance `i`; each test signs in its own user (5 attempts a minute each). */
  const signIn = async (i: number, username: string) => {
    const res = await call(
      `${at(i).url}/oauth2/token`,
      form({ grant_type: 'password', client_id: APP.id, username, password: PASSWORD }),
    );
    if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${res.text}`);
    return res.json() as { access_token: string; refresh_token: string };
  };
  const guarded = (i: number, token: string) =>
    call(`${at(i).url}/me`, { headers: { Authorization: `Bearer ${token}` } });
  const jwksKids = async (i: number) =>
    ((await call(`${at(i).url}/oauth2/jwks`)).json().keys as { kid: string }[]).map((k) => k.kid);

  beforeAll(async () => {
    // Seeded once from this process through the admin API, on the instances' prefix.
    seeder = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
    const admin = createAuthServer({
      issuer: ISSUER,
      store: new RedisStore({ redis: seeder, prefix }),
      keyEncryptionSecret: TEST_KEY_SECRET,
    });
    await seed(admin);
    for (const username of USERS)
      await admin.admin.upsertUser({ tenantId: 'acme', username, password: PASSWORD });
    const env = {
      TW_ISSUER: ISSUER,
      TW_REDIS_URL: redisUrl(),
      TW_PREFIX: prefix,
      TW_RATE_LIMIT: JSON.stringify(RATE_LIMIT),
    };
    const started = await Promise.allSettled(
      [0, 1, 2].map(() => startNodeProcess('test/fixtures/instance.ts', env)),
    );
    instances = started.flatMap((s) =>
      s.status === 'fulfilled' ? [{ proc: s.value, url: `http://127.0.0.1:${s.value.port}` }] : [],
    );
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    // Concurrent first loads agree on one key; from here each auth server's ring is loaded.
    kidsBefore = await Promise.all([0, 1, 2].map(jwksKids));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(instances.map((i) => i.proc.stop()));
    for (const i of instances) {
      // No leaked child: signal 0 fails for a process that is gone.
      expect(() => process.kill(i.proc.pid, 0)).toThrow();
    }
    await seeder?.quit();
  });

  it('three distinct processes, one signing key between them', () => {
    expect(new Set(instances.map((i) => i.proc.pid)).size).toBe(3);
    expect(new Set(instances.map((i) => i.proc.port)).size).toBe(3);
    expect(kidsBefore[0]).toHaveLength(1);
    expect(kidsBefore[1]).toEqual(kidsBefore[0]);
    expect(kidsBefore[2]).toEqual(kidsBefore[0]);
  });

  // Runs first so the background JWKS reload checked last has the whole file to happen in.
  it('keys rotated through instance 1: a token signed with the new key is accepted by the guards of instances 2 and 3', async () => {
    const old = (await signIn(0, 'rotation-user')).access_token;
    for (const i of [1, 2]) expect((await guarded(i, old)).status).toBe(200);
    rotatedAt = Date.now();
    const rotated = await call(`${at(0).url}/admin/rotate`, { method: 'POST' });
    expect(rotated.status).toBe(200);
    rotatedKid = String(rotated.json().kid);
    expect(rotatedKid).not.toBe(kidsBefore[0]?.[0]);
    const fresh = (await signIn(0, 'rotation-user')).access_token;
    expect(kidOf(fresh)).toBe(rotatedKid);
    // The guards of 2 and 3 have never seen this kid: it makes them reload the ring at once.
    for (const i of [1, 2]) {
      const res = await guarded(i, fresh);
      expect({ instance: i + 1, status: res.status }).toEqual({ instance: i + 1, status: 200 });
      expect(res.json().jti).toBe(
        JSON.parse(Buffer.from(fresh.split('.')[1] as string, 'base64url').toString()).jti,
      );
      // Tokens signed with the retired key keep working until they expire.
      expect((await guarded(i, old)).status).toBe(200);
    }
    // Instance 1 serves both keys at once: it did the rotation.
    expect(await jwksKids(0)).toEqual([rotatedKid, kidsBefore[0]?.[0]]);
  });

  it(`password grant: ${ATTEMPTS} concurrent attempts for one username, round-robin over 3 instances, admit ${PER_USERNAME} in total`, async () => {
    // Wrong passwords: an admitted attempt is 400 invalid_grant, a limited one 429.
    const answers = await Promise.all(
      Array.from({ length: ATTEMPTS }, (_, n) =>
        call(
          `${at(n % 3).url}/oauth2/token`,
          form({
            grant_type: 'password',
            client_id: APP.id,
            username: 'rate-target',
            password: `wrong-${n}`,
          }),
        ).then((r) => ({ instance: n % 3, status: r.status, error: r.json().error })),
      ),
    );
    const admitted = answers.filter((a) => a.status !== 429);
    expect(admitted.every((a) => a.status === 400 && a.error === 'invalid_grant')).toBe(true);
    expect(
      answers.filter((a) => a.status === 429).every((a) => a.error === 'temporarily_unavailable'),
    ).toBe(true);
    // Per-process counters would admit up to 3 × 5 = 15.
    expect(admitted.length).toBe(PER_USERNAME);
    // The limit is per username: another user still gets in, through any instance.
    const other = await call(
      `${at(2).url}/oauth2/token`,
      form({ grant_type: 'password', client_id: APP.id, ...BOB }),
    );
    expect(other.status).toBe(200);
  });

  it('a family revoked through instance 1 is refused by the guards of instances 2 and 3 on their very next request', async () => {
    const s = await signIn(0, 'family-user');
    // Warm both guards: the token's signature check is cached there, only live state is read.
    for (const i of [1, 2]) expect((await guarded(i, s.access_token)).status).toBe(200);
    const revoked = await call(
      `${at(0).url}/oauth2/revoke`,
      form({ token: s.refresh_token, client_id: APP.id }),
    );
    expect(revoked.status).toBe(200);
    for (const i of [1, 2]) {
      const res = await guarded(i, s.access_token);
      expect({ instance: i + 1, status: res.status, error: res.json().error }).toEqual({
        instance: i + 1,
        status: 401,
        error: 'invalid_token',
      });
    }
  });

  it('an access token revoked through instance 1 is refused by instances 2 and 3 at once; its sibling is not', async () => {
    const a = await signIn(0, 'access-user');
    const b = await signIn(0, 'access-user');
    for (const i of [1, 2]) expect((await guarded(i, a.access_token)).status).toBe(200);
    expect(
      (await call(`${at(0).url}/oauth2/revoke`, form({ token: a.access_token, client_id: APP.id })))
        .status,
    ).toBe(200);
    for (const i of [1, 2]) {
      expect((await guarded(i, a.access_token)).status).toBe(401);
      expect((await guarded(i, b.access_token)).status).toBe(200);
    }
  });

  it(
    'instances 2 and 3 publish the rotated key in their JWKS within 65 s, by their background reload alone',
    async () => {
      // Nothing above made the auth servers of 2 and 3 look the new kid up (only their guards
      // did, which have their own rings), so only the 60 s background reload can bring it.
      expect(rotatedKid).not.toBe('');
      const seen: (number | undefined)[] = [undefined, undefined];
      while (Date.now() - rotatedAt < BACKGROUND_RELOAD_BOUND_MS) {
        for (const i of [1, 2]) {
          if (seen[i - 1] === undefined && (await jwksKids(i)).includes(rotatedKid))
            seen[i - 1] = Date.now() - rotatedAt;
        }
        if (seen.every((s) => s !== undefined)) break;
        await sleep(1000);
      }
      expect({ instance2: seen[0] !== undefined, instance3: seen[1] !== undefined }).toEqual({
        instance2: true,
        instance3: true,
      });
      for (const i of [1, 2]) {
        const kids = await jwksKids(i);
        // The new key first (it signs), the retired one still published for its tokens.
        expect(kids).toEqual([rotatedKid, kidsBefore[0]?.[0]]);
      }
    },
    BACKGROUND_RELOAD_BOUND_MS + 15_000,
  );
});
