// The Store conformance suite: the same cases, run against MemoryStore, RedisStore and RedisStore on a
// cluster. The twin rule (lib/store/store.ts): a script and its MemoryStore method pass it together.
import type {
  ClientRecord,
  DeviceSessionInput,
  GrantRecord,
  IssuedTokens,
  ResourceRecord,
  RotateResult,
  ScopeRecord,
  SigningKeyRecord,
  Store,
  TenantRecord,
  UserRecord,
} from '../../lib';
import { newGrantId } from '../../lib/core/grant-id';
import { redisKeys } from '../../lib/store/keys';
import {
  newRefreshToken,
  nextRefreshToken,
  parseRefreshToken,
} from '../../lib/tokens/refresh-token';
import { randomId, sha256 } from '../../lib/tokens/secrets';
import type { StoreFactory, TestStore } from '../helpers/stores';

/** A refresh token, its digest (all the store sees) and the access token jti issued with it. */
interface Issued {
  token: string;
  hash: string;
  jti: string;
}

/**
 * Run the suite against the stores `factory` makes (each given a name for its keys).
 *
 * @example describeStore('memory', storeFactory('memory'));
 */
export function describeStore(name: string, factory: StoreFactory): void {
  describe(`Store conformance: ${name}`, () => {
    // One fixed clock for the whole suite. It is the real time at start-up, not an arbitrary past
    // date: MemoryStore and Redis TTLs drop entries by wall clock, so "now" must not be behind it.
    const NOW = Math.floor(Date.now() / 1000);
    const ACCESS_TTL = 600;
    const REFRESH_TTL = 3600;
    const MAX_AGE = 86400;

    let ts: TestStore;
    let store: Store;

    beforeAll(async () => {
      ts = await factory(`conf-${name}`);
      store = ts.store;
    });
    afterAll(() => ts.close());

    /** The root token of a new family (of grant `grantId`, or of none). */
    const newToken = (grantId = randomId()): Issued => ({
      ...newRefreshToken(grantId),
      jti: randomId(16),
    });
    /** The token a rotation of `t` issues: its family's next generation. */
    const successorOf = (t: Issued): Issued => {
      const parsed = parseRefreshToken(t.token);
      if (!parsed) throw new Error('not a refresh token');
      return { ...nextRefreshToken(parsed), jti: randomId(16) };
    };

    const tokensFor = (
      t: Issued,
      now = NOW,
    ): IssuedTokens & { refresh: { hash: string; expiresAt: number } } => ({
      jti: t.jti,
      accessExpiresAt: now + ACCESS_TTL,
      refresh: { hash: t.hash, expiresAt: now + REFRESH_TTL },
    });

    const grantRecord = (overrides: Partial<GrantRecord> = {}): GrantRecord => ({
      id: randomId(),
      clientId: 'app-a',
      tenantId: 'acme',
      grantType: 'password',
      subject: 'alice',
      scope: 'read write print',
      createdAt: NOW,
      maxExpiresAt: NOW + MAX_AGE,
      ...overrides,
    });

    /** Create a grant with a root refresh token (or the given tokens). */
    async function issue(
      overrides: Partial<GrantRecord> = {},
      tokens?: (root: Issued) => IssuedTokens,
    ): Promise<{ grant: GrantRecord; root: Issued }> {
      const grant = grantRecord(overrides);
      const root = newToken(grant.id);
      await store.createGrant(grant, tokens ? tokens(root) : tokensFor(root));
      return { grant, root };
    }

    interface RotateOpts {
      now?: number;
      clientId?: string;
      scope?: string;
      leeway?: number;
      next?: Issued;
      refreshExpiresAt?: number;
      /** The resource the refresh names (RFC 8707). */
      resource?: string;
      /** The thumbprint of the DPoP key the refresh proves (RFC 9449). */
      jkt?: string;
    }

    /** Rotate `presented` in `grant`; returns the result and the token it would have issued. */
    async function rotate(
      grant: GrantRecord,
      presented: Issued,
      opts: RotateOpts = {},
    ): Promise<{ result: RotateResult; next: Issued }> {
      const now = opts.now ?? NOW;
      const next = opts.next ?? successorOf(presented);
      const tokens = tokensFor(next, now);
      if (opts.refreshExpiresAt !== undefined) tokens.refresh.expiresAt = opts.refreshExpiresAt;
      const result = await store.rotateRefreshToken({
        grantId: grant.id,
        presentedHash: presented.hash,
        clientId: opts.clientId ?? grant.clientId,
        now,
        requestedScope: opts.scope ?? '',
        leewaySeconds: opts.leeway ?? 0,
        ...(opts.resource !== undefined ? { resource: opts.resource } : {}),
        ...(opts.jkt !== undefined ? { jkt: opts.jkt } : {}),
        next: tokens,
      });
      return { result, next };
    }

    /** Rotate and expect success; returns the new token. */
    async function rotateOk(
      grant: GrantRecord,
      presented: Issued,
      opts: RotateOpts = {},
    ): Promise<Issued> {
      const { result, next } = await rotate(grant, presented, opts);
      expect(result).toStrictEqual({ ok: true, grant, retried: false });
      return next;
    }

    const familyRevoked = async (grant: GrantRecord) =>
      (await store.getAccessTokenState(grant.id, randomId(16), NOW)).revoked;

    const isActive = async (grant: GrantRecord, t: Issued, now = NOW) =>
      (await store.getRefreshTokenState(grant.id, t.hash, now))?.active === true;

    /**
     * What a family holds: its keys (Redis: every key naming the grant id) and the fields and bytes
     * of each; MemoryStore: the family record, its collections as arrays.
     */
    async function footprint(grantId: string) {
      if (!ts.redis || ts.prefix === undefined) {
        const grants = (store as unknown as { grants: Map<string, unknown> }).grants;
        const record = JSON.stringify(grants.get(grantId), (_k, v) =>
          v instanceof Set || v instanceof Map ? [...v] : v,
        );
        const fields = Object.keys(JSON.parse(record) as object).sort();
        return { keys: ['family'], fields, bytes: record.length };
      }
      const k = redisKeys(ts.prefix);
      const keys = [k.grant(grantId), k.legacyIssued(grantId)];
      const present: string[] = [];
      let bytes = 0;
      let fields: string[] = [];
      for (const key of keys) {
        if ((await ts.redis.exists(key)) === 0) continue;
        present.push(key);
        const all = await ts.redis.hgetall(key);
        fields = Object.keys(all).sort();
        for (const [f, v] of Object.entries(all)) bytes += f.length + v.length;
      }
      return { keys: present, fields, bytes };
    }

    const byKey =
      <T>(key: (r: T) => string) =>
      (a: T, b: T) =>
        key(a).localeCompare(key(b));

    it('1. registry: tenants, clients, users (per tenant) and scopes round-trip deep-equal', async () => {
      const tenants: TenantRecord[] = [
        { id: 'acme', name: 'Acme Corp', localUserMode: true },
        { id: 'globex', localUserMode: false },
      ];
      const clients: ClientRecord[] = [
        {
          id: 'printer-app',
          tenantId: 'acme',
          name: 'Printer app',
          secretHash: 'scrypt$16384$8$1$c2FsdA$aGFzaA',
          grants: ['client_credentials', 'refresh_token'],
          scopes: ['print', 'read'],
          localUsers: true,
          introspect: false,
          clientCredentialsRefresh: true,
        },
        {
          id: 'mobile',
          tenantId: 'globex',
          grants: ['password', 'refresh_token'],
          scopes: [],
          localUsers: false,
          introspect: true,
          clientCredentialsRefresh: false,
        },
      ];
      const alice: UserRecord = {
        tenantId: 'acme',
        username: 'alice',
        passwordHash: 'scrypt$x',
        roles: ['admin'],
      };
      const bob: UserRecord = {
        tenantId: 'acme',
        username: 'bob',
        passwordHash: 'scrypt$y',
        roles: [],
      };
      const carol: UserRecord = {
        tenantId: 'globex',
        username: 'carol',
        passwordHash: 'scrypt$z',
        roles: ['op'],
      };
      const scopes: ScopeRecord[] = [
        { name: 'print', service: 'print', roleCheck: true, roles: ['printer-user'] },
        { name: 'read', roleCheck: false, roles: [] },
      ];

      expect(await store.getTenant('acme')).toBeUndefined();
      expect(await store.listTenants()).toStrictEqual([]);
      for (const t of tenants) await store.putTenant(t);
      for (const c of clients) await store.putClient(c);
      for (const u of [alice, bob, carol]) await store.putUser(u);
      for (const s of scopes) await store.putScope(s);

      // Deep-equal, and optional fields that were absent stay absent (toStrictEqual).
      for (const t of tenants) expect(await store.getTenant(t.id)).toStrictEqual(t);
      for (const c of clients) expect(await store.getClient(c.id)).toStrictEqual(c);
      for (const s of scopes) expect(await store.getScope(s.name)).toStrictEqual(s);
      expect(await store.getUser('acme', 'alice')).toStrictEqual(alice);
      expect(await store.getUser('globex', 'carol')).toStrictEqual(carol);
      expect((await store.listTenants()).sort(byKey((t) => t.id))).toStrictEqual(tenants);
      expect((await store.listClients()).sort(byKey((c) => c.id))).toStrictEqual(
        [...clients].sort(byKey((c) => c.id)),
      );
      expect((await store.listScopes()).sort(byKey((s) => s.name))).toStrictEqual(scopes);

      // Users are per tenant: acme's alice is not globex's alice.
      expect((await store.listUsers('acme')).sort(byKey((u) => u.username))).toStrictEqual([
        alice,
        bob,
      ]);
      expect(await store.listUsers('globex')).toStrictEqual([carol]);
      expect(await store.listUsers('initech')).toStrictEqual([]);
      expect(await store.getUser('globex', 'alice')).toBeUndefined();
      expect(await store.getUser('acme', 'carol')).toBeUndefined();

      // Unknown ids.
      expect(await store.getTenant('nope')).toBeUndefined();
      expect(await store.getClient('nope')).toBeUndefined();
      expect(await store.getUser('acme', 'nope')).toBeUndefined();
      expect(await store.getScope('nope')).toBeUndefined();

      // A put replaces the record.
      const renamed: TenantRecord = { id: 'globex', name: 'Globex', localUserMode: true };
      await store.putTenant(renamed);
      expect(await store.getTenant('globex')).toStrictEqual(renamed);

      // delete: true, then false; gone from get and list.
      expect(await store.deleteTenant('globex')).toBe(true);
      expect(await store.deleteTenant('globex')).toBe(false);
      expect(await store.getTenant('globex')).toBeUndefined();
      expect(await store.listTenants()).toStrictEqual([tenants[0]]);
      expect(await store.deleteClient('mobile')).toBe(true);
      expect(await store.deleteClient('mobile')).toBe(false);
      expect(await store.getClient('mobile')).toBeUndefined();
      expect((await store.listClients()).map((c) => c.id)).toStrictEqual(['printer-app']);
      expect(await store.deleteUser('globex', 'alice')).toBe(false); // alice is acme's
      expect(await store.deleteUser('acme', 'alice')).toBe(true);
      expect(await store.deleteUser('acme', 'alice')).toBe(false);
      expect(await store.getUser('acme', 'alice')).toBeUndefined();
      expect(await store.listUsers('acme')).toStrictEqual([bob]);
      expect(await store.deleteScope('read')).toBe(true);
      expect(await store.deleteScope('read')).toBe(false);
      expect(await store.getScope('read')).toBeUndefined();
      expect(await store.listScopes()).toStrictEqual([scopes[0]]);
    });

    it('1c. upgradePasswordHash replaces the hash only while it is still the one verified', async () => {
      const dave: UserRecord & { passwordHash: string } = {
        tenantId: 'upg',
        username: 'dave "d" $x',
        passwordHash: 'scrypt$16384$8$1$c2FsdA$b2xk',
        roles: [],
      };
      await store.putUser(dave);
      const upgraded = 'scrypt$131072$8$1$c2FsdDI$bmV3';
      // Another user, tenant or expected hash: nothing changes.
      expect(await store.upgradePasswordHash('upg', 'nobody', dave.passwordHash, upgraded)).toBe(
        false,
      );
      expect(
        await store.upgradePasswordHash('other', dave.username, dave.passwordHash, upgraded),
      ).toBe(false);
      expect(await store.upgradePasswordHash('upg', dave.username, 'scrypt$1$2', upgraded)).toBe(
        false,
      );
      expect(await store.getUser('upg', dave.username)).toStrictEqual(dave);
      // The verified hash: replaced, and nothing else of the record (an empty roles list stays a list).
      expect(
        await store.upgradePasswordHash('upg', dave.username, dave.passwordHash, upgraded),
      ).toBe(true);
      expect(await store.getUser('upg', dave.username)).toStrictEqual({
        ...dave,
        passwordHash: upgraded,
      });
      // A password changed meanwhile is never overwritten by a late upgrade of the old one.
      const changed = { ...dave, passwordHash: 'scrypt$131072$8$1$Y2hhbmdlZA$cHc' };
      await store.putUser(changed);
      expect(
        await store.upgradePasswordHash('upg', dave.username, dave.passwordHash, upgraded),
      ).toBe(false);
      expect(await store.getUser('upg', dave.username)).toStrictEqual(changed);
      expect(await store.deleteUser('upg', dave.username)).toBe(true);
    });

    it('1b. getScopes reads several definitions at once, in order, undefined where unknown', async () => {
      const a: ScopeRecord = { name: 'gs-a', service: 'print', roleCheck: true, roles: ['p'] };
      const b: ScopeRecord = { name: 'gs-b', roleCheck: false, roles: [] };
      await store.putScope(a);
      await store.putScope(b);
      expect(await store.getScopes(['gs-b', 'gs-none', 'gs-a'])).toStrictEqual([b, undefined, a]);
      expect(await store.getScopes([])).toStrictEqual([]);
      await store.deleteScope('gs-a');
      await store.deleteScope('gs-b');
    });

    it('1d. resource servers: round-trip deep-equal, listed by URI, deleted once', async () => {
      const resources: ResourceRecord[] = [
        { uri: 'https://res-b.example/api/v1', services: ['scan', 'print'], name: 'B "api"' },
        { uri: 'https://res-a.example', services: ['print'] },
        // Braces and colons in a URI stay inside the registry's own key (its tag comes first).
        { uri: 'http://localhost:4100/{x}:y', services: ['fax'] },
      ];
      for (const r of resources) await store.putResource(r);
      for (const r of resources) expect(await store.getResource(r.uri)).toStrictEqual(r);
      expect(await store.getResource('https://res-a.example/')).toBeUndefined();
      const listed = (await store.listResources()).filter(
        (r) => r.uri.includes('res-') || r.uri.includes('{x}'),
      );
      expect(listed).toStrictEqual([...resources].sort((a, b) => (a.uri < b.uri ? -1 : 1)));
      // An upsert replaces the record.
      const replaced = { uri: 'https://res-a.example', services: ['scan'] };
      await store.putResource(replaced);
      expect(await store.getResource(replaced.uri)).toStrictEqual(replaced);
      for (const r of resources) {
        expect(await store.deleteResource(r.uri)).toBe(true);
        expect(await store.deleteResource(r.uri)).toBe(false);
        expect(await store.getResource(r.uri)).toBeUndefined();
      }
      expect((await store.listResources()).filter((r) => r.uri.includes('res-'))).toStrictEqual([]);
    });

    it('2. createGrant then getAccessTokenState: the grant deep-equal, not revoked; unknown grant', async () => {
      const full = grantRecord({
        grantType: 'client_credentials',
        subject: 'printer-app',
        clientId: 'printer-app',
        localUser: 'kiosk-7',
        deviceId: 'dev:42',
      });
      const root = newToken();
      await store.createGrant(full, tokensFor(root));
      expect(await store.getAccessTokenState(full.id, root.jti, NOW)).toStrictEqual({
        grant: full,
        revoked: false,
      });

      // Optional fields absent stay absent.
      const { grant: plain, root: plainRoot } = await issue();
      expect(await store.getAccessTokenState(plain.id, plainRoot.jti, NOW)).toStrictEqual({
        grant: plain,
        revoked: false,
      });

      // A lone client_credentials issue without a refresh token.
      const lone = grantRecord({
        grantType: 'client_credentials',
        subject: 'svc',
        clientId: 'svc',
        scope: '',
      });
      const jti = randomId(16);
      await store.createGrant(lone, { jti, accessExpiresAt: NOW + ACCESS_TTL });
      expect(await store.getAccessTokenState(lone.id, jti, NOW)).toStrictEqual({
        grant: lone,
        revoked: false,
      });

      expect(await store.getAccessTokenState(randomId(), randomId(16), NOW)).toStrictEqual({
        revoked: false,
      });
    });

    it('3. rotation: ok with the grant; replaying the old token is reuse and revokes the family', async () => {
      const { grant, root } = await issue();
      const { result, next } = await rotate(grant, root, { now: NOW + 10 });
      expect(result).toStrictEqual({ ok: true, grant, retried: false });
      expect(await isActive(grant, next, NOW + 10)).toBe(true);
      expect(await isActive(grant, root, NOW + 10)).toBe(false);

      const replay = await rotate(grant, root, { now: NOW + 20 });
      expect(replay.result).toStrictEqual({ ok: false, reason: 'reused' });
      expect(await familyRevoked(grant)).toBe(true);
      expect((await store.getAccessTokenState(grant.id, root.jti, NOW)).revoked).toBe(true);
      expect((await store.getAccessTokenState(grant.id, next.jti, NOW)).revoked).toBe(true);
      expect(await isActive(grant, next, NOW + 20)).toBe(false);
      expect((await rotate(grant, next, { now: NOW + 30 })).result).toStrictEqual({
        ok: false,
        reason: 'revoked',
      });
    });

    it('3b. Store contract: a token of a revoked family is still known (state active false, not undefined)', async () => {
      // store.ts: getRefreshTokenState is "undefined when it was never issued there"; these were issued.
      const { grant, root } = await issue();
      const next = await rotateOk(grant, root, { now: NOW + 10 });
      expect((await rotate(grant, root, { now: NOW + 20 })).result).toStrictEqual({
        ok: false,
        reason: 'reused',
      });
      expect(await store.getRefreshTokenState(grant.id, next.hash, NOW + 20)).toMatchObject({
        grant,
        active: false,
      });
      expect(await store.getRefreshTokenState(grant.id, root.hash, NOW + 20)).toMatchObject({
        grant,
        active: false,
      });
    });

    it('4. 20 concurrent rotations of one token: exactly one ok, and the replays revoke the family', async () => {
      const { grant, root } = await issue();
      const attempts = await Promise.all(
        Array.from({ length: 20 }, () => rotate(grant, root, { now: NOW + 10 })),
      );
      const winners = attempts.filter((a) => a.result.ok);
      expect(winners).toHaveLength(1);
      const reasons = attempts.flatMap((a) => (a.result.ok ? [] : [a.result.reason]));
      // Observed on every store: the first loser replays an already-rotated token ('reused', the
      // family is revoked) and every later one then finds the family revoked ('revoked').
      expect(reasons).toHaveLength(19);
      for (const r of reasons) expect(['reused', 'revoked']).toContain(r);
      expect(reasons).toContain('reused');

      const winner = winners[0]?.next as Issued;
      expect(await familyRevoked(grant)).toBe(true);
      expect((await store.getAccessTokenState(grant.id, winner.jti, NOW)).revoked).toBe(true);
      expect(await isActive(grant, winner, NOW + 10)).toBe(false);
      for (const a of attempts) expect(await isActive(grant, a.next, NOW + 10)).toBe(false);
      expect((await rotate(grant, winner, { now: NOW + 11 })).result).toStrictEqual({
        ok: false,
        reason: 'revoked',
      });
    });

    it('4b. with a leeway, concurrent rotations never leave two live refresh tokens', async () => {
      // Within the leeway a concurrent duplicate looks exactly like a retry of a lost response, so
      // several calls may succeed (observed: all 20, the first plain, the rest retried); each retry
      // kills the successor it replaces, so at most one issued token is live afterwards.
      const { grant, root } = await issue();
      const attempts = await Promise.all(
        Array.from({ length: 20 }, () => rotate(grant, root, { now: NOW + 10, leeway: 30 })),
      );
      const oks = attempts.filter((a) => a.result.ok);
      expect(oks.filter((a) => a.result.ok && !a.result.retried)).toHaveLength(1);
      const live: Issued[] = [];
      for (const a of oks) if (await isActive(grant, a.next, NOW + 10)) live.push(a.next);
      expect(live).toHaveLength(1);
      // Only the live token's access token is unrevoked among those issued by the rotations.
      for (const a of oks) {
        const revoked = (await store.getAccessTokenState(grant.id, a.next.jti, NOW)).revoked;
        expect(revoked).toBe(a.next !== live[0]);
      }
    });

    it('5. client mismatch: client_mismatch and nothing changes', async () => {
      const { grant, root } = await issue();
      const before = await ts.snapshot();
      const { result } = await rotate(grant, root, { clientId: 'app-b' });
      expect(result).toStrictEqual({ ok: false, reason: 'client_mismatch' });
      expect(await ts.snapshot()).toBe(before);
      expect(await familyRevoked(grant)).toBe(false);
      expect(await isActive(grant, root)).toBe(true);
      await rotateOk(grant, root);
    });

    it('6. an unknown hash in a known family is not_found and does not revoke the family', async () => {
      const { grant, root } = await issue();
      const next = await rotateOk(grant, root, { now: NOW + 1 });
      const before = await ts.snapshot();
      const { result } = await rotate(grant, newToken(), { now: NOW + 2 });
      expect(result).toStrictEqual({ ok: false, reason: 'not_found' });
      expect(await ts.snapshot()).toBe(before);
      expect(await familyRevoked(grant)).toBe(false);
      await rotateOk(grant, next, { now: NOW + 3 });
      // An unknown grant id too.
      expect((await rotate(grantRecord(), newToken())).result).toStrictEqual({
        ok: false,
        reason: 'not_found',
      });
    });

    it('7. expired: past the refresh token expiry or the family cap → expired, family not revoked', async () => {
      const { grant, root } = await issue({}, (r) => ({
        jti: r.jti,
        accessExpiresAt: NOW + ACCESS_TTL,
        refresh: { hash: r.hash, expiresAt: NOW + 100 },
      }));
      expect((await rotate(grant, root, { now: NOW + 100 })).result).toStrictEqual({
        ok: false,
        reason: 'expired',
      });
      expect((await rotate(grant, root, { now: NOW + 200 })).result).toStrictEqual({
        ok: false,
        reason: 'expired',
      });
      expect(await familyRevoked(grant)).toBe(false);
      expect(await isActive(grant, root, NOW + 200)).toBe(false);
      // Not reuse: still the current token, so before its expiry it rotates.
      await rotateOk(grant, root, { now: NOW + 50 });

      const capped = await issue({ maxExpiresAt: NOW + 100 });
      expect((await rotate(capped.grant, capped.root, { now: NOW + 100 })).result).toStrictEqual({
        ok: false,
        reason: 'expired',
      });
      expect(await familyRevoked(capped.grant)).toBe(false);
      const state = await store.getRefreshTokenState(capped.grant.id, capped.root.hash, NOW + 100);
      expect(state).toMatchObject({ active: false, expiresAt: NOW + 100 });
    });

    it('8. scope: a subset rotates; a scope outside the grant is invalid_scope and nothing rotates', async () => {
      const { grant, root } = await issue({ scope: 'read write print' });
      const before = await ts.snapshot();
      expect((await rotate(grant, root, { scope: 'read admin' })).result).toStrictEqual({
        ok: false,
        reason: 'invalid_scope',
      });
      expect((await rotate(grant, root, { scope: 'rea' })).result).toStrictEqual({
        ok: false,
        reason: 'invalid_scope',
      });
      expect(await ts.snapshot()).toBe(before);
      expect(await isActive(grant, root)).toBe(true);
      const next = await rotateOk(grant, root, { scope: 'print read' });
      // Narrowing at one refresh does not change the grant: the full scope is still allowed next time.
      await rotateOk(grant, next, { scope: 'read write print' });
    });

    it('8b. resource: a grant keeps it; a refresh naming it (or none) rotates, naming another is invalid_target and nothing rotates', async () => {
      const { grant, root } = await issue({ resource: 'https://print.example' });
      expect((await store.getAccessTokenState(grant.id, root.jti, NOW)).grant).toStrictEqual(grant);
      expect((await store.getRefreshTokenState(grant.id, root.hash, NOW))?.grant).toStrictEqual(
        grant,
      );
      const before = await ts.snapshot();
      for (const other of ['https://scan.example', 'https://print.example/'])
        expect((await rotate(grant, root, { resource: other })).result).toStrictEqual({
          ok: false,
          reason: 'invalid_target',
        });
      expect(await ts.snapshot()).toBe(before);
      const next = await rotateOk(grant, root, { resource: 'https://print.example' });
      await rotateOk(grant, next);
      // A family without a resource cannot be moved to one.
      const plain = await issue();
      expect(
        (await rotate(plain.grant, plain.root, { resource: 'https://print.example' })).result,
      ).toStrictEqual({
        ok: false,
        reason: 'invalid_target',
      });
      await rotateOk(plain.grant, plain.root);
    });

    it('9. leeway: the immediate predecessor may be retried within it; it kills the successor', async () => {
      const leeway = 30;
      const { grant, root } = await issue();
      const successor = await rotateOk(grant, root, { now: NOW + 10, leeway });

      const retry = await rotate(grant, root, { now: NOW + 20, leeway });
      expect(retry.result).toStrictEqual({ ok: true, grant, retried: true });
      // The successor it replaces is dead: its access token is revoked, its refresh token inactive.
      expect((await store.getAccessTokenState(grant.id, successor.jti, NOW)).revoked).toBe(true);
      expect((await store.getAccessTokenState(grant.id, retry.next.jti, NOW)).revoked).toBe(false);
      expect((await store.getAccessTokenState(grant.id, root.jti, NOW)).revoked).toBe(false);
      expect(await isActive(grant, successor, NOW + 40)).toBe(false);
      expect(await isActive(grant, retry.next, NOW + 40)).toBe(true);
      expect(await familyRevoked(grant)).toBe(false);
      // Presenting the replaced successor is reuse.
      expect((await rotate(grant, successor, { now: NOW + 41, leeway })).result).toStrictEqual({
        ok: false,
        reason: 'reused',
      });
      expect(await familyRevoked(grant)).toBe(true);
      expect(await isActive(grant, retry.next, NOW + 41)).toBe(false);

      // The predecessor after the leeway: reuse.
      const late = await issue();
      await rotateOk(late.grant, late.root, { now: NOW + 10, leeway });
      expect(
        (await rotate(late.grant, late.root, { now: NOW + 11 + leeway, leeway })).result,
      ).toStrictEqual({
        ok: false,
        reason: 'reused',
      });
      expect(await familyRevoked(late.grant)).toBe(true);

      // Two generations back, even within the leeway: reuse.
      const old = await issue();
      const g1 = await rotateOk(old.grant, old.root, { now: NOW + 10, leeway });
      await rotateOk(old.grant, g1, { now: NOW + 11, leeway });
      expect((await rotate(old.grant, old.root, { now: NOW + 12, leeway })).result).toStrictEqual({
        ok: false,
        reason: 'reused',
      });
      expect(await familyRevoked(old.grant)).toBe(true);

      // Strict by default: leeway 0 makes an immediate retry reuse.
      const strict = await issue();
      await rotateOk(strict.grant, strict.root, { now: NOW + 10 });
      expect((await rotate(strict.grant, strict.root, { now: NOW + 10 })).result).toStrictEqual({
        ok: false,
        reason: 'reused',
      });
    });

    it('9b. abandonRotation: the presented token may rotate once more; a stale abandon changes nothing', async () => {
      const { grant, root } = await issue();
      const { result, next } = await rotate(grant, root, { now: NOW + 1 });
      expect(result.ok).toBe(true);
      // The caller timed out; the rotation had taken effect: the client's retry is not reuse.
      await store.abandonRotation(grant.id, root.hash, next.hash);
      const again = await rotate(grant, root, { now: NOW + 2 });
      expect(again.result).toStrictEqual({ ok: true, grant, retried: true });
      expect(await isActive(grant, again.next, NOW + 2)).toBe(true);
      expect(await familyRevoked(grant)).toBe(false);
      // Only once: presenting the root yet again is reuse.
      expect((await rotate(grant, root, { now: NOW + 3 })).result).toStrictEqual({
        ok: false,
        reason: 'reused',
      });
      // A rotation that never took effect: abandoning it leaves the current token current.
      const other = await issue();
      await store.abandonRotation(other.grant.id, other.root.hash, sha256('never-issued'));
      const ok = await rotateOk(other.grant, other.root, { now: NOW + 1 });
      expect((await rotate(other.grant, other.root, { now: NOW + 2 })).result).toStrictEqual({
        ok: false,
        reason: 'reused',
      });
      expect(ok.hash).not.toBe(other.root.hash);
    });

    it('10. revokeByRefreshToken: the root after two rotations revokes the whole family only', async () => {
      const { grant, root } = await issue();
      const other = await issue(); // same client, another family
      const r1 = await rotateOk(grant, root, { now: NOW + 1 });
      const r2 = await rotateOk(grant, r1, { now: NOW + 2 });

      // A foreign client: client_mismatch, nothing revoked.
      const before = await ts.snapshot();
      expect(await store.revokeByRefreshToken(grant.id, root.hash, 'app-b', NOW + 3)).toBe(
        'client_mismatch',
      );
      expect(await ts.snapshot()).toBe(before);
      expect(await familyRevoked(grant)).toBe(false);

      // Unknown tokens.
      expect(
        await store.revokeByRefreshToken(grant.id, newToken().hash, grant.clientId, NOW + 3),
      ).toBe('not_found');
      expect(await store.revokeByRefreshToken(randomId(), root.hash, grant.clientId, NOW + 3)).toBe(
        'not_found',
      );
      expect(await ts.snapshot()).toBe(before);

      expect(await store.revokeByRefreshToken(grant.id, root.hash, grant.clientId, NOW + 3)).toBe(
        'revoked',
      );
      // Again, with any token of it: it says so, and changes nothing.
      const revokedState = await ts.snapshot();
      expect(await store.revokeByRefreshToken(grant.id, r2.hash, grant.clientId, NOW + 4)).toBe(
        'already_revoked',
      );
      expect(await ts.snapshot()).toBe(revokedState);
      expect((await rotate(grant, r2, { now: NOW + 4 })).result).toStrictEqual({
        ok: false,
        reason: 'revoked',
      });
      for (const t of [root, r1, r2]) {
        expect((await store.getAccessTokenState(grant.id, t.jti, NOW)).revoked).toBe(true);
        expect(await isActive(grant, t, NOW + 4)).toBe(false);
      }

      // The other family of the same client is untouched.
      expect(await store.getAccessTokenState(other.grant.id, other.root.jti, NOW)).toStrictEqual({
        grant: other.grant,
        revoked: false,
      });
      expect(await isActive(other.grant, other.root, NOW + 4)).toBe(true);
      await rotateOk(other.grant, other.root, { now: NOW + 4 });
    });

    describe('17. refresh-token families at any age: O(1) state, every earlier token detected', () => {
      /** Rotate `n` times from the root; returns every token of the family, oldest first. */
      async function generations(grant: GrantRecord, root: Issued, n: number) {
        const all = [root];
        for (let i = 1; i <= n; i++)
          all.push(await rotateOk(grant, all[i - 1] as Issued, { now: NOW + 1 }));
        return all;
      }
      /** A token in the family's shape: its grant id and a generation, random bits, `secret`. */
      const forged = (grant: GrantRecord, gen: number, secret = randomId(16)): Issued => {
        const token = `${grant.id}.${gen}~${randomId(32)}${secret}`;
        const parsed = parseRefreshToken(token);
        if (!parsed) throw new Error('not a refresh token');
        return { token, hash: parsed.hash, jti: randomId(16) };
      };
      /** The family secret every token of a family carries (its last 22 characters). */
      const secretOf = (t: Issued) => t.token.slice(-22);

      it.each([2, 5, 50])(
        '17a. replaying a token %i generations old is reuse and revokes the family',
        async (age) => {
          const { grant, root } = await issue();
          const all = await generations(grant, root, age + 1);
          const old = all[all.length - 1 - age] as Issued;
          expect((await rotate(grant, old, { now: NOW + 2 })).result).toStrictEqual({
            ok: false,
            reason: 'reused',
          });
          expect(await familyRevoked(grant)).toBe(true);
          expect(await isActive(grant, all[all.length - 1] as Issued, NOW + 2)).toBe(false);
          // Still a token of the family for revocation and introspection (RFC 7009, RFC 7662).
          expect(await store.getRefreshTokenState(grant.id, old.hash, NOW + 2)).toMatchObject({
            active: false,
          });
          expect(
            await store.revokeByRefreshToken(grant.id, old.hash, grant.clientId, NOW + 2),
          ).toBe('already_revoked');
        },
      );

      it('17b. a forged earlier-generation token (right grant id and generation, not the family secret) is not_found and changes nothing', async () => {
        const { grant, root } = await issue();
        const all = await generations(grant, root, 3);
        const before = await ts.snapshot();
        for (const fake of [forged(grant, 0), forged(grant, 1), forged(grant, 2)]) {
          expect((await rotate(grant, fake, { now: NOW + 2 })).result).toStrictEqual({
            ok: false,
            reason: 'not_found',
          });
          expect(await store.getRefreshTokenState(grant.id, fake.hash, NOW + 2)).toBeUndefined();
          expect(
            await store.revokeByRefreshToken(grant.id, fake.hash, grant.clientId, NOW + 2),
          ).toBe('not_found');
        }
        // Nor a token of the old format (no generation) that was never issued.
        const legacy = `${grant.id}.${randomId(32)}`;
        const parsed = parseRefreshToken(legacy);
        expect(parsed?.hash).toBe(sha256(legacy));
        const old = { token: legacy, hash: parsed?.hash as string, jti: randomId(16) };
        expect((await rotate(grant, old, { now: NOW + 2 })).result).toStrictEqual({
          ok: false,
          reason: 'not_found',
        });
        expect(await ts.snapshot()).toBe(before);
        expect(await familyRevoked(grant)).toBe(false);
        await rotateOk(grant, all[3] as Issued, { now: NOW + 3 });
      });

      it('17c. a later generation than the family is at, even with its secret, is not_found; so is its own generation without it', async () => {
        const { grant, root } = await issue();
        const all = await generations(grant, root, 2);
        const before = await ts.snapshot();
        for (const fake of [
          forged(grant, 3, secretOf(root)),
          forged(grant, 9, secretOf(root)),
          forged(grant, 2),
        ]) {
          expect((await rotate(grant, fake, { now: NOW + 2 })).result).toStrictEqual({
            ok: false,
            reason: 'not_found',
          });
        }
        expect(await ts.snapshot()).toBe(before);
        expect(await isActive(grant, all[2] as Issued, NOW + 2)).toBe(true);
        await rotateOk(grant, all[2] as Issued, { now: NOW + 3 });
      });

      it("17d. a family's footprint after 1,000 rotations is the one after 1", async () => {
        const { grant, root } = await issue();
        const all = await generations(grant, root, 1);
        const after1 = await footprint(grant.id);
        let t = all[1] as Issued;
        for (let i = 0; i < 999; i++) t = await rotateOk(grant, t, { now: NOW + 1 });
        const after1000 = await footprint(grant.id);
        expect(after1000.keys).toStrictEqual(after1.keys);
        expect(after1000.fields).toStrictEqual(after1.fields);
        // The generation gains digits (1 → 1000); nothing else grows.
        expect(after1000.bytes - after1.bytes).toBeLessThanOrEqual(3);
        // And the first token of the family is still detected.
        expect((await rotate(grant, root, { now: NOW + 2 })).result).toStrictEqual({
          ok: false,
          reason: 'reused',
        });
      });

      it('17e. a family from before generations: its current old-format token rotates into the new format, and replaying it is reuse', async () => {
        const grant = grantRecord();
        const token = `${grant.id}.${randomId(32)}`;
        const legacy: Issued = { token, hash: sha256(token), jti: randomId(16) };
        await store.createGrant(grant, tokensFor(legacy));
        const next = await rotateOk(grant, legacy, { now: NOW + 1 });
        expect(parseRefreshToken(next.token)?.generation).toBe(1);
        const third = await rotateOk(grant, next, { now: NOW + 2 });
        expect(parseRefreshToken(third.token)?.generation).toBe(2);
        await rotateOk(grant, third, { now: NOW + 3 });
        // Its first new-format token, two generations old now, is detected (the family adopted
        // that token's secret).
        expect((await rotate(grant, next, { now: NOW + 4 })).result).toStrictEqual({
          ok: false,
          reason: 'reused',
        });
      });

      it('17f. (Redis) a family with the old set of issued hashes: its old tokens are still detected, and the set gets nothing new', async () => {
        if (!ts.redis || ts.prefix === undefined) return;
        const redis = ts.redis;
        const grant = grantRecord();
        const old = [0, 1].map((): Issued => {
          const token = `${grant.id}.${randomId(32)}`;
          return { token, hash: sha256(token), jti: randomId(16) };
        });
        const [l0, l1] = old as [Issued, Issued];
        // As the store wrote families before generations: the current hash, and the set of all.
        await store.createGrant(grant, tokensFor(l1));
        const set = redisKeys(ts.prefix).legacyIssued(grant.id);
        await redis.sadd(set, l0.hash, l1.hash);
        await redis.expire(set, REFRESH_TTL);
        const next = await rotateOk(grant, l1, { now: NOW + 1 });
        const third = await rotateOk(grant, next, { now: NOW + 2 });
        expect((await redis.smembers(set)).sort()).toStrictEqual([l0.hash, l1.hash].sort());
        expect(await redis.ttl(set)).toBeGreaterThan(0);
        const before = await ts.snapshot();
        // An old-format token never issued: unknown, nothing changes.
        const stray = `${grant.id}.${randomId(32)}`;
        expect(
          (await rotate(grant, { token: stray, hash: sha256(stray), jti: '' }, { now: NOW + 3 }))
            .result,
        ).toStrictEqual({ ok: false, reason: 'not_found' });
        expect(await ts.snapshot()).toBe(before);
        // The oldest one, known only to the set: reuse.
        expect((await rotate(grant, l0, { now: NOW + 3 })).result).toStrictEqual({
          ok: false,
          reason: 'reused',
        });
        expect(await isActive(grant, third, NOW + 3)).toBe(false);
      });
    });

    it('11. revokeAccessToken revokes one jti only; revokeGrant revokes the family', async () => {
      const { grant, root } = await issue();
      const next = await rotateOk(grant, root, { now: NOW + 1 });
      await store.revokeAccessToken(grant.id, root.jti, NOW + 2);
      expect(await store.getAccessTokenState(grant.id, root.jti, NOW)).toStrictEqual({
        grant,
        revoked: true,
      });
      expect(await store.getAccessTokenState(grant.id, next.jti, NOW)).toStrictEqual({
        grant,
        revoked: false,
      });
      expect(await familyRevoked(grant)).toBe(false);
      expect(await isActive(grant, next, NOW + 2)).toBe(true);

      // Unknown grant: nothing to revoke, nothing created.
      const unknown = randomId();
      await store.revokeAccessToken(unknown, randomId(16), NOW + 2);
      expect(await store.getAccessTokenState(unknown, randomId(16), NOW)).toStrictEqual({
        revoked: false,
      });

      expect(await store.revokeGrant(grant.id, NOW + 3)).toBe('revoked');
      expect(await store.revokeGrant(grant.id, NOW + 3)).toBe('already_revoked');
      expect(await store.getAccessTokenState(grant.id, next.jti, NOW)).toStrictEqual({
        grant,
        revoked: true,
      });
      expect(await familyRevoked(grant)).toBe(true);
      expect(await isActive(grant, next, NOW + 3)).toBe(false);
      expect((await rotate(grant, next, { now: NOW + 4 })).result).toStrictEqual({
        ok: false,
        reason: 'revoked',
      });
      expect(await store.revokeGrant(unknown, NOW + 3)).toBe('not_found');
    });

    describe('15. grant ledgers: ending every grant of a user or a client', () => {
      const userGrant = (username: string, device = false, overrides: Partial<GrantRecord> = {}) =>
        grantRecord({
          id: newGrantId({ tenantId: 'acme', username, device }),
          subject: username,
          ...(device ? { deviceId: 'dev-1' } : {}),
          ...overrides,
        });
      const session = (): DeviceSessionInput => ({
        idleTtl: 3600,
        maxAge: 86400,
        candidateId: randomId(),
        now: NOW,
      });
      const live = async (g: GrantRecord, t: Issued) =>
        !(await store.getAccessTokenState(g.id, t.jti, NOW + 1)).revoked &&
        (await store.getRefreshTokenState(g.id, t.hash, NOW + 1))?.active === true;

      it('15a. renewLedger with endGrants revokes every grant of the user, with and without device; others stay live', async () => {
        const user = `u-${randomId(6)}`;
        const plain = userGrant(user);
        const bound = userGrant(user, true);
        const other = userGrant(`v-${randomId(6)}`);
        const tokens = [newToken(), newToken(), newToken()] as const;
        expect(
          await store.createGrant(plain, tokensFor(tokens[0]), undefined, {
            generation: '',
            until: NOW + MAX_AGE,
          }),
        ).toStrictEqual({});
        expect(
          (
            await store.createGrant(bound, tokensFor(tokens[1]), session(), {
              generation: '',
              until: NOW + MAX_AGE,
            })
          ).deviceDeadline,
        ).toBe(NOW + 3600);
        await store.createGrant(other, tokensFor(tokens[2]), undefined, {
          generation: '',
          until: NOW + MAX_AGE,
        });
        expect(await live(plain, tokens[0])).toBe(true);
        expect(await live(bound, tokens[1])).toBe(true);

        expect(await store.renewLedger({ tenantId: 'acme', username: user }, 'g1', true, NOW)).toBe(
          2,
        );
        expect(await live(plain, tokens[0])).toBe(false);
        expect(await live(bound, tokens[1])).toBe(false);
        expect(await live(other, tokens[2])).toBe(true);
        expect((await rotate(plain, tokens[0], { now: NOW + 2 })).result).toStrictEqual({
          ok: false,
          reason: 'revoked',
        });
        expect(await store.getLedgerGeneration({ tenantId: 'acme', username: user })).toBe('g1');
        // Nothing left to end.
        expect(await store.renewLedger({ tenantId: 'acme', username: user }, 'g2', true, NOW)).toBe(
          0,
        );
      });

      it('15b. a user grant authorized at an older generation is refused (stale) and stores nothing', async () => {
        const user = `u-${randomId(6)}`;
        const owner = { tenantId: 'acme', username: user };
        const before = await store.getLedgerGeneration(owner);
        expect(before).toBe('');
        await store.renewLedger(owner, 'g1', true, NOW);
        const g = userGrant(user);
        const t = newToken();
        expect(
          await store.createGrant(g, tokensFor(t), undefined, {
            generation: before,
            until: NOW + MAX_AGE,
          }),
        ).toStrictEqual({ refused: 'stale' });
        expect((await store.getAccessTokenState(g.id, t.jti, NOW)).grant).toBeUndefined();
        // At the current generation it is stored, and listed: the next renewal ends it.
        expect(
          await store.createGrant(g, tokensFor(t), undefined, {
            generation: 'g1',
            until: NOW + MAX_AGE,
          }),
        ).toStrictEqual({});
        expect(await store.renewLedger(owner, 'g2', true, NOW)).toBe(1);
        expect((await store.getAccessTokenState(g.id, t.jti, NOW)).revoked).toBe(true);
      });

      it('15c. a client ledger: listed grants end together; an older generation is not listed; a listed id not yet created is refused later', async () => {
        const clientId = `c-${randomId(6)}`;
        const gen = await store.getLedgerGeneration({ clientId });
        const own = grantRecord({ clientId, grantType: 'client_credentials', subject: clientId });
        const users = userGrant(`u-${randomId(6)}`, false, { clientId });
        const [t1, t2] = [newToken(), newToken()];
        for (const [g, t] of [
          [own, t1],
          [users, t2],
        ] as const) {
          await store.createGrant(g, tokensFor(t), undefined, {
            generation: '',
            until: NOW + MAX_AGE,
          });
          expect(
            await store.addClientGrant(
              clientId,
              g.id,
              { generation: gen, until: NOW + MAX_AGE },
              NOW,
            ),
          ).toBe(true);
        }
        // Listed, but its creation has not landed yet when the client's grants are ended.
        const late = grantRecord({ clientId, grantType: 'client_credentials', subject: clientId });
        expect(
          await store.addClientGrant(
            clientId,
            late.id,
            { generation: gen, until: NOW + MAX_AGE },
            NOW,
          ),
        ).toBe(true);

        // Two live grants end; the one not created yet is kept from being created.
        expect(await store.renewLedger({ clientId }, 'c1', true, NOW)).toBe(2);
        expect(await live(own, t1)).toBe(false);
        expect(await live(users, t2)).toBe(false);
        expect(await store.createGrant(late, tokensFor(newToken()))).toStrictEqual({
          refused: 'revoked',
        });
        // A grant authorized against the record of before is not listed.
        expect(
          await store.addClientGrant(
            clientId,
            randomId(),
            { generation: gen, until: NOW + MAX_AGE },
            NOW,
          ),
        ).toBe(false);
        expect(
          await store.addClientGrant(
            clientId,
            randomId(),
            { generation: 'c1', until: NOW + MAX_AGE },
            NOW,
          ),
        ).toBe(true);
        // Moving on without ending grants keeps them live.
        const kept = grantRecord({ clientId, grantType: 'client_credentials', subject: clientId });
        const t3 = newToken();
        await store.createGrant(kept, tokensFor(t3));
        await store.addClientGrant(
          clientId,
          kept.id,
          { generation: 'c1', until: NOW + MAX_AGE },
          NOW,
        );
        expect(await store.renewLedger({ clientId }, 'c2', false, NOW)).toBe(0);
        expect(await live(kept, t3)).toBe(true);
        expect(await store.getLedgerGeneration({ clientId })).toBe('c2');
      });

      it('15d. entries past their horizon are not ended again (already dead), and ledgers of one name do not cross tenants', async () => {
        const user = `u-${randomId(6)}`;
        const g = userGrant(user);
        await store.createGrant(g, tokensFor(newToken()), undefined, {
          generation: '',
          until: NOW + 5,
        });
        expect(await store.renewLedger({ tenantId: 'other', username: user }, 'x', true, NOW)).toBe(
          0,
        );
        expect(
          await store.renewLedger({ tenantId: 'acme', username: user }, 'x', true, NOW + 10),
        ).toBe(0);
      });

      it('15e. rotation with the client scope narrows the family for good; a wider request is then invalid_scope', async () => {
        const { grant, root } = await issue();
        const { result, next } = await rotate(grant, root, {});
        expect(result.ok).toBe(true);
        const narrowed = await store.rotateRefreshToken({
          grantId: grant.id,
          presentedHash: next.hash,
          clientId: grant.clientId,
          now: NOW + 1,
          requestedScope: '',
          leewaySeconds: 0,
          clientScope: 'print read other',
          next: tokensFor(newToken(), NOW + 1),
        });
        expect(narrowed).toMatchObject({ ok: true, grant: { scope: 'read print' } });
        expect((await store.getAccessTokenState(grant.id, randomId(), NOW + 1)).grant?.scope).toBe(
          'read print',
        );
        const state = await store.getRefreshTokenState(grant.id, next.hash, NOW + 1);
        expect(state?.grant.scope).toBe('read print');
      });
    });

    it('12. getRefreshTokenState: current active with min(exp, cap); rotated inactive; never issued', async () => {
      const { grant, root } = await issue();
      expect(await store.getRefreshTokenState(grant.id, root.hash, NOW)).toStrictEqual({
        grant,
        active: true,
        expiresAt: NOW + REFRESH_TTL,
      });
      const next = await rotateOk(grant, root, { now: NOW + 5 });
      expect(await store.getRefreshTokenState(grant.id, next.hash, NOW + 5)).toStrictEqual({
        grant,
        active: true,
        expiresAt: NOW + 5 + REFRESH_TTL,
      });
      expect(await store.getRefreshTokenState(grant.id, root.hash, NOW + 5)).toMatchObject({
        grant,
        active: false,
      });
      // Active until the expiry, inactive from it.
      expect(await isActive(grant, next, NOW + 4 + REFRESH_TTL)).toBe(true);
      expect(await isActive(grant, next, NOW + 5 + REFRESH_TTL)).toBe(false);

      // The family cap comes first.
      const capped = await issue({ maxExpiresAt: NOW + 1000 });
      expect(
        await store.getRefreshTokenState(capped.grant.id, capped.root.hash, NOW),
      ).toStrictEqual({
        grant: capped.grant,
        active: true,
        expiresAt: NOW + 1000,
      });

      expect(await store.getRefreshTokenState(grant.id, newToken().hash, NOW)).toBeUndefined();
      expect(await store.getRefreshTokenState(randomId(), root.hash, NOW)).toBeUndefined();
      // A grant without refresh token has none.
      const lone = grantRecord({
        grantType: 'client_credentials',
        subject: 'svc',
        clientId: 'svc',
      });
      await store.createGrant(lone, { jti: randomId(16), accessExpiresAt: NOW + ACCESS_TTL });
      expect(await store.getRefreshTokenState(lone.id, newToken().hash, NOW)).toBeUndefined();
    });

    describe('14. device sessions', () => {
      const IDLE = 300;
      const CAP = 3600;
      const session = (now = NOW): DeviceSessionInput => ({
        idleTtl: IDLE,
        maxAge: CAP,
        candidateId: randomId(16),
        now,
      });
      /** A device-bound grant of `user` on `device` by `client`, signed in at `now`. */
      async function signIn(
        user: string,
        device: string,
        client: string,
        now = NOW,
        tokens: (root: Issued) => IssuedTokens = (root) => tokensFor(root, now),
      ) {
        const grant = grantRecord({
          id: newGrantId({ tenantId: 'acme', username: user, device: true }),
          subject: user,
          clientId: client,
          deviceId: device,
          createdAt: now,
        });
        const root = newToken();
        const { deviceDeadline } = await store.createGrant(grant, tokens(root), session(now));
        const stored = (await store.getAccessTokenState(grant.id, root.jti, now)).grant;
        return { grant: stored as GrantRecord, root, deviceDeadline };
      }
      const deadlineOf = async (g: GrantRecord, t: Issued, now: number) =>
        (await store.getAccessTokenState(g.id, t.jti, now)).deviceDeadline;

      it('14a. a device-bound sign-in starts a session; another app on the device joins it', async () => {
        const dev = `dev-${randomId(6)}`;
        const a = await signIn('alice', dev, 'app-a');
        expect(a.deviceDeadline).toBe(NOW + IDLE);
        expect(a.grant.sessionId).toEqual(expect.any(String));
        expect(a.grant.deviceId).toBe(dev);
        const b = await signIn('alice', dev, 'app-b', NOW + 10);
        expect(b.grant.sessionId).toBe(a.grant.sessionId);
        expect(b.deviceDeadline).toBe(NOW + 10 + IDLE);
        // Grants without a device have no deadline.
        const { grant: plain, root } = await issue();
        expect(
          (await store.getAccessTokenState(plain.id, root.jti, NOW)).deviceDeadline,
        ).toBeUndefined();
      });

      it('14b. activity through one app postpones the deadline of every token of the session, O(1)', async () => {
        const dev = `dev-${randomId(6)}`;
        const a = await signIn('alice', dev, 'app-a');
        const b = await signIn('alice', dev, 'app-b');
        const bob = await signIn('bob', dev, 'app-a');
        // App A alone is active, past the first idle deadline.
        for (const t of [200, 400, 600])
          expect(await deadlineOf(a.grant, a.root, NOW + t)).toBe(NOW + t + IDLE);
        // App B's token is alive through A's activity; bob's session on the same device is not.
        expect(await deadlineOf(b.grant, b.root, NOW + 700)).toBe(NOW + 700 + IDLE);
        expect(await deadlineOf(bob.grant, bob.root, NOW + 700)).toBe(0);
      });

      it('14c. past the idle deadline: deadline 0, refresh refused as expired, refresh state inactive', async () => {
        const dev = `dev-${randomId(6)}`;
        const a = await signIn('alice', dev, 'app-a');
        const late = NOW + IDLE + 1;
        expect(await deadlineOf(a.grant, a.root, late)).toBe(0);
        expect((await rotate(a.grant, a.root, { now: late })).result).toStrictEqual({
          ok: false,
          reason: 'expired',
        });
        expect(await isActive(a.grant, a.root, late)).toBe(false);
        // A new sign-in starts a new session; the old tokens stay dead.
        const again = await signIn('alice', dev, 'app-a', late);
        expect(again.grant.sessionId).not.toBe(a.grant.sessionId);
        expect(await deadlineOf(a.grant, a.root, late)).toBe(0);
        expect(await deadlineOf(again.grant, again.root, late)).toBe(late + IDLE);
      });

      it('14d. a refresh is activity and reports the deadline; the deadline never passes the session cap', async () => {
        const dev = `dev-${randomId(6)}`;
        const a = await signIn('alice', dev, 'app-a');
        const { result } = await rotate(a.grant, a.root, { now: NOW + 100 });
        expect(result).toMatchObject({ ok: true, deviceDeadline: NOW + 100 + IDLE });
        let t = NOW;
        for (t = NOW + 250; t < NOW + CAP; t += 250) await deadlineOf(a.grant, a.root, t);
        expect(await deadlineOf(a.grant, a.root, NOW + CAP - 10)).toBe(NOW + CAP);
        expect(await deadlineOf(a.grant, a.root, NOW + CAP)).toBe(0);
      });

      it('14e. a revoked token does not postpone the session', async () => {
        const dev = `dev-${randomId(6)}`;
        const a = await signIn('alice', dev, 'app-a');
        await store.revokeAccessToken(a.grant.id, a.root.jti, NOW);
        const state = await store.getAccessTokenState(a.grant.id, a.root.jti, NOW + 100);
        expect(state.revoked).toBe(true);
        expect(state.deviceDeadline).toBe(NOW + IDLE);
      });

      it('14f. list, revoke one, revoke all', async () => {
        const user = `u-${randomId(6)}`;
        const a = await signIn(user, 'phone', 'app-a');
        await signIn(user, 'phone', 'app-b', NOW + 5);
        const tablet = await signIn(user, 'tablet', 'app-a', NOW + 7);
        expect(await store.listDeviceSessions('acme', user, NOW + 8)).toStrictEqual([
          {
            deviceId: 'phone',
            sessionId: a.grant.sessionId,
            createdAt: NOW,
            lastSeen: NOW + 5,
            deadline: NOW + 5 + IDLE,
            expiresAt: NOW + CAP,
            apps: [
              { clientId: 'app-a', lastSeen: NOW },
              { clientId: 'app-b', lastSeen: NOW + 5 },
            ],
          },
          {
            deviceId: 'tablet',
            sessionId: tablet.grant.sessionId,
            createdAt: NOW + 7,
            lastSeen: NOW + 7,
            deadline: NOW + 7 + IDLE,
            expiresAt: NOW + 7 + CAP,
            apps: [{ clientId: 'app-a', lastSeen: NOW + 7 }],
          },
        ]);
        expect(await store.listDeviceSessions('acme', user, NOW + 6 + IDLE)).toHaveLength(1);
        expect(await store.revokeDeviceSession('acme', user, 'phone')).toBe(true);
        expect(await store.revokeDeviceSession('acme', user, 'phone')).toBe(false);
        expect(await deadlineOf(a.grant, a.root, NOW + 9)).toBe(0);
        expect((await rotate(a.grant, a.root, { now: NOW + 9 })).result).toMatchObject({
          ok: false,
        });
        expect(await deadlineOf(tablet.grant, tablet.root, NOW + 9)).toBe(NOW + 9 + IDLE);
        expect(await store.revokeDeviceSessions('acme', user)).toBe(1);
        expect(await deadlineOf(tablet.grant, tablet.root, NOW + 10)).toBe(0);
        expect(await store.listDeviceSessions('acme', user, NOW + 10)).toStrictEqual([]);
        expect(await store.revokeDeviceSessions('acme', user)).toBe(0);
      });

      it('14g. 20 concurrent checks of one session from two apps: the deadline is the latest, once', async () => {
        const dev = `dev-${randomId(6)}`;
        const a = await signIn('alice', dev, 'app-a');
        const b = await signIn('alice', dev, 'app-b');
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            i % 2 ? deadlineOf(a.grant, a.root, NOW + 50) : deadlineOf(b.grant, b.root, NOW + 50),
          ),
        );
        expect(new Set(results)).toStrictEqual(new Set([NOW + 50 + IDLE]));
      });

      describe('14h. signing out of a device: revoking the last live grant of a session ends it', () => {
        const sessionOf = async (user: string, device: string, now: number) =>
          (await store.listDeviceSessions('acme', user, now)).find((s) => s.deviceId === device);

        it('two apps: revoking one family keeps the session; revoking the last ends it, and the next sign-in starts a new one', async () => {
          const user = `u-${randomId(6)}`;
          const a = await signIn(user, 'phone', 'app-a');
          const b = await signIn(user, 'phone', 'app-b', NOW + 5);
          const bob = await signIn(`b-${randomId(6)}`, 'phone', 'app-a');
          expect(b.grant.sessionId).toBe(a.grant.sessionId);

          // A foreign client's attempt changes nothing, session included.
          const before = await ts.snapshot();
          expect(await store.revokeByRefreshToken(a.grant.id, a.root.hash, 'app-b', NOW + 6)).toBe(
            'client_mismatch',
          );
          expect(await ts.snapshot()).toBe(before);

          expect(await store.revokeByRefreshToken(a.grant.id, a.root.hash, 'app-a', NOW + 10)).toBe(
            'revoked',
          );
          expect((await sessionOf(user, 'phone', NOW + 10))?.sessionId).toBe(a.grant.sessionId);
          expect(await deadlineOf(b.grant, b.root, NOW + 10)).toBe(NOW + 10 + IDLE);
          expect(await isActive(b.grant, b.root, NOW + 10)).toBe(true);

          expect(await store.revokeByRefreshToken(b.grant.id, b.root.hash, 'app-b', NOW + 20)).toBe(
            'revoked_session_ended',
          );
          expect(await sessionOf(user, 'phone', NOW + 20)).toBeUndefined();
          expect(await deadlineOf(b.grant, b.root, NOW + 20)).toBe(0);
          expect(await deadlineOf(a.grant, a.root, NOW + 20)).toBe(0);
          // Already revoked: said so, nothing more ends.
          expect(await store.revokeByRefreshToken(b.grant.id, b.root.hash, 'app-b', NOW + 21)).toBe(
            'already_revoked',
          );
          // Another user's session on the same device is untouched.
          expect(await deadlineOf(bob.grant, bob.root, NOW + 20)).toBe(NOW + 20 + IDLE);

          const again = await signIn(user, 'phone', 'app-a', NOW + 30);
          expect(again.grant.sessionId).not.toBe(a.grant.sessionId);
          expect(again.deviceDeadline).toBe(NOW + 30 + IDLE);
          expect(await deadlineOf(b.grant, b.root, NOW + 30)).toBe(0);
        });

        it("revokeGrant (admin, a user's grants ended) and reuse end the session with its last live grant", async () => {
          const user = `u-${randomId(6)}`;
          const a = await signIn(user, 'laptop', 'app-a');
          const b = await signIn(user, 'laptop', 'app-b');
          expect(await store.revokeGrant(a.grant.id, NOW + 1)).toBe('revoked');
          expect(await sessionOf(user, 'laptop', NOW + 1)).toBeDefined();
          expect(await store.revokeGrant(b.grant.id, NOW + 2)).toBe('revoked');
          expect(await sessionOf(user, 'laptop', NOW + 2)).toBeUndefined();

          // Reuse detection revokes the family: the session's last live grant, so it ends too.
          const c = await signIn(user, 'tablet', 'app-a', NOW + 3);
          expect((await rotate(c.grant, c.root, { now: NOW + 4 })).result).toMatchObject({
            ok: true,
          });
          expect((await rotate(c.grant, c.root, { now: NOW + 5 })).result).toStrictEqual({
            ok: false,
            reason: 'reused',
          });
          expect(await sessionOf(user, 'tablet', NOW + 5)).toBeUndefined();
        });

        it('a grant past its last expiry does not keep the session; a refresh keeps the grant live', async () => {
          const user = `u-${randomId(6)}`;
          const short = (root: Issued) => ({
            jti: root.jti,
            accessExpiresAt: NOW + 10,
            refresh: { hash: root.hash, expiresAt: NOW + 20 },
          });
          // App A's tokens all expire by NOW + 20; app B's live on.
          await signIn(user, 'phone', 'app-a', NOW, short);
          const b = await signIn(user, 'phone', 'app-b');
          expect(await store.revokeByRefreshToken(b.grant.id, b.root.hash, 'app-b', NOW + 30)).toBe(
            'revoked_session_ended',
          );

          // The same, but app A refreshed before its tokens expired: it is live, the session stays.
          const a2 = await signIn(user, 'tablet', 'app-a', NOW, short);
          const b2 = await signIn(user, 'tablet', 'app-b');
          const next = await rotate(a2.grant, a2.root, { now: NOW + 15 });
          expect(next.result).toMatchObject({ ok: true });
          expect(
            await store.revokeByRefreshToken(b2.grant.id, b2.root.hash, 'app-b', NOW + 30),
          ).toBe('revoked');
          expect(await deadlineOf(a2.grant, next.next, NOW + 30)).toBe(NOW + 30 + IDLE);
          expect(
            await store.revokeByRefreshToken(a2.grant.id, next.next.hash, 'app-a', NOW + 31),
          ).toBe('revoked_session_ended');
        });

        it('a grant of an earlier session of the device ends nothing of the current one', async () => {
          const user = `u-${randomId(6)}`;
          const old = await signIn(user, 'phone', 'app-a');
          const late = NOW + IDLE + 1; // the first session is over
          const current = await signIn(user, 'phone', 'app-b', late);
          expect(current.grant.sessionId).not.toBe(old.grant.sessionId);
          expect(await store.revokeGrant(old.grant.id, late + 1)).toBe('revoked');
          expect(
            await store.revokeByRefreshToken(old.grant.id, old.root.hash, 'app-a', late + 1),
          ).toBe('already_revoked');
          expect(await deadlineOf(current.grant, current.root, late + 2)).toBe(late + 2 + IDLE);
          // A session revoked by admin: revoking its grants afterwards ends nothing more.
          expect(await store.revokeDeviceSession('acme', user, 'phone')).toBe(true);
          expect(
            await store.revokeByRefreshToken(
              current.grant.id,
              current.root.hash,
              'app-b',
              late + 3,
            ),
          ).toBe('revoked');
        });

        it('10 apps revoking at once: the session ends exactly once, with the last of them', async () => {
          const user = `u-${randomId(6)}`;
          const apps = await Promise.all(
            Array.from({ length: 10 }, (_, i) => signIn(user, 'phone', `app-${i}`)),
          );
          expect(new Set(apps.map((a) => a.grant.sessionId)).size).toBe(1);
          const results = await Promise.all(
            apps.map((a) =>
              store.revokeByRefreshToken(a.grant.id, a.root.hash, a.grant.clientId, NOW + 1),
            ),
          );
          expect(results.filter((r) => r === 'revoked_session_ended')).toHaveLength(1);
          expect(results.filter((r) => r === 'revoked')).toHaveLength(9);
          expect(await sessionOf(user, 'phone', NOW + 1)).toBeUndefined();
        });
      });
    });

    describe('16. DPoP (RFC 9449): key-bound families and device sessions, proofs spent once', () => {
      const JKT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
      const OTHER = 'AAbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';

      it('16a. a family bound to a key rotates only with it: another key or none is key_mismatch and changes nothing; reuse is then detected as ever', async () => {
        const { grant, root } = await issue({ jkt: JKT });
        expect((await store.getAccessTokenState(grant.id, root.jti, NOW)).grant?.jkt).toBe(JKT);
        const before = await ts.snapshot();
        for (const jkt of [undefined, OTHER]) {
          const { result } = await rotate(grant, root, jkt ? { jkt } : {});
          expect(result).toStrictEqual({ ok: false, reason: 'key_mismatch' });
        }
        expect(await ts.snapshot()).toBe(before);
        const { result: ok } = await rotate(grant, root, { jkt: JKT });
        expect(ok).toMatchObject({ ok: true, grant: { jkt: JKT } });
        const { result: replay } = await rotate(grant, root, { jkt: JKT });
        expect(replay).toStrictEqual({ ok: false, reason: 'reused' });
      });

      it('16b. an unbound family rotates whatever key the request proves', async () => {
        const { grant, root } = await issue();
        const { result } = await rotate(grant, root);
        expect(result.ok).toBe(true);
      });

      it('16c. a device session started with a key belongs to it: another key or none is device_key and stores nothing; the key joins; a session started without one takes any', async () => {
        const dev = `dpop-${randomId(6)}`;
        const grantOn = (client: string) =>
          grantRecord({
            id: newGrantId({ tenantId: 'acme', username: 'dora', device: true }),
            subject: 'dora',
            clientId: client,
            deviceId: dev,
          });
        const input = (jkt?: string): DeviceSessionInput => ({
          idleTtl: 300,
          maxAge: 3600,
          candidateId: randomId(16),
          now: NOW,
          ...(jkt ? { jkt } : {}),
        });
        const first = await store.createGrant(grantOn('app-a'), tokensFor(newToken()), input(JKT));
        expect(first.refused).toBeUndefined();
        const listed = await store.listDeviceSessions('acme', 'dora', NOW);
        expect(listed.find((d) => d.deviceId === dev)?.jkt).toBe(JKT);
        const before = await ts.snapshot();
        for (const jkt of [OTHER, undefined]) {
          const g = grantOn('app-b');
          expect(await store.createGrant(g, tokensFor(newToken()), input(jkt))).toStrictEqual({
            refused: 'device_key',
          });
          expect((await store.getAccessTokenState(g.id, randomId(16), NOW)).grant).toBeUndefined();
        }
        expect(await ts.snapshot()).toBe(before);
        const joined = await store.createGrant(grantOn('app-b'), tokensFor(newToken()), input(JKT));
        expect(joined.refused).toBeUndefined();
        // Unbound: listed without jkt, any key joins.
        const free = `free-${randomId(6)}`;
        const g1 = grantRecord({
          id: newGrantId({ tenantId: 'acme', username: 'dora', device: true }),
          subject: 'dora',
          deviceId: free,
        });
        await store.createGrant(g1, tokensFor(newToken()), input());
        const g2 = { ...g1, id: newGrantId({ tenantId: 'acme', username: 'dora', device: true }) };
        expect(
          (await store.createGrant(g2, tokensFor(newToken()), input(OTHER))).refused,
        ).toBeUndefined();
        const all = await store.listDeviceSessions('acme', 'dora', NOW);
        expect(all.find((d) => d.deviceId === free)).not.toHaveProperty('jkt');
      });

      it('16d. a proof spent with a token state read is replayed the second time, not for an unknown grant; spendDpopProof per key', async () => {
        const { grant, root } = await issue();
        const proof = { id: randomId(16), expiresAt: NOW + 60 };
        const first = await store.getAccessTokenState(grant.id, root.jti, NOW, proof);
        expect(first).toMatchObject({ revoked: false, proofReplayed: false });
        expect(first.grant?.id).toBe(grant.id);
        expect(
          (await store.getAccessTokenState(grant.id, root.jti, NOW + 1, proof)).proofReplayed,
        ).toBe(true);
        // Kept for its whole lifetime. (When it is forgotten after that is the store's business:
        // the proof itself is refused by then. RedisStore lets Redis expire it.)
        expect(
          (await store.getAccessTokenState(grant.id, root.jti, NOW + 59, proof)).proofReplayed,
        ).toBe(true);
        const unknown = await store.getAccessTokenState(randomId(), randomId(16), NOW, proof);
        expect(unknown).toStrictEqual({ revoked: false });
        expect(await store.spendDpopProof(JKT, proof, NOW)).toBe(true);
        expect(await store.spendDpopProof(JKT, proof, NOW + 59)).toBe(false);
        expect(await store.spendDpopProof(OTHER, proof, NOW)).toBe(true);
      });

      it('16e. 20 concurrent reads spending one proof: exactly one is not a replay', async () => {
        const { grant, root } = await issue();
        const proof = { id: randomId(16), expiresAt: NOW + 60 };
        const states = await Promise.all(
          Array.from({ length: 20 }, () =>
            store.getAccessTokenState(grant.id, root.jti, NOW, proof),
          ),
        );
        expect(states.filter((s) => s.proofReplayed === false)).toHaveLength(1);
        const spent = await Promise.all(
          Array.from({ length: 20 }, () => store.spendDpopProof(OTHER, proof, NOW)),
        );
        expect(spent.filter(Boolean)).toHaveLength(1);
      });
    });

    describe('13. signing keys (own store, cases in order)', () => {
      let keyStore: TestStore;
      beforeAll(async () => {
        keyStore = await factory(`conf-keys-${name}`);
      });
      afterAll(() => keyStore.close());

      const key = (kid: string, createdAt = NOW): SigningKeyRecord => ({
        kid,
        alg: 'ES256',
        privateJwk: { kty: 'EC', d: `d-of-${kid}` },
        publicJwk: { kty: 'EC' },
        createdAt,
      });

      it('getSigningKeys is [] while none exist', async () => {
        expect(await keyStore.store.getSigningKeys()).toStrictEqual([]);
      });

      it('10 concurrent initSigningKeys with different kids: all get the same single key', async () => {
        const sets = await Promise.all(
          Array.from({ length: 10 }, (_, i) => keyStore.store.initSigningKeys(key(`k-init-${i}`))),
        );
        const first = sets[0];
        expect(first).toHaveLength(1);
        for (const s of sets) expect(s).toStrictEqual(first);
        expect(await keyStore.store.getSigningKeys()).toStrictEqual(first);
      });

      it('a later initSigningKeys keeps the first key', async () => {
        const stored = await keyStore.store.getSigningKeys();
        expect(await keyStore.store.initSigningKeys(key('k-late'))).toStrictEqual(stored);
        expect(await keyStore.store.getSigningKeys()).toStrictEqual(stored);
      });

      it('rotateSigningKeys puts the new key first and retires the previous one', async () => {
        const [first] = await keyStore.store.getSigningKeys();
        const k2 = key('k2', NOW + 10);
        const rotated = await keyStore.store.rotateSigningKeys(k2, NOW + 10, 100);
        const { privateJwk: _d, ...publicPart } = first as SigningKeyRecord;
        expect(rotated).toStrictEqual([
          k2,
          { ...publicPart, retiredAt: NOW + 10, expiresAt: NOW + 110 },
        ]);
        expect(await keyStore.store.getSigningKeys()).toStrictEqual(rotated);
      });

      it('a retired key whose expiresAt has passed is dropped at the next rotation', async () => {
        const [k2, first] = await keyStore.store.getSigningKeys();
        const k3 = key('k3', NOW + 200);
        const rotated = await keyStore.store.rotateSigningKeys(k3, NOW + 200, 100);
        expect(first?.expiresAt).toBe(NOW + 110);
        const { privateJwk: _d, ...publicPart } = k2 as SigningKeyRecord;
        expect(rotated).toStrictEqual([
          k3,
          { ...publicPart, retiredAt: NOW + 200, expiresAt: NOW + 300 },
        ]);
        expect(await keyStore.store.getSigningKeys()).toStrictEqual(rotated);
      });

      it('a rotated-out key keeps only its public part: clear and sealed private keys are dropped', async () => {
        const sealed: SigningKeyRecord = {
          kid: 'k-sealed',
          alg: 'ES256',
          sealedPrivateJwk: 'v1.iv.ciphertext.tag',
          publicJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' },
          createdAt: NOW + 300,
        };
        await keyStore.store.rotateSigningKeys(sealed, NOW + 300, 100);
        const k5 = key('k5', NOW + 310);
        const rotated = await keyStore.store.rotateSigningKeys(k5, NOW + 310, 100);
        expect(rotated.map((k) => k.kid)).toStrictEqual(['k5', 'k-sealed', 'k3']);
        const stored = await keyStore.store.getSigningKeys();
        expect(stored).toStrictEqual(rotated);
        expect(stored[0]).toStrictEqual(k5);
        for (const retired of stored.slice(1)) {
          expect(retired.retiredAt).toBeDefined();
          expect(retired).not.toHaveProperty('privateJwk');
          expect(retired).not.toHaveProperty('sealedPrivateJwk');
          expect(JSON.stringify(retired)).not.toContain('"d"');
        }
        expect(stored[1]).toStrictEqual({
          kid: 'k-sealed',
          alg: 'ES256',
          publicJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' },
          createdAt: NOW + 300,
          retiredAt: NOW + 310,
          expiresAt: NOW + 410,
        });
      });

      it('rotateSigningKeys with a distrusted kid drops that key at once, other keys retire as usual', async () => {
        const k6 = key('k6', NOW + 320);
        const rotated = await keyStore.store.rotateSigningKeys(k6, NOW + 320, 100, 'k5');
        expect(rotated.map((k) => k.kid)).toStrictEqual(['k6', 'k-sealed', 'k3']);
        expect(rotated[1]?.expiresAt).toBe(NOW + 410);
        expect(await keyStore.store.getSigningKeys()).toStrictEqual(rotated);
        const k7 = key('k7', NOW + 330);
        const next = await keyStore.store.rotateSigningKeys(k7, NOW + 330, 100, 'k-unknown');
        expect(next.map((k) => [k.kid, k.expiresAt])).toStrictEqual([
          ['k7', undefined],
          ['k6', NOW + 430],
          ['k-sealed', NOW + 410],
          ['k3', NOW + 400],
        ]);
      });
    });
  });
}
