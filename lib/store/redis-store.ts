// RedisStore: Store on ioredis (standalone, Sentinel or Cluster); atomic changes are Lua scripts run by SHA.
import { createHash } from 'node:crypto';
import type { Store as RateLimitStore } from 'express-rate-limit';
import type { Cluster, Redis } from 'ioredis';
import { RedisStore as RateLimitRedisStore } from 'rate-limit-redis';
import { tagOfGrant, userTag } from '../core/grant-id';
import { ConfigError, StoreUnavailableError } from '../errors';
import { parseDeviceSessions } from './device-session';
import { type RedisKeys, redisKeys } from './keys';
import { GRANT_FIELDS, type ScriptName, scripts } from './redis-scripts';
import type {
  AccessTokenState,
  ClientRecord,
  DeviceSessionInput,
  GrantRecord,
  IssuedTokens,
  RefreshTokenState,
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
  durability?: { replicas: number; timeout: number };
}

type Field = string | null;
type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

// Errors Redis answers while it cannot serve: unavailable, not a bug in our scripts.
const TRANSIENT_REPLY =
  /^(CLUSTERDOWN|TRYAGAIN|LOADING|READONLY|MASTERDOWN|NOREPLICAS|BUSY|MOVED|ASK)\b/;

function toGrant(f: Field[]): GrantRecord | undefined {
  const [id, cid, tid, gty, sub, scope, lu, dev, cat, max, ses] = f;
  if (!id || !cid || !tid || !sub || scope == null) return undefined;
  return {
    id,
    clientId: cid,
    tenantId: tid,
    grantType: gty === 'password' ? 'password' : 'client_credentials',
    subject: sub,
    scope,
    ...(lu ? { localUser: lu } : {}),
    ...(dev ? { deviceId: dev } : {}),
    ...(ses ? { sessionId: ses } : {}),
    createdAt: Number(cat),
    maxExpiresAt: Number(max),
  };
}

const parse = <T>(json: string | null): T | undefined =>
  json == null ? undefined : (JSON.parse(json) as T);

/** A Cluster client's connection to `host:port` (a MOVED or ASK target), if it has one. */
function nodeAt(cluster: Cluster, address: string): Redis | undefined {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i);
  const port = Number(address.slice(i + 1));
  // 'all': a replica promoted since the last slot refresh is still filed as one.
  return cluster.nodes('all').find((n) => n.options.port === port && n.options.host === host);
}

/** Remembers up to `max` strings, forgetting the oldest first. */
class BoundedSet {
  private readonly items = new Set<string>();
  constructor(private readonly max: number) {}
  add(item: string) {
    if (this.items.size >= this.max) {
      const oldest = this.items.values().next().value;
      if (oldest !== undefined) this.items.delete(oldest);
    }
    this.items.add(item);
  }
  delete(item: string) {
    return this.items.delete(item);
  }
}

/**
 * Store backed by Redis. Keys are hash-tagged per grant so it runs unchanged on Redis Cluster.
 *
 * @example const store = new RedisStore({ redis: new Redis(process.env.REDIS_URL) });
 */
export class RedisStore implements Store {
  readonly redis: Redis | Cluster;
  readonly prefix: string;
  private readonly keys: RedisKeys;
  private readonly timeoutMs: number;
  private readonly durability?: { replicas: number; timeout: number };
  private readonly luaBySha = new Map<string, string>();
  /** grant id → (next hash → presented hash) of abandonments not known to have landed. */
  private readonly pendingAbandons = new Map<string, Map<string, string>>();
  /** Successors of rotations that failed before they were handed to ioredis: nothing to abandon. */
  private readonly unsentRotations = new BoundedSet(1000);

  constructor(options: RedisStoreOptions) {
    if (!options?.redis)
      throw new ConfigError('RedisStore: `redis` (an ioredis client) is required');
    this.redis = options.redis;
    this.prefix = options.prefix ?? 'tw:';
    if (/[{}]/.test(this.prefix))
      throw new ConfigError('RedisStore: `prefix` must not contain { or }');
    this.timeoutMs = options.commandTimeout ?? 1000;
    const d = options.durability;
    if (d !== undefined) {
      if (
        !Number.isInteger(d?.replicas) ||
        d.replicas < 1 ||
        !Number.isInteger(d.timeout) ||
        d.timeout < 1 ||
        d.timeout >= this.timeoutMs
      )
        throw new ConfigError(
          'RedisStore: `durability` needs whole `replicas` >= 1 and `timeout` ms below commandTimeout',
        );
      this.durability = { replicas: d.replicas, timeout: d.timeout };
    }
    this.keys = redisKeys(this.prefix);
    for (const [name, def] of Object.entries(scripts)) {
      // defineCommand is idempotent per client; several stores may share one client.
      if (!(name in this.redis)) this.redis.defineCommand(name, def);
    }
  }

