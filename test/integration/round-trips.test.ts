// SPEC §7 cost: store round trips per token issued and per introspection, counted with Redis MONITOR
// on a dedicated server (commands run inside Lua scripts are not round trips and are not counted).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisStore } from '../../lib';
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
  type TestApp,
  TOKEN,
} from '../helpers/app';
import { waitReady } from '../helpers/redis';
import { type Standalone, startStandalone } from '../helpers/redis-launcher';

describe('store round trips (RedisStore, MONITOR)', () => {
  let dir: string;
  let server: Standalone;
  let redis: Redis;
  let monitorBase: Redis;
  let monitor: Redis;
  let seen: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tw-rtt-'));
    server = await startStandalone(dir);
    redis = new Redis(server.port, '127.0.0.1');
    await waitReady(redis);
    monitorBase = new Redis(server.port, '127.0.0.1');
    monitor = await monitorBase.monitor(); // a duplicate connection: both must be closed
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua') seen.push(String(args[0]).toLowerCase());
    });
  });
  afterAll(async () => {
    monitor.disconnect();
    monitorBase.disconnect();
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Round trips per request of `run`, averaged over n warm calls. */
  async function count(run: () => Promise<unknown>, n = 10): Promise<number> {
    await run(); // warm: keys loaded, scripts cached on the server
    await new Promise((r) => setTimeout(r, 50));
    seen = [];
    for (let i = 0; i < n; i++) await run();
    await new Promise((r) => setTimeout(r, 100)); // MONITOR lines arrive asynchronously
    return seen.length / n;
  }

  describe('rate limits off', () => {
    let t: TestApp;
    let session: { access_token: string; refresh_token: string };
    beforeAll(async () => {
      t = buildApp(new RedisStore({ redis, prefix: 'rt1:' }), { clientCacheTtl: 60 });
      await seed(t.auth);
      session = await signIn(t.app);
    });

    it('client_credentials issuance: 1 round trip (client record cached for clientCacheTtl)', async () => {
      const n = await count(async () =>
        expect((await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC)).status).toBe(
          200,
        ),
      );
      expect(n).toBe(1);
    });

    it('password sign-in: 2 round trips (user record, grant write)', async () => {
      const n = await count(async () =>
        expect(
          (await post(t.app, TOKEN, { grant_type: 'password', client_id: APP.id, ...ALICE }))
            .status,
        ).toBe(200),
      );
      expect(n).toBe(2);
    });

    it('refresh rotation: 1 round trip (one Lua script)', async () => {
      let rt = session.refresh_token;
      const n = await count(async () => {
        const res = await post(t.app, TOKEN, {
          grant_type: 'refresh_token',
          client_id: APP.id,
          refresh_token: rt,
        });
        expect(res.status).toBe(200);
        rt = res.body.refresh_token;
      });
      expect(n).toBe(1);
    });

    it('introspection of an access token: 1 round trip', async () => {
      const n = await count(async () =>
        expect(
          (await post(t.app, INTROSPECT, { token: session.access_token }, RS)).body.active,
        ).toBe(true),
      );
      expect(n).toBe(1);
    });

    it('with clientCacheTtl 0 each request also reads the client record', async () => {
      const t0 = buildApp(new RedisStore({ redis, prefix: 'rt2:' }), { clientCacheTtl: 0 });
      await seed(t0.auth);
      const n = await count(async () =>
        expect((await post(t0.app, TOKEN, { grant_type: 'client_credentials' }, SVC)).status).toBe(
          200,
        ),
      );
      expect(n).toBe(2);
    });
  });

  it('rate limits on: one more round trip per limiter (1 for client_credentials, 3 for password)', async () => {
    const t = buildApp(new RedisStore({ redis, prefix: 'rt3:' }), {
      clientCacheTtl: 60,
      rateLimit: { perClient: 1e6, perUsername: 1e6, perIp: 1e6 },
    });
    await seed(t.auth);
    const cc = await count(async () =>
      expect((await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC)).status).toBe(
        200,
      ),
    );
    const pw = await count(async () =>
      expect(
        (await post(t.app, TOKEN, { grant_type: 'password', client_id: APP.id, ...ALICE })).status,
      ).toBe(200),
    );
    expect(cc).toBe(2);
    expect(pw).toBe(5);
  });
});
