// No user enumeration (RFC 6819 §5.1.4.2.2 spirit; RFC 9700 §2.4): the password grant answers an unknown user exactly as a wrong password (status, body, headers) and in comparable time.
import type { Express } from 'express';
import type { Response } from 'supertest';
import { ALICE, APP, buildApp, post, seed, TOKEN, WEB } from '../helpers/app';
import { makeStore, type TestStore } from '../helpers/stores';

const ROUNDS = 20;

/** Everything a client can observe except the Date header. */
function observable(res: Response) {
  const { date: _date, ...headers } = res.headers;
  return { status: res.status, text: res.text, headers };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

describe.each(['memory', 'redis'] as const)('password grant on %s: no user enumeration', (kind) => {
  let ts: TestStore;
  let app: Express;

  beforeAll(async () => {
    ts = await makeStore(kind, `enumeration-${kind}`);
    // Rate limits off: their headers count attempts per username (the same whether it exists or
    // not), which would differ here only because the two usernames were tried different numbers of times.
    const t = buildApp(ts.store);
    await seed(t.auth);
    // A user that exists only in another tenant than the client's.
    await t.auth.admin.upsertUser({
      tenantId: 'beta',
      username: 'carol',
      password: 'carol-password',
    });
    app = t.app;
  });
  afterAll(() => ts.close());

  const attempt = (username: string, password: string, confidential = false) =>
    confidential
      ? post(app, TOKEN, { grant_type: 'password', username, password }, WEB)
      : post(app, TOKEN, { grant_type: 'password', client_id: APP.id, username, password });

  it.each([
    ['public client (client_id in the body)', false],
    ['confidential client (HTTP Basic)', true],
  ] as const)(
    '%s: unknown user, user of another tenant, case variant and wrong password get one identical answer',
    async (_name, confidential) => {
      const wrong = await attempt(ALICE.username, 'not-alice-password', confidential);
      expect(wrong.status).toBe(400);
      expect(wrong.body).toEqual({
        error: 'invalid_grant',
        error_description: expect.any(String),
      });
      for (const [username, password] of [
        ['mallory', 'not-alice-password'],
        ['mallory', ALICE.password],
        ['carol', 'carol-password'],
        ['ALICE', 'not-alice-password'],
      ] as const) {
        const other = await attempt(username, password, confidential);
        expect({ username, ...observable(other) }).toEqual({ username, ...observable(wrong) });
      }
      // Control: the right password is told apart, so the comparison above is not vacuous.
      expect((await attempt(ALICE.username, ALICE.password, confidential)).status).toBe(200);
    },
  );

  it(`unknown user and wrong password take comparable time (medians of ${ROUNDS} interleaved attempts within 2×)`, async () => {
    // Not a micro-benchmark: each attempt is a whole HTTP round trip dominated by one scrypt
    // (~40 ms, N=2^14) on both paths, and other suites load the same 2 cores. Interleaving spreads
    // that noise over both series, medians drop outliers, and a factor of 2 still catches the flaw
    // this guards against: an unknown user answered without the scrypt (~1 ms instead of ~40).
    const time = async (username: string) => {
      const start = process.hrtime.bigint();
      const res = await attempt(username, 'not-the-password');
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      expect(res.status).toBe(400);
      return ms;
    };
    await time('mallory');
    await time(ALICE.username); // warm-up: first-use costs (JIT, caches) fall on neither series
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      unknown.push(await time(`mallory-${i}`));
      wrong.push(await time(ALICE.username));
    }
    const ratio = median(unknown) / median(wrong);
    expect({ ratio, within: ratio > 0.5 && ratio < 2 }).toEqual({ ratio, within: true });
  });
});
