// MemoryStore: the embedded default store; one process, same behaviour as RedisStore, expired entries swept.
// Each atomic method is the twin of a Lua script in redis-scripts.ts (see store.ts): change both.

import { epochSeconds } from '../core/clock';
import type { FeedChange } from '../core/feed-change';
import { tagOfGrant, userTag } from '../core/grant-id';
import { ProofReplayCache } from '../tokens/dpop-replay';
import { type RefreshDigest, splitDigest } from '../tokens/refresh-token';
import { byRecency, changedDeployment } from './deployments';
import { isSubScope, rotateKeySet } from './key-set';
import { grantHorizon, isClientOwner, LEDGER_GRACE_SECONDS } from './ledger';
import { MemoryChangeLog } from './memory-change-log';
import type {
  AccessTokenState,
  ChangeBatch,
  ClientRecord,
  CreateGrantResult,
  DeploymentRecord,
  DeviceSessionInput,
  DeviceSessionRecord,
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

interface FamilyState {
  grant: GrantRecord;
  revoked: boolean;
  /** Id (refresh-token.ts digest) of the live refresh token, its expiry, the jti issued with it. */
  current?: string;
  currentExpiresAt: number;
  currentJti: string;
  previous?: string;
  previousRotatedAt: number;
  /** The current token's generation, and the family proof its tokens carry (reuse detection). */
  generation: number;
  proof?: string;
  /** `<presented>|<new>` ids of an abandoned rotation (see Store.abandonRotation). */
  undo?: string;
  /** Latest access-token expiry: the family is kept (revocable) until then. */
  accessExpiresAt: number;
  revokedJtis: Set<string>;
  /** Epoch seconds after which the entry is swept. */
  expiresAt: number;
}

/** One device session; mirrors the fields RedisStore keeps per device. */
interface SessionState {
  id: string;
  createdAt: number;
  expiresAt: number;
  deadline: number;
  idleTtl: number;
  lastSeen: number;
  apps: Map<string, number>;
  /** Its grants, each until the epoch second after which it cannot be live: it ends with the last. */
  grants: Map<string, number>;
  /** The DPoP key (thumbprint) the session belongs to, when it was started with one. */
  jkt?: string;
}

/** A grant ledger (see GrantLedgerStore); mirrors RedisStore's ZSET. */
interface Ledger {
  generation: string;
  /** Grant id → epoch second after which it cannot be live. */
  grants: Map<string, number>;
  /** Epoch seconds after which the ledger is swept. */
  expiresAt: number;
  /**
   * Entries past their horizon are dropped when the ledger reaches this size, which then doubles
   * what is left: O(1) per grant amortized, where dropping them at every add made each issuance
   * scan the whole ledger (RedisStore's ZREMRANGEBYSCORE is O(log n) per entry dropped).
   */
  pruneAt: number;
}

/** A ledger is not pruned below this size. */
const LEDGER_PRUNE_MIN = 64;
const newLedger = (): Ledger => ({
  generation: '',
  grants: new Map(),
  expiresAt: 0,
  pruneAt: LEDGER_PRUNE_MIN,
});

export interface MemoryStoreOptions {
  /** Seconds between sweeps of expired grants (default 60). */
  sweepInterval?: number;
  /** Clock in epoch seconds, for tests. */
  now?: () => number;
}

const clone = <T>(v: T): T => structuredClone(v);
/**
 * A copy of a grant record: its properties are all strings and numbers, so a spread copies it
 * whole, several times faster than structuredClone on the issuance and token-check paths.
 */
const copyGrant = (g: GrantRecord): GrantRecord => ({ ...g });

/**
 * Whether a token (its digest, split) was issued in the family: the current or previous one, or an
 * earlier one carrying the family's proof (twin of the scripts' issuedIn; MemoryStore holds no
 * family from before generations, so no legacy set).
 */
function issuedIn(fam: FamilyState, t: RefreshDigest): boolean {
  if (t.id === fam.current || t.id === fam.previous) return true;
  return t.generation !== undefined && t.proof === fam.proof && t.generation <= fam.generation;
}

/**
 * In-process store; state is lost on restart and not shared between processes.
 *
 * @example const auth = createAuthServer({ issuer, store: new MemoryStore() });
 */
export class MemoryStore implements Store {
  private readonly tenants = new Map<string, TenantRecord>();
  private readonly clients = new Map<string, ClientRecord>();
  private readonly users = new Map<string, UserRecord>();
  private readonly scopes = new Map<string, ScopeRecord>();
  private readonly resources = new Map<string, ResourceRecord>();
  private readonly grants = new Map<string, FamilyState>();
  /** Device sessions by user tag, then device id. */
  private readonly sessions = new Map<string, Map<string, SessionState>>();
  /** Grant ledgers by `u:<user tag>` or `c:<client id>`. */
  private readonly ledgers = new Map<string, Ledger>();
  /** Ids revoked before their grant was created, until when they stay so. */
  private readonly tombstones = new Map<string, number>();
  private keys: SigningKeyRecord[] = [];
  private readonly deployments = new Map<string, DeploymentRecord>();
  /** DPoP proofs spent, each kept while its proof is acceptable (RedisStore: a key per proof). */
  private readonly proofs = new ProofReplayCache(1_000_000);
  /** The revocation feed's log (RedisStore: a stream every instance shares). */
  private readonly changes = new MemoryChangeLog();
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(options: MemoryStoreOptions = {}) {
    this.now = options.now ?? epochSeconds;
    this.timer = setInterval(() => this.sweep(), (options.sweepInterval ?? 60) * 1000);
    this.timer.unref();
  }

  /** Delete expired grants; runs on a timer, callable directly. Returns how many were removed. */
  sweep(): number {
    const now = this.now();
    let removed = 0;
    for (const [id, fam] of this.grants) {
      if (fam.expiresAt <= now) {
        this.grants.delete(id);
        removed++;
      }
    }
    for (const [key, ledger] of this.ledgers) if (ledger.expiresAt <= now) this.ledgers.delete(key);
    for (const [id, until] of this.tombstones) if (until <= now) this.tombstones.delete(id);
    for (const [tag, devices] of this.sessions) {
      for (const [dev, ses] of devices) if (ses.deadline <= now) devices.delete(dev);
      if (devices.size === 0) this.sessions.delete(tag);
    }
    return removed;
  }

  /** Number of grants held (for memory checks). */
  get size(): number {
    return this.grants.size;
  }

  async getTenant(id: string) {
    return clone(this.tenants.get(id));
  }
  async putTenant(t: TenantRecord) {
    this.tenants.set(t.id, clone(t));
  }
  async deleteTenant(id: string) {
    return this.tenants.delete(id);
  }
  async listTenants() {
    return clone([...this.tenants.values()]);
  }
  async getClient(id: string) {
    return clone(this.clients.get(id));
  }
  async putClient(c: ClientRecord) {
    this.clients.set(c.id, clone(c));
  }
  async deleteClient(id: string) {
    return this.clients.delete(id);
  }
  async listClients() {
    return clone([...this.clients.values()]);
  }
  async getUser(tenantId: string, username: string) {
    return clone(this.users.get(`${tenantId}\n${username}`));
  }
  async putUser(u: UserRecord) {
    this.users.set(`${u.tenantId}\n${u.username}`, clone(u));
  }
  async deleteUser(tenantId: string, username: string) {
    return this.users.delete(`${tenantId}\n${username}`);
  }
  async listUsers(tenantId: string) {
    return clone([...this.users.values()].filter((u) => u.tenantId === tenantId));
  }
  // Password-hash upgrade (twin of twUpgradePasswordHash) ------------------------------------
  async upgradePasswordHash(
    tenantId: string,
    username: string,
    expectedHash: string,
    newHash: string,
  ) {
    const u = this.users.get(`${tenantId}\n${username}`);
    if (!u || u.passwordHash !== expectedHash) return false;
    u.passwordHash = newHash;
    return true;
  }
  async getScope(name: string) {
    return clone(this.scopes.get(name));
  }
  async getScopes(names: string[]) {
    return names.map((n) => clone(this.scopes.get(n)));
  }
  async putScope(s: ScopeRecord) {
    this.scopes.set(s.name, clone(s));
  }
  async deleteScope(name: string) {
    return this.scopes.delete(name);
  }
  async listScopes() {
    return clone([...this.scopes.values()]);
  }
  // Resource servers (RFC 8707) ------------------------------------------------------------
  async getResource(uri: string) {
    return clone(this.resources.get(uri));
  }
  async putResource(r: ResourceRecord) {
    this.resources.set(r.uri, clone(r));
  }
  async deleteResource(uri: string) {
    return this.resources.delete(uri);
  }
  async listResources() {
    // By URI, as RedisStore lists them.
    return clone([...this.resources.values()].sort((a, b) => (a.uri < b.uri ? -1 : 1)));
  }

  private live(grantId: string): FamilyState | undefined {
    const fam = this.grants.get(grantId);
    if (fam && fam.expiresAt <= this.now()) {
      this.grants.delete(grantId);
      return undefined;
    }
    return fam;
  }

  /** The live session `sessionId` of a device-bound grant, or undefined when it ended. */
  private session(grant: GrantRecord, now: number): SessionState | undefined {
    const tag = tagOfGrant(grant.id);
    if (tag === undefined || !grant.deviceId || !grant.sessionId) return undefined;
    const ses = this.sessions.get(tag)?.get(grant.deviceId);
    return ses && ses.id === grant.sessionId && ses.deadline > now ? ses : undefined;
  }

  /** Activity by `clientId`: slide the deadline, never past the session's end. */
  private touch(ses: SessionState, clientId: string, now: number): number {
    const next = Math.min(now + ses.idleTtl, ses.expiresAt);
    if (next > ses.deadline) {
      ses.deadline = next;
      ses.lastSeen = now;
      ses.apps.set(clientId, now);
    }
    return ses.deadline;
  }

  private ledgerKey(owner: LedgerOwner): string {
    return isClientOwner(owner)
      ? `c:${owner.clientId}`
      : `u:${userTag(owner.tenantId, owner.username)}`;
  }

  /** The live ledger under `key` (undefined when there is none). */
  private ledger(key: string, now: number): Ledger | undefined {
    const ledger = this.ledgers.get(key);
    if (ledger && ledger.expiresAt <= now) {
      this.ledgers.delete(key);
      return undefined;
    }
    return ledger;
  }

  private ledgerAdd(key: string, grantId: string, until: number, now: number) {
    const ledger = this.ledger(key, now) ?? newLedger();
    this.ledgers.set(key, ledger);
    if (ledger.grants.size >= ledger.pruneAt) {
      for (const [id, t] of ledger.grants) if (t <= now) ledger.grants.delete(id);
      ledger.pruneAt = Math.max(LEDGER_PRUNE_MIN, 2 * ledger.grants.size);
    }
    ledger.grants.set(grantId, until);
    ledger.expiresAt = Math.max(ledger.expiresAt, until);
  }

  async getLedgerGeneration(owner: LedgerOwner) {
    return this.ledger(this.ledgerKey(owner), this.now())?.generation ?? '';
  }

  async getUserWithGeneration(tenantId: string, username: string) {
    const generation = await this.getLedgerGeneration({ tenantId, username });
    const user = await this.getUser(tenantId, username);
    return user ? { user, generation } : { generation };
  }

  async getClientWithGeneration(id: string) {
    const generation = await this.getLedgerGeneration({ clientId: id });
    const client = await this.getClient(id);
    return client ? { client, generation } : { generation };
  }

  async addClientGrant(clientId: string, grantId: string, entry: LedgerEntry, now: number) {
    const key = this.ledgerKey({ clientId });
    if ((this.ledger(key, now)?.generation ?? '') !== entry.generation) return false;
    this.ledgerAdd(key, grantId, entry.until, now);
    return true;
  }

  async renewLedger(owner: LedgerOwner, generation: string, endGrants: boolean, now: number) {
    const key = this.ledgerKey(owner);
    const ledger = this.ledger(key, now) ?? newLedger();
    this.ledgers.set(key, ledger);
    ledger.generation = generation;
    ledger.expiresAt = Math.max(ledger.expiresAt, now + LEDGER_GRACE_SECONDS);
    if (!endGrants) return 0;
    const ids = [...ledger.grants].filter(([, until]) => until > now).map(([id]) => id);
    ledger.grants.clear();
    let ended = 0;
    for (const id of ids) {
      const fam = this.live(id);
      if (!fam) this.tombstones.set(id, now + LEDGER_GRACE_SECONDS);
      else if (!fam.revoked) {
        this.revokeFamily(fam, now);
        ended++;
      }
    }
    return ended;
  }

  async createGrant(
    grant: GrantRecord,
    tokens: IssuedTokens,
    session?: DeviceSessionInput,
    ledger?: LedgerEntry,
    origin?: GrantCreation,
  ): Promise<CreateGrantResult> {
    const refreshExp = tokens.refresh?.expiresAt ?? 0;
    let deviceDeadline: number | undefined;
    const tag = tagOfGrant(grant.id);
    const now = session?.now ?? grant.createdAt;
    // A user's grant: listed in the user's ledger, unless their grants were ended since it was authorized.
    const ledgerKey = tag === undefined ? undefined : `u:${tag}`;
    if (
      ledgerKey !== undefined &&
      (this.ledger(ledgerKey, now)?.generation ?? '') !== (ledger?.generation ?? '')
    )
      return { refused: 'stale' };
    // A grant an authorization code names exists already: the code is replayed (RFC 6749 §4.1.2).
    if (origin?.authorizationCode && this.grants.has(grant.id)) {
      await this.revokeGrant(grant.id, now);
      return { refused: 'replayed' };
    }
    const tomb = this.tombstones.get(grant.id);
    if (this.live(grant.id) || (tomb !== undefined && tomb > now)) return { refused: 'revoked' };
    // A live session started with a DPoP key is joined only with that key.
    if (session && grant.deviceId && tag !== undefined) {
      const ses = this.sessions.get(tag)?.get(grant.deviceId);
      if (
        ses &&
        ses.deadline > session.now &&
        ses.expiresAt > session.now &&
        ses.jkt !== undefined &&
        ses.jkt !== session.jkt
      )
        return { refused: 'device_key' };
    }
    if (ledgerKey !== undefined)
      this.ledgerAdd(ledgerKey, grant.id, ledger?.until ?? grantHorizon(grant, tokens), now);
    const stored = copyGrant(grant);
    if (session && grant.deviceId && tag !== undefined) {
      const { now } = session;
      const devices = this.sessions.get(tag) ?? new Map<string, SessionState>();
      this.sessions.set(tag, devices);
      let ses = devices.get(grant.deviceId);
      if (!ses || ses.deadline <= now || ses.expiresAt <= now) {
        ses = {
          id: session.candidateId,
          createdAt: now,
          expiresAt: now + session.maxAge,
          deadline: 0,
          idleTtl: session.idleTtl,
          lastSeen: now,
          apps: new Map(),
          grants: new Map(),
          ...(session.jkt !== undefined ? { jkt: session.jkt } : {}),
        };
        devices.set(grant.deviceId, ses);
      }
      ses.idleTtl = session.idleTtl;
      ses.deadline = Math.min(now + session.idleTtl, ses.expiresAt);
      ses.lastSeen = now;
      ses.apps.set(grant.clientId, now);
      ses.grants.set(grant.id, Math.max(tokens.accessExpiresAt, refreshExp));
      stored.sessionId = ses.id;
      deviceDeadline = ses.deadline;
    }
    const root = tokens.refresh ? splitDigest(tokens.refresh.hash) : undefined;
    this.grants.set(grant.id, {
      grant: stored,
      revoked: false,
      current: root?.id,
      currentExpiresAt: refreshExp,
      currentJti: tokens.jti,
      previousRotatedAt: 0,
      generation: 0,
      ...(root?.proof !== undefined ? { proof: root.proof } : {}),
      accessExpiresAt: tokens.accessExpiresAt,
      revokedJtis: new Set(),
      expiresAt: Math.max(tokens.accessExpiresAt, refreshExp),
    });
    return deviceDeadline !== undefined ? { deviceDeadline } : {};
  }

  /**
   * Revoke a family; a device-bound one leaves its device session, which ends when no other live
   * grant of it is left. Returns whether the session ended.
   */
  private revokeFamily(fam: FamilyState, now: number): boolean {
    const ended = this.leaveSession(fam.grant, now);
    fam.revoked = true;
    fam.current = undefined;
    fam.previous = undefined;
    fam.expiresAt = Math.max(fam.accessExpiresAt, now + 1);
    return ended;
  }

  /** A grant of a device session is revoked: the session ends if it was its last live grant. */
  private leaveSession(grant: GrantRecord, now: number): boolean {
    const ses = this.session(grant, now);
    // A grant the session never listed (issued before sessions listed their grants) ends nothing.
    if (!ses?.grants.delete(grant.id)) return false;
    for (const [id, until] of ses.grants) if (until <= now) ses.grants.delete(id);
    if (ses.grants.size > 0) return false;
    this.sessions.get(tagOfGrant(grant.id) as string)?.delete(grant.deviceId as string);
    return true;
  }

  async rotateRefreshToken(input: RotateInput): Promise<RotateResult> {
    const { now } = input;
    const fam = this.live(input.grantId);
    if (!fam) return { ok: false, reason: 'not_found' };
    if (fam.revoked) return { ok: false, reason: 'revoked' };
    const presented = splitDigest(input.presentedHash);
    if (!issuedIn(fam, presented)) return { ok: false, reason: 'not_found' };
    if (fam.grant.clientId !== input.clientId) return { ok: false, reason: 'client_mismatch' };
    if (fam.grant.jkt !== undefined && fam.grant.jkt !== input.jkt)
      return { ok: false, reason: 'key_mismatch' };
    const isCurrent = presented.id === fam.current;
    const undone = !isCurrent && fam.undo === `${presented.id}|${fam.current}`;
    const isRetry =
      !isCurrent &&
      (undone ||
        (input.leewaySeconds > 0 &&
          presented.id === fam.previous &&
          now - fam.previousRotatedAt <= input.leewaySeconds));
    if (!isCurrent && !isRetry) {
      this.revokeFamily(fam, now);
      return { ok: false, reason: 'reused' };
    }
    if ((isCurrent && fam.currentExpiresAt <= now) || fam.grant.maxExpiresAt <= now) {
      return { ok: false, reason: 'expired' };
    }
    // A family's audience never changes: a refresh may name its resource, or none.
    if (input.resource && input.resource !== fam.grant.resource)
      return { ok: false, reason: 'invalid_target' };
    // The client's scopes were narrowed since: so is the family, for good.
    if (input.clientScope !== undefined) {
      const allowed = new Set(input.clientScope.split(' '));
      fam.grant.scope = fam.grant.scope
        .split(' ')
        .filter((s) => s !== '' && allowed.has(s))
        .join(' ');
    }
    if (!isSubScope(input.requestedScope, fam.grant.scope))
      return { ok: false, reason: 'invalid_scope' };
    // A device-bound family lives only as long as its device session; a refresh is activity.
    let deviceDeadline: number | undefined;
    const ses = fam.grant.sessionId ? this.session(fam.grant, now) : undefined;
    if (fam.grant.sessionId && !ses) return { ok: false, reason: 'expired' };
    if (ses) deviceDeadline = this.touch(ses, input.clientId, now);
    fam.undo = undefined;
    // A retry kills the successor it replaces, including the access token issued with it.
    if (isRetry) fam.revokedJtis.add(fam.currentJti);
    else {
      fam.previous = presented.id;
      fam.previousRotatedAt = now;
      fam.generation++;
    }
    const next = input.next;
    const successor = splitDigest(next.refresh.hash);
    // A legacy token's successor is generation 1 and starts the family's proof (as twRotate).
    if (presented.generation === undefined) fam.generation = Math.max(fam.generation, 1);
    if (successor.proof !== undefined && (presented.generation === undefined || !fam.proof))
      fam.proof = successor.proof;
    fam.current = successor.id;
    fam.currentExpiresAt = next.refresh.expiresAt;
    fam.currentJti = next.jti;
    fam.accessExpiresAt = Math.max(fam.accessExpiresAt, next.accessExpiresAt);
    fam.expiresAt = Math.max(fam.accessExpiresAt, next.refresh.expiresAt);
    // The session lists the grant as live as long as the family lives.
    if (ses?.grants.has(fam.grant.id)) ses.grants.set(fam.grant.id, fam.expiresAt);
    return {
      ok: true,
      grant: copyGrant(fam.grant),
      retried: isRetry,
      ...(deviceDeadline !== undefined ? { deviceDeadline } : {}),
    };
  }

  async abandonRotation(grantId: string, presentedHash: string, nextHash: string) {
    const fam = this.live(grantId);
    const [presented, next] = [splitDigest(presentedHash).id, splitDigest(nextHash).id];
    // (A rotation here cannot run late: one that did not take effect never will, nothing to burn.)
    if (fam && fam.current === next) fam.undo = `${presented}|${next}`;
  }

  async revokeByRefreshToken(
    grantId: string,
    hash: string,
    clientId: string,
    now: number,
  ): Promise<RevokeRefreshResult> {
    const fam = this.live(grantId);
    if (!fam || !issuedIn(fam, splitDigest(hash))) return 'not_found';
    if (fam.grant.clientId !== clientId) return 'client_mismatch';
    if (fam.revoked) return 'already_revoked';
    return this.revokeFamily(fam, now) ? 'revoked_session_ended' : 'revoked';
  }

  async revokeAccessToken(grantId: string, jti: string) {
    this.live(grantId)?.revokedJtis.add(jti);
  }

  async revokeGrant(grantId: string, now: number): Promise<RevokeGrantResult> {
    const fam = this.live(grantId);
    if (!fam) return 'not_found';
    if (fam.revoked) return 'already_revoked';
    this.revokeFamily(fam, now);
    return 'revoked';
  }

  async getAccessTokenState(
    grantId: string,
    jti: string,
    now: number,
    proof?: ProofUse,
  ): Promise<AccessTokenState> {
    const fam = this.live(grantId);
    if (!fam) return { revoked: false };
    const revoked = fam.revoked || fam.revokedJtis.has(jti);
    const spent = proof
      ? { proofReplayed: !this.proofs.spend(`g|${grantId}|${proof.id}`, proof.expiresAt, now) }
      : {};
    if (!fam.grant.sessionId) return { grant: copyGrant(fam.grant), revoked, ...spent };
    const ses = this.session(fam.grant, now);
    const deviceDeadline = !ses
      ? 0
      : revoked
        ? ses.deadline
        : this.touch(ses, fam.grant.clientId, now);
    return { grant: copyGrant(fam.grant), revoked, deviceDeadline, ...spent };
  }

  async spendDpopProof(jkt: string, proof: ProofUse, now: number): Promise<boolean> {
    return this.proofs.spend(`k|${jkt}|${proof.id}`, proof.expiresAt, now);
  }

  async getRefreshTokenState(
    grantId: string,
    hash: string,
    now: number,
  ): Promise<RefreshTokenState | undefined> {
    const fam = this.live(grantId);
    const presented = splitDigest(hash);
    if (!fam || !issuedIn(fam, presented)) return undefined;
    const active =
      !fam.revoked &&
      fam.current === presented.id &&
      fam.currentExpiresAt > now &&
      fam.grant.maxExpiresAt > now &&
      (!fam.grant.sessionId || this.session(fam.grant, now) !== undefined);
    return {
      grant: copyGrant(fam.grant),
      active,
      expiresAt: Math.min(fam.currentExpiresAt, fam.grant.maxExpiresAt),
    };
  }

  async listDeviceSessions(tenantId: string, username: string, now: number) {
    const devices = this.sessions.get(userTag(tenantId, username));
    const out: DeviceSessionRecord[] = [];
    for (const [deviceId, s] of devices ?? []) {
      if (s.deadline <= now || s.expiresAt <= now) continue;
      out.push({
        deviceId,
        sessionId: s.id,
        createdAt: s.createdAt,
        lastSeen: s.lastSeen,
        deadline: s.deadline,
        expiresAt: s.expiresAt,
        apps: [...s.apps]
          .map(([clientId, lastSeen]) => ({ clientId, lastSeen }))
          .sort((x, y) => x.clientId.localeCompare(y.clientId)),
        ...(s.jkt !== undefined ? { jkt: s.jkt } : {}),
      });
    }
    return out.sort((x, y) => x.deviceId.localeCompare(y.deviceId));
  }

  async revokeDeviceSession(tenantId: string, username: string, deviceId: string) {
    return this.sessions.get(userTag(tenantId, username))?.delete(deviceId) === true;
  }

  async revokeDeviceSessions(tenantId: string, username: string) {
    const tag = userTag(tenantId, username);
    const n = this.sessions.get(tag)?.size ?? 0;
    this.sessions.delete(tag);
    return n;
  }

  async recordDeployment(record: DeploymentRecord) {
    const stored = this.deployments.get(record.issuer);
    if (!stored || changedDeployment(stored, record))
      this.deployments.set(record.issuer, clone(record));
  }
  async listDeployments() {
    return byRecency([...this.deployments.values()].map(clone));
  }

  async getSigningKeys() {
    return clone(this.keys);
  }
  async initSigningKeys(candidate: SigningKeyRecord) {
    if (this.keys.length === 0) this.keys = [clone(candidate)];
    return clone(this.keys);
  }
  async rotateSigningKeys(
    next: SigningKeyRecord,
    now: number,
    retainSeconds: number,
    distrust?: string,
  ) {
    this.keys = rotateKeySet(this.keys, clone(next), now, retainSeconds, distrust);
    return clone(this.keys);
  }

  async appendChange(change: FeedChange): Promise<void> {
    this.changes.append(change);
  }

  readChanges(after: string | undefined, waitMs: number): Promise<ChangeBatch> {
    return this.changes.read(after, waitMs);
  }

  async close() {
    clearInterval(this.timer);
  }
}