  /** Run one Redis call bounded in time; connection trouble becomes StoreUnavailableError. */
  private async run<T>(op: () => Promise<T>): Promise<T> {
    const status = this.redis.status;
    if (status === 'reconnecting' || status === 'end' || status === 'close') {
      throw new StoreUnavailableError(`redis is ${status}`);
    }
    // One promise and one timer per call, no Promise.race: this runs once per guarded request.
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new StoreUnavailableError(`redis did not answer in ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      let pending: Promise<T>;
      try {
        pending = op();
      } catch (err) {
        clearTimeout(timer);
        throw err;
      }
      pending.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          const e = err as Error;
          if (err instanceof StoreUnavailableError) reject(err);
          else if (e?.name === 'ReplyError' && !TRANSIENT_REPLY.test(e.message)) reject(err);
          else reject(new StoreUnavailableError('redis call failed', { cause: err }));
        },
      );
    });
  }

  private script(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    return this.call(name, args);
  }

  /** Run script `name`; `onSend` is called once the call is handed to ioredis. */
  private call(name: ScriptName, args: (string | number)[], onSend?: () => void): Promise<unknown> {
    const fn = (this.redis as unknown as Record<ScriptName, ScriptFn>)[name];
    return this.run(() => {
      onSend?.();
      return fn.apply(this.redis, args);
    });
  }

  /** A token write: with `durability`, acknowledged by replicas (see {@link durable}). */
  private write(name: ScriptName, args: (string | number)[], onSend?: () => void) {
    if (!this.durability) return this.call(name, args, onSend);
    const deadline = Date.now() + this.timeoutMs;
    return this.run(() => {
      onSend?.();
      return this.durable(name, args, deadline);
    });
  }

  /**
   * Script `name` and a WAIT in one pipeline: on a Cluster the pipeline follows the script's key
   * to its master, and WAIT covers that connection's writes. Fails (StoreUnavailableError) when
   * fewer replicas than `durability.replicas` acknowledged.
   *
   * ioredis retries a Cluster pipeline only when every reply failed alike; here WAIT answers, so
   * the script's MOVED / ASK / TRYAGAIN comes back as is and is followed here until `deadline`:
   * the script and WAIT go straight to the node named by MOVED (while ioredis refreshes its slot
   * map in the background: that takes a round of CLUSTER SLOTS on a new connection) or by ASK
   * (after ASKING); TRYAGAIN (a multi-key call meeting a slot mid-migration) waits a little.
   */
  private async durable(
    name: ScriptName,
    args: (string | number)[],
    deadline: number,
  ): Promise<unknown> {
    const d = this.durability as { replicas: number; timeout: number };
    const cluster = 'refreshSlotsCache' in this.redis ? (this.redis as Cluster) : undefined;
    let redirected: { node: Redis; asking: boolean } | undefined;
    for (;;) {
      let results: [Error | null, unknown][];
      if (redirected) {
        const { lua, numberOfKeys } = scripts[name];
        const pipeline = redirected.node.pipeline();
        if (redirected.asking) pipeline.asking();
        pipeline.eval(lua, numberOfKeys, ...args).wait(d.replicas, d.timeout);
        results = ((await pipeline.exec()) ?? []).slice(redirected.asking ? 1 : 0);
      } else {
        const pipeline = this.redis.pipeline() as unknown as Record<ScriptName, ScriptFn> & {
          wait(replicas: number, timeout: number): unknown;
          exec(): Promise<[Error | null, unknown][] | null>;
        };
        pipeline[name](...args);
        pipeline.wait(d.replicas, d.timeout);
        results = (await pipeline.exec()) ?? [];
      }
      const [scriptResult, waitResult] = results;
      const redirect = /^(MOVED|ASK|TRYAGAIN)\b(?: \d+ (\S+))?/.exec(
        scriptResult?.[0]?.message ?? '',
      );
      if (redirect && cluster && Date.now() < deadline) {
        const [, kind, address = ''] = redirect;
        if (kind === 'TRYAGAIN') {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        if (kind === 'MOVED') cluster.refreshSlotsCache();
        const node = nodeAt(cluster, address);
        redirected = node ? { node, asking: kind === 'ASK' } : undefined;
        // A node ioredis has no connection to yet: once the slot map names it, it has one.
        if (!node) await new Promise<void>((r) => cluster.refreshSlotsCache(() => r()));
        continue;
      }
      if (scriptResult?.[0]) throw scriptResult[0];
      if (waitResult?.[0]) throw waitResult[0];
      if (Number(waitResult?.[1]) < d.replicas)
        throw new StoreUnavailableError(
          `write acknowledged by ${waitResult?.[1]} of ${d.replicas} replicas`,
        );
      return scriptResult?.[1];
    }
  }

  // Registry -------------------------------------------------------------------------------

  private async getRecord<T>(key: string): Promise<T | undefined> {
    return parse<T>(await this.run(() => this.redis.get(key)));
  }
  private async putRecord(key: string, index: string, member: string, value: unknown) {
    await this.script('twPutRecord', key, index, JSON.stringify(value), member);
  }
  private async deleteRecord(key: string, index: string, member: string) {
    return Number(await this.script('twDeleteRecord', key, index, member)) > 0;
  }
  private async listRecords<T>(index: string, keyOf: (m: string) => string): Promise<T[]> {
    const members = await this.run(() => this.redis.smembers(index));
    if (members.length === 0) return [];
    const values = await this.run(() => this.redis.mget(members.sort().map(keyOf)));
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
  getScope(name: string) {
    return this.getRecord<ScopeRecord>(this.keys.scope(name));
  }
  async getScopes(names: string[]) {
    if (names.length === 0) return [];
    const values = await this.run(() => this.redis.mget(names.map(this.keys.scope)));
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

  // Tokens ---------------------------------------------------------------------------------

  async createGrant(grant: GrantRecord, tokens: IssuedTokens, session?: DeviceSessionInput) {
    const refreshExp = tokens.refresh?.expiresAt ?? 0;
    const ttl = Math.max(1, Math.max(tokens.accessExpiresAt, refreshExp) - grant.createdAt);
    const fields: (string | number)[] = [
      'id',
      grant.id,
      'cid',
      grant.clientId,
      'tid',
      grant.tenantId,
      'gty',
      grant.grantType,
      'sub',
      grant.subject,
      'scope',
      grant.scope,
      'cat',
      grant.createdAt,
      'max',
      grant.maxExpiresAt,
      'aexp',
      tokens.accessExpiresAt,
      'cjti',
      tokens.jti,
    ];
    if (grant.localUser) fields.push('lu', grant.localUser);
    if (grant.deviceId) fields.push('dev', grant.deviceId);
    if (tokens.refresh) fields.push('cur', tokens.refresh.hash, 'cexp', refreshExp);
    const device = session && grant.deviceId ? grant.deviceId : '';
    // Its sessions key is its user's (sessionsOfGrant): only a tagged id has one.
    if (device && tagOfGrant(grant.id) === undefined)
      throw new TypeError(
        'RedisStore: a device-bound grant needs an id from newGrantId({ tenantId, username })',
      );
    const deadline = await this.write('twCreateGrant', [
      this.keys.grant(grant.id),
      this.keys.issued(grant.id),
      this.keys.sessionsOfGrant(grant.id),
      ttl,
      tokens.refresh?.hash ?? '',
      device,
      session?.now ?? 0,
      session?.idleTtl ?? 0,
      session?.maxAge ?? 0,
      session?.candidateId ?? '',
      grant.clientId,
      ...fields,
    ]);
    return deadline === '' || deadline == null ? {} : { deviceDeadline: Number(deadline) };
  }

  async rotateRefreshToken(input: RotateInput): Promise<RotateResult> {
    const { next } = input;
    const nextHash = next.refresh.hash;
    const grantKey = this.keys.grant(input.grantId);
    const issuedKey = this.keys.issued(input.grantId);
    // Until the rotation is handed to ioredis it cannot run: its caller need not abandon it.
    this.unsentRotations.add(nextHash);
    // Abandonments not known to have landed go first: the client may be retrying one of them.
    const pending = this.pendingAbandons.get(input.grantId);
    for (const [abandoned, presented] of pending ?? []) {
      await this.write('twAbandonRotation', [grantKey, issuedKey, presented, abandoned]);
      pending?.delete(abandoned);
    }
    if (pending?.size === 0 && this.pendingAbandons.get(input.grantId) === pending)
      this.pendingAbandons.delete(input.grantId);
    const res = (await this.write(
      'twRotate',
      [
        grantKey,
        issuedKey,
        this.keys.sessionsOfGrant(input.grantId),
        input.presentedHash,
        input.clientId,
        input.now,
        input.leewaySeconds,
        input.requestedScope,
        nextHash,
        next.refresh.expiresAt,
        next.jti,
        next.accessExpiresAt,
      ],
      () => this.unsentRotations.delete(nextHash),
    )) as Field[];
    const [status, retried, deadline, ...fields] = res;
    // It met its own abandonment (it ran late) or its own earlier run (a resent command whose
    // first answer was lost): either way it did not take effect now; the client retries.
    if (status === 'abandoned')
      throw new StoreUnavailableError('rotation refused: abandoned before it ran, or run already');
    if (status !== 'ok')
      return { ok: false, reason: status as Exclude<RotateResult, { ok: true }>['reason'] };
    const grant = toGrant(fields);
    if (!grant) return { ok: false, reason: 'not_found' };
    return {
      ok: true,
      grant,
      retried: retried === '1',
      ...(deadline ? { deviceDeadline: Number(deadline) } : {}),
    };
  }

  async abandonRotation(grantId: string, presentedHash: string, nextHash: string) {
    if (this.unsentRotations.delete(nextHash)) return; // it never reached Redis
    // Remembered until it lands: the grant's next rotation (the client's retry) sends it first,
    // whether this one is lost with the connection or still waiting in ioredis' retries.
    if (this.pendingAbandons.size >= 10_000) {
      const oldest = this.pendingAbandons.keys().next().value;
      if (oldest !== undefined) this.pendingAbandons.delete(oldest);
    }
    const pending = this.pendingAbandons.get(grantId) ?? new Map<string, string>();
    this.pendingAbandons.set(grantId, pending);
    if (pending.size < 16) pending.set(nextHash, presentedHash);
    // Not through run(): it must queue behind the timed-out rotation on the same connection
    // (ioredis keeps order, and resends unanswered commands after a reconnect). With durability
    // it counts as landed only once replicas have it: a failover must not lose it either.
    const args = [this.keys.grant(grantId), this.keys.issued(grantId), presentedHash, nextHash];
    if (this.durability) await this.durable('twAbandonRotation', args, Date.now() + this.timeoutMs);
    else {
      const fn = (this.redis as unknown as Record<ScriptName, ScriptFn>).twAbandonRotation;
      await fn.apply(this.redis, args);
    }
    pending.delete(nextHash);
    if (pending.size === 0 && this.pendingAbandons.get(grantId) === pending) {
      this.pendingAbandons.delete(grantId);
    }
  }

  async revokeByRefreshToken(grantId: string, hash: string, clientId: string, now: number) {
    return (await this.write('twRevokeRefresh', [
      this.keys.grant(grantId),
      this.keys.issued(grantId),
      hash,
      clientId,
      now,
    ])) as RevokeRefreshResult;
  }

  async revokeAccessToken(grantId: string, jti: string) {
    await this.write('twRevokeAccess', [this.keys.grant(grantId), jti]);
  }

  async revokeGrant(grantId: string, now: number): Promise<RevokeGrantResult> {
    const n = Number(
      await this.write('twRevokeGrant', [this.keys.grant(grantId), this.keys.issued(grantId), now]),
    );
    return n === 1 ? 'revoked' : n === 2 ? 'already_revoked' : 'not_found';
  }

  async getAccessTokenState(grantId: string, jti: string, now: number): Promise<AccessTokenState> {
    if (tagOfGrant(grantId) === undefined) {
      // No device session to check or postpone: a plain HMGET is cheaper for Redis than a script.
      const [rev, x, ...fields] = await this.run(() =>
        this.redis.hmget(this.keys.grant(grantId), 'rev', `x:${jti}`, ...GRANT_FIELDS),
      );
      const grant = toGrant(fields);
      return grant ? { grant, revoked: rev === '1' || x === '1' } : { revoked: false };
    }
    const f = (await this.script(
      'twAccessState',
      this.keys.grant(grantId),
      this.keys.sessionsOfGrant(grantId),
      jti,
      now,
    )) as Field[];
    const [rev, x, deadline, ...fields] = f;
    const grant = toGrant(fields);
    if (!grant) return { revoked: false };
    return {
      grant,
      revoked: rev === '1' || x === '1',
      ...(deadline ? { deviceDeadline: Number(deadline) } : {}),
    };
  }

  async getRefreshTokenState(grantId: string, hash: string, now: number) {
    const res = (await this.script(
      'twRefreshState',
      this.keys.grant(grantId),
      this.keys.issued(grantId),
      this.keys.sessionsOfGrant(grantId),
      hash,
      now,
    )) as [number, ...Field[]];
    const [known, deadline, rev, cur, cexp, ...fields] = res;
    const grant = toGrant(fields);
    if (!grant || known !== 1) return undefined;
    const expiresAt = Math.min(Number(cexp ?? 0), grant.maxExpiresAt);
    const sessionLive = !deadline || Number(deadline) > now;
    const state: RefreshTokenState = {
      grant,
      active: rev !== '1' && cur === hash && expiresAt > now && sessionLive,
      expiresAt,
    };
    return state;
  }

  // Device sessions ------------------------------------------------------------------------

  async listDeviceSessions(tenantId: string, username: string, now: number) {
    const hash = await this.run(() =>
      this.redis.hgetall(this.keys.sessions(userTag(tenantId, username))),
    );
    return parseDeviceSessions(hash, now);
  }

  async revokeDeviceSession(tenantId: string, username: string, deviceId: string) {
    const key = this.keys.sessions(userTag(tenantId, username));
    return Number(await this.write('twRevokeDevice', [key, deviceId])) === 1;
  }

  async revokeDeviceSessions(tenantId: string, username: string) {
    const key = this.keys.sessions(userTag(tenantId, username));
    return Number(await this.write('twRevokeDevices', [key]));
  }

  // Signing keys ---------------------------------------------------------------------------

  async getSigningKeys() {
    return (
      parse<SigningKeyRecord[]>(await this.run(() => this.redis.get(this.keys.signingKeys))) ?? []
    );
  }
  async initSigningKeys(candidate: SigningKeyRecord) {
    const json = await this.script(
      'twInitKeys',
      this.keys.signingKeys,
      JSON.stringify([candidate]),
    );
    return JSON.parse(String(json)) as SigningKeyRecord[];
  }
  async rotateSigningKeys(next: SigningKeyRecord, now: number, retainSeconds: number) {
    const json = await this.script(
      'twRotateKeys',
      this.keys.signingKeys,
      JSON.stringify(next),
      now,
      retainSeconds,
    );
    return JSON.parse(String(json)) as SigningKeyRecord[];
  }

  // Rate limiting ---------------------------------------------------------------------------

  /**
   * A rate-limit-redis store on this client. Script loading is answered locally and EVALSHA
   * falls back to EVAL on NOSCRIPT, so it works on every cluster node, after failovers, and when
   * Redis was down at start-up (rate-limit-redis would otherwise keep a failed load forever).
   */
  rateLimitStore(prefix: string): RateLimitStore {
    return new RateLimitRedisStore({
      prefix: `${this.prefix}rl:${prefix}`,
      sendCommand: (...args: string[]) => this.rateLimitCommand(args) as never,
    });
  }

  private async rateLimitCommand([cmd = '', ...args]: string[]): Promise<unknown> {
    const upper = cmd.toUpperCase();
    if (upper === 'SCRIPT' && args[0]?.toUpperCase() === 'LOAD' && args[1]) {
      const sha = createHash('sha1').update(args[1]).digest('hex');
      this.luaBySha.set(sha, args[1]);
      return sha;
    }
    if (upper === 'EVALSHA' && args[0]) {
      const [sha, ...rest] = args;
      try {
        return await this.run(() => this.redis.call('EVALSHA', sha, ...rest));
      } catch (err) {
        const lua = this.luaBySha.get(sha);
        if (!lua || !/NOSCRIPT/.test(String((err as Error).message))) throw err;
        return this.run(() => this.redis.call('EVAL', lua, ...rest));
      }
    }
    return this.run(() => this.redis.call(cmd, ...args));
  }

  /** Does nothing: the caller owns the ioredis client and closes it. */
  async close() {}
}
