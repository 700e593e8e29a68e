// The grant hash layout has one source of truth (GRANT_HASH): scripts built for any order of its fields,
// run on real Redis, are read back right by the decoders built for the same order.
import type { Redis } from 'ioredis';
import type { GrantRecord } from '../../lib';
import { newGrantId } from '../../lib/core/grant-id';
import { GRANT_FIELDS, GRANT_HASH, grantPairs, replyLayout } from '../../lib/store/grant-hash';
import { redisKeys } from '../../lib/store/keys';
import { type LuaScript, type ScriptInput, scriptArgs } from '../../lib/store/lua-script';
import { buildScripts, scripts } from '../../lib/store/redis-scripts';
import { randomId } from '../../lib/tokens/secrets';
import { newRedis, uniquePrefix, waitReady } from '../helpers/redis';

const NOW = Math.floor(Date.now() / 1000);

/** The orders tried: as declared, reversed, and rotated by a few places. */
const ORDERS = [
  ['declared', [...GRANT_FIELDS]],
  ['reversed', [...GRANT_FIELDS].reverse()],
  ['rotated', [...GRANT_FIELDS.slice(4), ...GRANT_FIELDS.slice(0, 4)]],
] as const;

describe('grant hash layout', () => {
  it('GRANT_FIELDS lists every GrantRecord property once, in GRANT_HASH order', () => {
    expect(GRANT_FIELDS).toStrictEqual(Object.values(GRANT_HASH));
    expect(new Set(GRANT_FIELDS).size).toBe(GRANT_FIELDS.length);
  });

  it('a reply is decoded by name: the same values in another order give the same grant', () => {
    const grant: GrantRecord = {
      id: 'g1',
      clientId: 'app',
      tenantId: 'acme',
      grantType: 'password',
      subject: 'alice',
      scope: 'read',
      localUser: 'bob',
      deviceId: 'phone',
      resource: 'https://print.example',
      sessionId: 's1',
      createdAt: 10,
      maxExpiresAt: 20,
    };
    const pairs = grantPairs(grant);
    const byField = new Map<string, string>();
    for (let i = 0; i < pairs.length; i += 2) byField.set(String(pairs[i]), String(pairs[i + 1]));
    byField.set(GRANT_HASH.sessionId, 's1'); // written by the store, not by grantPairs
    for (const [, order] of ORDERS) {
      const layout = replyLayout(['status'], order);
      const reply = ['ok', ...order.map((f) => byField.get(f) ?? null)];
      expect(layout.decode(reply)).toStrictEqual({ head: { status: 'ok' }, grant });
    }
  });

  it('the stored scripts read grant fields only through the generated HMGET, never by a hand-written index', () => {
    for (const [name, { lua }] of Object.entries(scripts)) {
      // Positional reads of KEYS/ARGV happen only in the generated prelude (`local x = KEYS[1]`).
      for (const line of lua.split('\n')) {
        if (/\b(KEYS|ARGV)\[/.test(line))
          expect([name, line]).toStrictEqual([name, expect.stringMatching(/^local \w+ = /)]);
        expect([
          name,
          /\bunpack\(ARGV, \d+\)/.test(line) && !line.startsWith('local rest'),
        ]).toStrictEqual([name, false]);
      }
    }
  });

  describe.each(ORDERS)('scripts built for the %s order, on real Redis', (_name, order) => {
    let redis: Redis;
    const built = buildScripts(order);
    const keys = redisKeys(uniquePrefix('fields'));

    beforeAll(async () => {
      redis = newRedis();
      await waitReady(redis);
    });
    afterAll(async () => {
      await redis.quit();
    });

    /** EVAL the script text itself (not the registered commands, which use the declared order). */
    const run = <S extends LuaScript>(
      script: S,
      input: ScriptInput<S>,
      rest: (string | number)[] = [],
    ) => redis.eval(script.lua, script.numberOfKeys, ...scriptArgs(script, input, rest));

    it('create, read access state, rotate and read refresh state: every reply decodes to the grant', async () => {
      const grant: GrantRecord = {
        id: newGrantId({ tenantId: 'acme', username: 'alice', device: true }),
        clientId: 'app',
        tenantId: 'acme',
        grantType: 'password',
        subject: 'alice',
        scope: 'read write',
        localUser: 'carol',
        deviceId: 'phone',
        resource: 'https://print.example',
        jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
        createdAt: NOW,
        maxExpiresAt: NOW + 86400,
      };
      const root = randomId();
      const g = {
        grantKey: keys.grant(grant.id),
        issuedKey: keys.issued(grant.id),
        sessionsKey: keys.sessionsOfGrant(grant.id),
      };
      const deadline = await run(
        built.scripts.twCreateGrant,
        {
          ...g,
          ttl: 3600,
          refreshHash: root,
          device: 'phone',
          code: 0,
          jkt: '',
          now: NOW,
          idleTtl: 300,
          maxAge: 3600,
          candidateId: 'session-1',
          clientId: 'app',
          ledgerKey: keys.ledgerOfGrant(grant.id),
          grantId: grant.id,
          generation: '',
          horizon: NOW + 86400 + 600,
        },
        [...grantPairs(grant), 'aexp', NOW + 600, 'cjti', 'jti-1', 'cur', root, 'cexp', NOW + 3600],
      );
      expect(deadline).toBe(String(NOW + 300));
      const stored = { ...grant, sessionId: 'session-1' };

      const access = built.replies.access.decode(
        (await run(built.scripts.twAccessState, {
          grantKey: g.grantKey,
          sessionsKey: g.sessionsKey,
          proofKey: `${g.grantKey}:p:proof-1`,
          jti: 'jti-1',
          now: NOW + 10,
          proofTtl: 60,
        })) as string[],
      );
      expect(access).toStrictEqual({
        head: { rev: null, x: null, deadline: String(NOW + 310), replayed: '0' },
        grant: stored,
      });

      const next = randomId();
      const rotated = built.replies.rotate.decode(
        (await run(built.scripts.twRotate, {
          ...g,
          presentedHash: root,
          clientId: 'app',
          now: NOW + 20,
          leeway: 0,
          clientScope: '-',
          requestedScope: 'read',
          resource: 'https://print.example',
          jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
          nextHash: next,
          nextRefreshExp: NOW + 3620,
          nextJti: 'jti-2',
          nextAccessExp: NOW + 620,
        })) as string[],
      );
      expect(rotated).toStrictEqual({
        head: { status: 'ok', retried: '0', deadline: String(NOW + 320) },
        grant: stored,
      });

      const refresh = built.replies.refresh.decode(
        (await run(built.scripts.twRefreshState, {
          ...g,
          refreshHash: next,
          now: NOW + 30,
        })) as (string | number)[],
      );
      expect(refresh).toStrictEqual({
        head: {
          known: 1,
          deadline: String(NOW + 320),
          rev: null,
          cur: next,
          cexp: String(NOW + 3620),
        },
        grant: stored,
      });

      // A refused rotation: the reason, no grant.
      const reused = built.replies.rotate.decode(
        (await run(built.scripts.twRotate, {
          ...g,
          presentedHash: randomId(),
          clientId: 'app',
          now: NOW + 40,
          leeway: 0,
          clientScope: '-',
          requestedScope: '',
          resource: '',
          jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
          nextHash: randomId(),
          nextRefreshExp: NOW + 3640,
          nextJti: 'jti-3',
          nextAccessExp: NOW + 640,
        })) as string[],
      );
      expect(reused).toStrictEqual({
        head: { status: 'not_found', retried: null, deadline: null },
      });
    });
  });
});
