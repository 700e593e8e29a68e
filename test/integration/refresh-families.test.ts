// Refresh-token families end to end: rotation, one winner among concurrent refreshes, reuse detection, family revocation.
import { newGrantId } from '../../lib/core/grant-id';
import { redisKeys } from '../../lib/store/keys';
import { parseRefreshToken } from '../../lib/tokens/refresh-token';
import { randomId, sha256 } from '../../lib/tokens/secrets';
import { buildApp, introspect, refresh, revoke, seed, signIn, type TestApp } from '../helpers/app';
import { makeStore, STORE_KINDS, type TestStore } from '../helpers/stores';

describe.each(STORE_KINDS)('refresh-token families on %s', (kind) => {
  let ts: TestStore;
  let t: TestApp;

  beforeAll(async () => {
    ts = await makeStore(kind, `families-${kind}`);
    t = buildApp(ts.store);
    await seed(t.auth);
  });
  afterAll(() => ts.close());

  it('rotates: a new pair in the same family, the presented refresh token stops working', async () => {
    const first = await signIn(t.app);
    const r1 = await refresh(t.app, first.refresh_token);
    expect(r1.status).toBe(200);
    expect(r1.body.refresh_token).not.toBe(first.refresh_token);
    // Same family: the grant id prefix is shared.
    expect(r1.body.refresh_token.split('.')[0]).toBe(first.refresh_token.split('.')[0]);
    expect((await introspect(t.app, r1.body.refresh_token)).active).toBe(true);
    expect((await introspect(t.app, first.refresh_token)).active).toBe(false);
  });

  it('overlapping tokens: the old access token stays valid after a renewal', async () => {
    const first = await signIn(t.app);
    const r1 = await refresh(t.app, first.refresh_token);
    expect(r1.status).toBe(200);
    expect((await introspect(t.app, first.access_token)).active).toBe(true);
    expect((await introspect(t.app, r1.body.access_token)).active).toBe(true);
  });

  it('20 concurrent refreshes of one token: exactly one 200, the rest invalid_grant', async () => {
    const first = await signIn(t.app);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => refresh(t.app, first.refresh_token)),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 200)) {
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('invalid_grant');
    }
    // The losers replayed a rotated token: reuse, so the family (winner included) is revoked.
    expect((await introspect(t.app, ok[0]?.body.refresh_token)).active).toBe(false);
  });

  it('replay after rotation is reuse: invalid_grant and the newest token of the family is dead', async () => {
    const first = await signIn(t.app);
    const r1 = await refresh(t.app, first.refresh_token);
    const r2 = await refresh(t.app, r1.body.refresh_token);
    expect(r2.status).toBe(200);
    const replay = await refresh(t.app, first.refresh_token);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    const newest = await refresh(t.app, r2.body.refresh_token);
    expect(newest.status).toBe(400);
    expect(newest.body.error).toBe('invalid_grant');
    expect((await introspect(t.app, r2.body.access_token)).active).toBe(false);
  });

  it('revoking the root after two rotations kills the newest refresh token and every access token; another family lives', async () => {
    const first = await signIn(t.app);
    const other = await signIn(t.app);
    const r1 = await refresh(t.app, first.refresh_token);
    const r2 = await refresh(t.app, r1.body.refresh_token);
    const rev = await revoke(t.app, first.refresh_token);
    expect(rev.status).toBe(200);
    for (const token of [
      first.access_token,
      r1.body.access_token,
      r2.body.access_token,
      r2.body.refresh_token,
    ]) {
      expect(await introspect(t.app, token)).toEqual({ active: false });
    }
    expect((await refresh(t.app, r2.body.refresh_token)).body.error).toBe('invalid_grant');
    expect((await introspect(t.app, other.access_token)).active).toBe(true);
    expect((await refresh(t.app, other.refresh_token)).status).toBe(200);
  });

  it('revoking an access token revokes that token only', async () => {
    const first = await signIn(t.app);
    const r1 = await refresh(t.app, first.refresh_token);
    expect((await revoke(t.app, first.access_token)).status).toBe(200);
    expect(await introspect(t.app, first.access_token)).toEqual({ active: false });
    expect((await introspect(t.app, r1.body.access_token)).active).toBe(true);
    expect((await refresh(t.app, r1.body.refresh_token)).status).toBe(200);
  });

  it('a refresh racing a revocation of the family never leaves a live token once the revocation returned', async () => {
    for (let round = 0; round < 5; round++) {
      const first = await signIn(t.app);
      const [refreshed, revoked] = await Promise.all([
        refresh(t.app, first.refresh_token),
        revoke(t.app, first.refresh_token),
      ]);
      expect(revoked.status).toBe(200);
      if (refreshed.status === 200) {
        expect(await introspect(t.app, refreshed.body.access_token)).toEqual({ active: false });
        expect(await introspect(t.app, refreshed.body.refresh_token)).toEqual({ active: false });
      } else {
        expect(refreshed.body.error).toBe('invalid_grant');
      }
      expect(await introspect(t.app, first.access_token)).toEqual({ active: false });
    }
  });

  it('client_credentials with clientCredentialsRefresh starts a family too', async () => {
    const { post, SVC_RT, TOKEN } = await import('../helpers/app.js');
    const res = await post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC_RT);
    expect(res.status).toBe(200);
    expect(typeof res.body.refresh_token).toBe('string');
    const next = await post(
      t.app,
      TOKEN,
      { grant_type: 'refresh_token', refresh_token: res.body.refresh_token },
      SVC_RT,
    );
    expect(next.status).toBe(200);
    expect((await introspect(t.app, next.body.access_token)).tenant_id).toBe('beta');
  });
});

