// RedisStore: Store on ioredis (standalone, Sentinel or Cluster); each atomic change is one Lua script.
import type { Store as RateLimitStore } from 'express-rate-limit';
import type { Cluster, Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { FeedChange } from '../core/feed-change';
import { isDeviceGrant, tagOfGrant, userTag } from '../core/grant-id';
import { ConfigError, StoreUnavailableError } from '../errors';
import { splitDigest } from '../tokens/refresh-token';
import { byRecency, changedDeployment } from './deployments';
import { parseDeviceSessions } from './device-session';
import {
  decodeGrant,
  GRANT_FIELDS,
  type GrantField,
  grantPairs,
  type ReplyValue,
  replyLayout,
} from './grant-hash';
import { type RedisKeys, redisKeys } from './keys';
import { grantHorizon, isClientOwner, LEDGER_GRACE_SECONDS } from './ledger';
import { type ScriptInput, scriptArgs } from './lua-script';
import { AbandonedRotations } from './redis-abandons';
import { RedisChangeLog } from './redis-change-log';
import { type Durability, parseDurability } from './redis-durable';
import { RATE_LIMIT_COMMAND, RedisRateLimitStore, rateLimitScript } from './redis-rate-limit';
import { RedisRunner } from './redis-runner';
import { replies, type ScriptName, type Scripts, scripts } from './redis-scripts';
import type {
  AccessTokenState,
  ChangeBatch,
  ClientRecord,
  CreateGrantResult,
  DeploymentRecord,
  DeviceSessionInput,
  GrantCreation,
  GrantRecord,
  IssuedTokens,
  LedgerEntry,
  LedgerOwner,
  ProofUse,
  RefreshTokenState,
  ResourceRecord,
  RevokeGrantResult,
  RevokeRefreshResult,
  RotateInput,
  RotateResult,
  ScopeRecord,
  SigningKeyRecord,
  Store,
  TenantRecord,
  UserRecord,
} from './store';

export interface RedisStoreOptions {
  /** An ioredis client: `new Redis(...)`, a Sentinel-backed `Redis`, or `new Cluster(...)`. */
  redis: Redis | Cluster;
  /** Prepended to every key (default `tw:`); must not contain `{` or `}`. */
  prefix?: string;
  /**
   * Bound on each store call in ms (default 1000). A call that has not answered by then, or any
   * call while the client is reconnecting, fails with StoreUnavailableError (→ 503).
   */
  commandTimeout?: number;
  /**
   * Wait for replicas before answering writes of tokens (grant creation, rotation, revocations),
   * so a failover cannot lose what a client was told (Redis replication is asynchronous).
   * `replicas`: how many must acknowledge; `timeout`: ms to wait (bounded by commandTimeout).
   * When fewer acknowledge in time the call fails as unavailable (503; a rotation is abandoned).
   */
  durability?: Durability;
}

/** The plain HMGET of a grant without a device: revocation flags, then the grant. */
const PLAIN_ACCESS = replyLayout(['rev', 'x']);

/**
 * Grant fields no script changes once the grant is written: whom and what it was issued for. A
 * store that has read them for a grant reads only the others again (grant ids are never reused).
 */
const IDENTITY_FIELDS: readonly GrantField[] = [
  'cid',
  'tid',
  'gty',
  'sub',
  'lu',
  'dev',
  'res',
  'cat',
];
/** The rest of the grant (its existence, scope, binding, deadline, session) and the flags. */
const CHANGING_FIELDS = GRANT_FIELDS.filter((f) => !IDENTITY_FIELDS.includes(f));
/** Grants whose identity fields this store keeps, at most. */
const IDENTITIES = 10_000;

const parse = <T>(json: string | null): T | undefined =>
  json == null ? undefined : (JSON.parse(json) as T);

/**
 * Store backed by Redis. Keys are hash-tagged per grant so it runs unchanged on Redis Cluster.
 *
 * @example const store = new RedisStore({ redis: new Redis(process.env.REDIS_URL) });
 */
export class RedisStore implements Store {
  /** Redis is read by other processes (replicas, backups): servers keep only sealed keys here. */
  readonly shared = true;
  readonly redis: Redis | Cluster;
  readonly prefix: string;
  private readonly keys: RedisKeys;
  private readonly runner: RedisRunner;
  private readonly abandons = new AbandonedRotations();
  /**
   * Identity fields of grants read by getAccessTokenState, by grant id: each field costs the
   * client ~0.7 µs to ask for and parse, and a guarded request reads its grant every time.
   */
  private readonly identities = new LRUCache<string, Partial<Record<GrantField, ReplyValue>>>({
    max: IDENTITIES,
  });
  private readonly changes: RedisChangeLog;

  constructor(options: RedisStoreOptions) {
    if (!options?.redis)
      throw new ConfigError('RedisStore: `redis` (an ioredis client) is required');
    const given: unknown = options.redis;
    if (typeof given === 'string' || given instanceof URL || typeof given !== 'object')
      throw new ConfigError(
        'RedisStore: `redis` must be an ioredis client, not a URL: pass `new Redis(url)` ' +
          "(import { Redis } from 'ioredis'), and add redis.on('error', …) so reconnect errors are handled",
      );
    if (typeof (given as { defineCommand?: unknown }).defineCommand !== 'function')
      throw new ConfigError(
        'RedisStore: `redis` must be an ioredis client (`new Redis(url)` or `new Cluster(nodes)`); node-redis and other clients are not supported',
      );
    this.redis = options.redis;
    this.prefix = options.prefix ?? 'tw:';
    if (/[{}]/.test(this.prefix))
      throw new ConfigError('RedisStore: `prefix` must not contain { or }');
    const timeoutMs = options.commandTimeout ?? 1000;
    this.runner = new RedisRunner(
      this.redis,
      timeoutMs,
      parseDurability(options.durability, timeoutMs),
    );
    this.keys = redisKeys(this.prefix);
    this.changes = new RedisChangeLog(this.redis, this.runner, this.prefix);
    const all = { ...scripts, [RATE_LIMIT_COMMAND]: rateLimitScript };
    for (const [name, { lua, numberOfKeys }] of Object.entries(all)) {
      // defineCommand is idempotent per client; several stores may share one client.
      if (!(name in this.redis)) this.redis.defineCommand(name, { lua, numberOfKeys });
    }
  }

  /** A legacy token (no generation) may be in its family's legacy set; other tokens never are. */
  private issuedKeyFor(grantId: string, digest: string): string {
    return splitDigest(digest).generation === undefined
      ? this.keys.legacyIssued(grantId)
      : this.keys.issued(grantId);
  }

  /** Run script `name` with its keys and arguments by name. */
  private call<N extends ScriptName>(name: N, input: ScriptInput<Scripts[N]>) {
    return this.runner.script(name, scriptArgs<Scripts[N]>(scripts[name], input));
  }

  /** A token write: with `durability`, acknowledged by replicas. `onSend`: once handed to ioredis. */
  private write<N extends ScriptName>(
    name: N,
    input: ScriptInput<Scripts[N]>,
    rest: (string | number)[] = [],
    onSend?: () => void,
  ) {
    const script = scripts[name];
    return this.runner.write(name, script, scriptArgs<Scripts[N]>(script, input, rest), onSend);
  }

  // Registry: tenants, clients, tenants' local users, scopes --------------------------------

  private async getRecord<T>(key: string): Promise<T | undefined> {
    return parse<T>(await this.runner.run(() => this.redis.get(key)));
  }
  private async putRecord(recordKey: string, indexKey: string, member: string, value: unknown) {
    await this.call('twPutRecord', { recordKey, indexKey, json: JSON.stringify(value), member });
  }
  private async deleteRecord(recordKey: string, indexKey: string, member: string) {
    return Number(await this.call('twDeleteRecord', { recordKey, indexKey, member })) > 0;
  }
  private async listRecords<T>(index: string, keyOf: (m: string) => string): Promise<T[]> {
    const members = await this.runner.run(() => this.redis.smembers(index));
    if (members.length === 0) return [];
    const values = await this.runner.run(() => this.redis.mget(members.sort().map(keyOf)));
    return values.flatMap((v) => (v == null ? [] : [JSON.parse(v) as T]));
  }

  getTenant(id: string) {
    return this.getRecord<TenantRecord>(this.keys.tenant(id));
  }
  putTenant(t: TenantRecord) {
    return this.putRecord(this.keys.tenant(t.id), this.keys.tenants, t.id, t);
  }
  deleteTenant(id: string) {
    return this.deleteRecord(this.keys.tenant(id), this.keys.tenants, id);
  }
  listTenants() {
    return this.listRecords<TenantRecord>(this.keys.tenants, this.keys.tenant);
  }
  getClient(id: string) {
    return this.getRecord<ClientRecord>(this.keys.client(id));
  }
  putClient(c: ClientRecord) {
    return this.putRecord(this.keys.client(c.id), this.keys.clients, c.id, c);
  }
  deleteClient(id: string) {
    return this.deleteRecord(this.keys.client(id), this.keys.clients, id);
  }
  listClients() {
    return this.listRecords<ClientRecord>(this.keys.clients, this.keys.client);
  }
  getUser(tenantId: string, username: string) {
    return this.getRecord<UserRecord>(this.keys.user(tenantId, username));
  }
  putUser(u: UserRecord) {
    return this.putRecord(
      this.keys.user(u.tenantId, u.username),
      this.keys.users(u.tenantId),
      u.username,
      u,
    );
  }
  deleteUser(tenantId: string, username: string) {
    return this.deleteRecord(
      this.keys.user(tenantId, username),
      this.keys.users(tenantId),
      username,
    );
  }
  listUsers(tenantId: string) {
    return this.listRecords<UserRecord>(this.keys.users(tenantId), (u) =>
      this.keys.user(tenantId, u),
    );
  }
  // Password-hash upgrade ---------------------------------------------------------------
  async upgradePasswordHash(
    tenantId: string,
    username: string,
    expectedHash: string,
    newHash: string,
  ) {
    const recordKey = this.keys.user(tenantId, username);
    const replaced = await this.call('twUpgradePasswordHash', { recordKey, expectedHash, newHash });
    return Number(replaced) === 1;
  }
  getScope(name: string) {
    return this.getRecord<ScopeRecord>(this.keys.scope(name));
  }
  async getScopes(names: string[]) {
    if (names.length === 0) return [];
    const values = await this.runner.run(() => this.redis.mget(names.map(this.keys.scope)));
    return values.map((v) => parse<ScopeRecord>(v));
  }
  putScope(s: ScopeRecord) {
    return this.putRecord(this.keys.scope(s.name), this.keys.scopes, s.name, s);
  }
  deleteScope(name: string) {
    return this.deleteRecord(this.keys.scope(name), this.keys.scopes, name);
  }
  listScopes() {
    return this.listRecords<ScopeRecord>(this.keys.scopes, this.keys.scope);
  }
  // Resource servers (RFC 8707) ------------------------------------------------------------
  getResource(uri: string) {
    return this.getRecord<ResourceRecord>(this.keys.resource(uri));
  }
  putResource(r: ResourceRecord) {
    return this.putRecord(this.keys.resource(r.uri), this.keys.resources, r.uri, r);
  }
  deleteResource(uri: string) {
    return this.deleteRecord(this.keys.resource(uri), this.keys.resources, uri);
  }
  listResources() {
    return this.listRecords<ResourceRecord>(this.keys.resources, this.keys.resource);
  }

  // Tokens: grants and their refresh-token families ------------------------------------------

  async createGrant(
    grant: GrantRecord,
    tokens: IssuedTokens,
    session?: DeviceSessionInput,
    ledger?: LedgerEntry,
    origin?: GrantCreation,
  ): Promise<CreateGrantResult> {
    const refreshExp = tokens.refresh?.expiresAt ?? 0;
    const ttl = Math.max(1, Math.max(tokens.accessExpiresAt, refreshExp) - grant.createdAt);
    const fields = grantPairs(grant);
    fields.push('aexp', tokens.accessExpiresAt, 'cjti', tokens.jti);
    if (tokens.refresh) fields.push('cur', tokens.refresh.hash, 'cexp', refreshExp);
    const device = session && grant.deviceId ? grant.deviceId : '';
    // Its sessions key is its user's (sessionsOfGrant): only a tagged id has one.
    if (device && tagOfGrant(grant.id) === undefined)
      throw new TypeError(
        'RedisStore: a device-bound grant needs an id from newGrantId({ tenantId, username })',
      );
    const reply = await this.write(
      'twCreateGrant',
      {
        grantKey: this.keys.grant(grant.id),
        issuedKey: this.keys.issued(grant.id),
        sessionsKey: this.keys.sessionsOfGrant(grant.id),
        ledgerKey: this.keys.ledgerOfGrant(grant.id),
        ttl,
        refreshHash: tokens.refresh?.hash ?? '',
        device,
        now: session?.now ?? grant.createdAt,
        idleTtl: session?.idleTtl ?? 0,
        maxAge: session?.maxAge ?? 0,
        candidateId: session?.candidateId ?? '',
        clientId: grant.clientId,
        grantId: grant.id,
        generation: ledger?.generation ?? '',
        horizon: ledger?.until ?? grantHorizon(grant, tokens),
        code: origin?.authorizationCode ? 1 : 0,
        jkt: session?.jkt ?? '',
      },
      fields,
    );
    if (reply === 'stale' || reply === 'revoked' || reply === 'replayed' || reply === 'device_key')
      return { refused: reply };
    return reply === '' || reply == null ? {} : { deviceDeadline: Number(reply) };
  }

  /** Send the abandonment of a rotation of grant `grantId`, unbounded (see abandonRotation). */
  private landAbandon(grantId: string) {
    return (presentedHash: string, nextHash: string) =>
      this.runner.writeUnbounded(
        'twAbandonRotation',
        scripts.twAbandonRotation,
        scriptArgs(scripts.twAbandonRotation, {
          grantKey: this.keys.grant(grantId),
          presentedHash,
          nextHash,
        }),
      );
  }

  async rotateRefreshToken(input: RotateInput): Promise<RotateResult> {
    const { next } = input;
    const nextHash = next.refresh.hash;
    // Until the rotation is handed to ioredis it cannot run: its caller need not abandon it.
    this.abandons.unsent(nextHash);
    // Abandonments not known to have landed go first, bounded like any write.
    await this.abandons.flush(input.grantId, (presentedHash, abandoned) =>
      this.write('twAbandonRotation', {
        grantKey: this.keys.grant(input.grantId),
        presentedHash,
        nextHash: abandoned,
      }),
    );
    const res = (await this.write(
      'twRotate',
      {
        grantKey: this.keys.grant(input.grantId),
        // A legacy token (no generation) may be in its family's legacy set; other tokens never are.
        issuedKey: this.issuedKeyFor(input.grantId, input.presentedHash),
        sessionsKey: this.keys.sessionsOfGrant(input.grantId),
        presentedHash: input.presentedHash,
        clientId: input.clientId,
        now: input.now,
        leeway: input.leewaySeconds,
        requestedScope: input.requestedScope,
        nextHash,
        nextRefreshExp: next.refresh.expiresAt,
        nextJti: next.jti,
        nextAccessExp: next.accessExpiresAt,
        clientScope: input.clientScope ?? '-',
        resource: input.resource ?? '',
        jkt: input.jkt ?? '',
      },
      [],
      () => this.abandons.sent(nextHash),
    )) as ReplyValue[];
    const { head, grant } = replies.rotate.decode(res);
    // It met its own abandonment (it ran late) or its own earlier run (a resent command whose
    // first answer was lost): either way it did not take effect now; the client retries.
    if (head.status === 'abandoned')
      throw new StoreUnavailableError('rotation refused: abandoned before it ran, or run already');
    if (head.status !== 'ok')
      return { ok: false, reason: head.status as Exclude<RotateResult, { ok: true }>['reason'] };
    if (!grant) return { ok: false, reason: 'not_found' };
    return {
      ok: true,
      grant,
      retried: head.retried === '1',
      ...(head.deadline ? { deviceDeadline: Number(head.deadline) } : {}),
    };
  }

  async abandonRotation(grantId: string, presentedHash: string, nextHash: string) {
    // Not bounded by the runner: it must queue behind the timed-out rotation on the same
    // connection. With durability it counts as landed only once replicas have it: a failover
    // must not lose it either.
    await this.abandons.abandon(grantId, presentedHash, nextHash, this.landAbandon(grantId));
  }

  async revokeByRefreshToken(grantId: string, refreshHash: string, clientId: string, now: number) {
    return (await this.write('twRevokeRefresh', {
      grantKey: this.keys.grant(grantId),
      issuedKey: this.issuedKeyFor(grantId, refreshHash),
      sessionsKey: this.keys.sessionsOfGrant(grantId),
      refreshHash,
      clientId,
      now,
    })) as RevokeRefreshResult;
  }

  async revokeAccessToken(grantId: string, jti: string) {
    await this.write('twRevokeAccess', { grantKey: this.keys.grant(grantId), jti });
  }

  async revokeGrant(grantId: string, now: number, tombstone = 0): Promise<RevokeGrantResult> {
    const n = Number(
      await this.write('twRevokeGrant', {
        grantKey: this.keys.grant(grantId),
        issuedKey: this.keys.issued(grantId),
        sessionsKey: this.keys.sessionsOfGrant(grantId),
        now,
        tombstone,
      }),
    );
    return n === 1 ? 'revoked' : n === 2 ? 'already_revoked' : 'not_found';
  }

  // Grant ledgers ---------------------------------------------------------------------------

  private ledgerKey(owner: LedgerOwner): string {
    return isClientOwner(owner)
      ? this.keys.clientLedger(owner.clientId)
      : this.keys.userLedger(userTag(owner.tenantId, owner.username));
  }

  async getLedgerGeneration(owner: LedgerOwner): Promise<string> {
    const key = this.ledgerKey(owner);
    const [m] = await this.runner.run(() =>
      this.redis.zrangebyscore(key, '+inf', '+inf', 'LIMIT', 0, 1),
    );
    return m ? m.slice('~gen:'.length) : '';
  }

  /**
   * The ledger generation, then `read()`: commands on one connection to one node run in the order
   * sent, so both go together; a cluster may hold them on two nodes, so it waits in between.
   */
  private async generationThen<T>(owner: LedgerOwner, read: () => Promise<T>) {
    if (this.redis.isCluster) {
      const generation = await this.getLedgerGeneration(owner);
      return { generation, value: await read() };
    }
    const [generation, value] = await Promise.all([this.getLedgerGeneration(owner), read()]);
    return { generation, value };
  }

  async getUserWithGeneration(tenantId: string, username: string) {
    const { generation, value } = await this.generationThen({ tenantId, username }, () =>
      this.getUser(tenantId, username),
    );
    return value ? { user: value, generation } : { generation };
  }

  async getClientWithGeneration(id: string) {
    const { generation, value } = await this.generationThen({ clientId: id }, () =>
      this.getClient(id),
    );
    return value ? { client: value, generation } : { generation };
  }

  async addClientGrant(clientId: string, grantId: string, entry: LedgerEntry, now: number) {
    const added = await this.write('twAddClientGrant', {
      ledgerKey: this.keys.clientLedger(clientId),
      grantId,
      generation: entry.generation,
      horizon: entry.until,
      now,
    });
    return Number(added) === 1;
  }

  async renewLedger(owner: LedgerOwner, generation: string, endGrants: boolean, now: number) {
    // The revocations below wait for replicas (durability); the ledger's own change need not:
    // lost in a failover, it lists grants that are revoked anyway.
    const ids = (await this.call('twRenewLedger', {
      ledgerKey: this.ledgerKey(owner),
      generation,
      endGrants: endGrants ? '1' : '0',
      now,
      minTtl: LEDGER_GRACE_SECONDS,
    })) as string[];
    // Each grant is in its own slot (a client's) or its user's: one script each, sent together.
    const results = await Promise.all(
      ids.map((id) => this.revokeGrant(id, now, LEDGER_GRACE_SECONDS)),
    );
    return results.filter((r) => r === 'revoked').length;
  }

  async getAccessTokenState(
    grantId: string,
    jti: string,
    now: number,
    proof?: ProofUse,
  ): Promise<AccessTokenState> {
    const grantKey = this.keys.grant(grantId);
    if (!isDeviceGrant(grantId) && !proof) {
      // No device session to check or postpone, no proof to spend: a plain HMGET is cheaper for
      // Redis than a script.
      const known = this.identities.get(grantId);
      if (known) {
        // Flags and the fields that can change; the identity as read before.
        const reply = await this.runner.run(() =>
          this.redis.hmget(grantKey, 'rev', `x:${jti}`, ...CHANGING_FIELDS),
        );
        const fields = { ...known };
        CHANGING_FIELDS.forEach((f, i) => {
          fields[f] = reply[2 + i];
        });
        const grant = decodeGrant(fields);
        return grant
          ? { grant, revoked: reply[0] === '1' || reply[1] === '1' }
          : { revoked: false };
      }
      const fields = PLAIN_ACCESS.hmgetFields({ rev: 'rev', x: `x:${jti}` });
      const reply = await this.runner.run(() => this.redis.hmget(grantKey, ...fields));
      const { head, grant } = PLAIN_ACCESS.decode(reply);
      if (!grant) return { revoked: false };
      const identity: Partial<Record<GrantField, ReplyValue>> = {};
      for (const f of IDENTITY_FIELDS) identity[f] = reply[2 + GRANT_FIELDS.indexOf(f)];
      this.identities.set(grantId, identity);
      return { grant, revoked: head.rev === '1' || head.x === '1' };
    }
    const reply = (await this.call('twAccessState', {
      grantKey,
      sessionsKey: this.keys.sessionsOfGrant(grantId),
      proofKey: proof ? this.keys.proof(grantId, proof.id) : grantKey,
      jti,
      now,
      proofTtl: proof ? Math.max(1, proof.expiresAt - now) : 0,
    })) as ReplyValue[];
    const { head, grant } = replies.access.decode(reply);
    if (!grant) return { revoked: false };
    return {
      grant,
      revoked: head.rev === '1' || head.x === '1',
      ...(head.deadline ? { deviceDeadline: Number(head.deadline) } : {}),
      ...(proof ? { proofReplayed: head.replayed === '1' } : {}),
    };
  }

  async spendDpopProof(jkt: string, proof: ProofUse, now: number): Promise<boolean> {
    const key = this.keys.proofOfKey(jkt, proof.id);
    const ttl = Math.max(1, proof.expiresAt - now);
    return (await this.runner.run(() => this.redis.set(key, '1', 'EX', ttl, 'NX'))) === 'OK';
  }

  async getRefreshTokenState(grantId: string, refreshHash: string, now: number) {
    const reply = (await this.call('twRefreshState', {
      grantKey: this.keys.grant(grantId),
      issuedKey: this.issuedKeyFor(grantId, refreshHash),
      sessionsKey: this.keys.sessionsOfGrant(grantId),
      refreshHash,
      now,
    })) as ReplyValue[];
    const { head, grant } = replies.refresh.decode(reply);
    if (!grant || head.known !== 1) return undefined;
    const expiresAt = Math.min(Number(head.cexp ?? 0), grant.maxExpiresAt);
    const sessionLive = !head.deadline || Number(head.deadline) > now;
    const state: RefreshTokenState = {
      grant,
      active: head.rev !== '1' && head.cur === refreshHash && expiresAt > now && sessionLive,
      expiresAt,
    };
    return state;
  }

  // Device sessions ------------------------------------------------------------------------

  async listDeviceSessions(tenantId: string, username: string, now: number) {
    const key = this.keys.sessions(userTag(tenantId, username));
    return parseDeviceSessions(await this.runner.run(() => this.redis.hgetall(key)), now);
  }

  async revokeDeviceSession(tenantId: string, username: string, device: string) {
    const sessionsKey = this.keys.sessions(userTag(tenantId, username));
    return Number(await this.write('twRevokeDevice', { sessionsKey, device })) === 1;
  }

  async revokeDeviceSessions(tenantId: string, username: string) {
    const sessionsKey = this.keys.sessions(userTag(tenantId, username));
    return Number(await this.write('twRevokeDevices', { sessionsKey }));
  }

  // Deployments ----------------------------------------------------------------------------

  async recordDeployment(record: DeploymentRecord) {
    const key = this.keys.deployments;
    const stored = await this.runner.run(() => this.redis.hget(key, record.issuer));
    if (stored && !changedDeployment(JSON.parse(stored) as DeploymentRecord, record)) return;
    await this.runner.run(() => this.redis.hset(key, record.issuer, JSON.stringify(record)));
  }
  async listDeployments() {
    const all = await this.runner.run(() => this.redis.hgetall(this.keys.deployments));
    return byRecency(Object.values(all).map((json) => JSON.parse(json) as DeploymentRecord));
  }

  // Signing keys ---------------------------------------------------------------------------

  async getSigningKeys() {
    const json = await this.runner.run(() => this.redis.get(this.keys.signingKeys));
    return parse<SigningKeyRecord[]>(json) ?? [];
  }
  async initSigningKeys(candidate: SigningKeyRecord) {
    const json = await this.call('twInitKeys', {
      keysKey: this.keys.signingKeys,
      json: JSON.stringify([candidate]),
    });
    return JSON.parse(String(json)) as SigningKeyRecord[];
  }
  async rotateSigningKeys(
    next: SigningKeyRecord,
    now: number,
    retainSeconds: number,
    distrust?: string,
  ) {
    const json = await this.call('twRotateKeys', {
      keysKey: this.keys.signingKeys,
      nextKey: JSON.stringify(next),
      now,
      retain: retainSeconds,
      distrust: distrust ?? '',
    });
    return JSON.parse(String(json)) as SigningKeyRecord[];
  }

  // Rate limiting ---------------------------------------------------------------------------

  /**
   * An express-rate-limit store on this client, counting under `${prefix}rl:${name}` and bounded
   * by `commandTimeout` like every store call.
   */
  rateLimitStore(name: string): RateLimitStore {
    return new RedisRateLimitStore(this.runner, `${this.prefix}rl:${name}`);
  }

  appendChange(change: FeedChange): Promise<void> {
    return this.changes.append(change);
  }

  readChanges(after: string | undefined, waitMs: number): Promise<ChangeBatch> {
    return this.changes.read(after, waitMs);
  }

  /** Closes the connection the change feed's blocking reads use (the caller's client stays open). */
  async close() {
    this.changes.close();
  }
}