describe.each(STORE_KINDS)('refreshReuseLeewaySeconds on %s', (kind) => {
  let ts: TestStore;
  let t: TestApp;

  beforeAll(async () => {
    ts = await makeStore(kind, `leeway-${kind}`);
    t = buildApp(ts.store, { refreshReuseLeewaySeconds: 30 });
    await seed(t.auth);
  });
  afterAll(() => ts.close());

  it('the immediate predecessor may be presented again within the leeway; it kills the successor it replaces', async () => {
    const first = await signIn(t.app);
    const lost = await refresh(t.app, first.refresh_token); // the client never saw this response
    const retry = await refresh(t.app, first.refresh_token);
    expect(retry.status).toBe(200);
    expect(await introspect(t.app, lost.body.refresh_token)).toEqual({ active: false });
    expect(await introspect(t.app, lost.body.access_token)).toEqual({ active: false });
    expect((await introspect(t.app, retry.body.refresh_token)).active).toBe(true);
    expect((await refresh(t.app, retry.body.refresh_token)).status).toBe(200);
  });

  it('older tokens never slip past reuse detection', async () => {
    const first = await signIn(t.app);
    const r1 = await refresh(t.app, first.refresh_token);
    const r2 = await refresh(t.app, r1.body.refresh_token);
    const old = await refresh(t.app, first.refresh_token); // two generations back
    expect(old.status).toBe(400);
    expect(old.body.error).toBe('invalid_grant');
    expect(await introspect(t.app, r2.body.refresh_token)).toEqual({ active: false });
  });

  it('a killed successor presented later is reuse and revokes the family', async () => {
    const first = await signIn(t.app);
    const lost = await refresh(t.app, first.refresh_token);
    const retry = await refresh(t.app, first.refresh_token);
    expect((await refresh(t.app, lost.body.refresh_token)).status).toBe(400);
    expect(await introspect(t.app, retry.body.refresh_token)).toEqual({ active: false });
  });
});

describe.each(STORE_KINDS)(
  'refresh tokens of the old format (before generations) on %s',
  (kind) => {
    let ts: TestStore;
    let t: TestApp;

    beforeAll(async () => {
      ts = await makeStore(kind, `legacy-rt-${kind}`);
      t = buildApp(ts.store);
      await seed(t.auth);
    });
    afterAll(() => ts.close());

    /**
     * A family as the store held it before generations: an old-format current token `current`, and
     * (RedisStore) the set of the hashes of every token it issued, `older` among them.
     */
    async function legacyFamily() {
      const now = Math.floor(Date.now() / 1000);
      const id = newGrantId({ tenantId: 'acme', username: 'alice', device: false });
      const [older, current] = [`${id}.${randomId(32)}`, `${id}.${randomId(32)}`];
      const generation = await ts.store.getLedgerGeneration({
        tenantId: 'acme',
        username: 'alice',
      });
      const created = await ts.store.createGrant(
        {
          id,
          clientId: 'app',
          tenantId: 'acme',
          grantType: 'password',
          subject: 'alice',
          scope: 'print scan',
          createdAt: now,
          maxExpiresAt: now + 86400,
        },
        {
          jti: randomId(16),
          accessExpiresAt: now + 600,
          refresh: { hash: sha256(current), expiresAt: now + 3600 },
        },
        undefined,
        { generation, until: now + 86400 + 600 },
      );
      expect(created).toStrictEqual({});
      const set = ts.prefix === undefined ? undefined : redisKeys(ts.prefix).legacyIssued(id);
      if (set && ts.redis) {
        await ts.redis.sadd(set, sha256(older), sha256(current));
        await ts.redis.expire(set, 3600);
      }
      return { older, current, set };
    }

    it('an old-format refresh token rotates: its successor is of the new format, and the family goes on', async () => {
      const family = await legacyFamily();
      const r1 = await refresh(t.app, family.current);
      expect(r1.status).toBe(200);
      expect(parseRefreshToken(r1.body.refresh_token)?.generation).toBe(1);
      expect((await introspect(t.app, r1.body.access_token)).active).toBe(true);
      expect(await introspect(t.app, family.current)).toEqual({ active: false });
      const r2 = await refresh(t.app, r1.body.refresh_token);
      expect(r2.status).toBe(200);
      expect(parseRefreshToken(r2.body.refresh_token)?.generation).toBe(2);
      if (family.set && ts.redis) {
        // Nothing was added to the family's old set; its old tokens are still detected through it.
        expect(await ts.redis.scard(family.set)).toBe(2);
        expect((await refresh(t.app, family.older)).body.error).toBe('invalid_grant');
      } else {
        expect((await refresh(t.app, r1.body.refresh_token)).body.error).toBe('invalid_grant');
      }
      // Reuse: the family is revoked, its newest token with it.
      expect(await introspect(t.app, r2.body.refresh_token)).toEqual({ active: false });
      expect((await refresh(t.app, r2.body.refresh_token)).status).toBe(400);
    });
  },
);
