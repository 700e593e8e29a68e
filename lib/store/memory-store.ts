// MemoryStore: the embedded default store; one process, same behaviour as RedisStore, expired entries swept.

import { isSubScope, rotateKeySet } from './key-set';
import type {
  AccessTokenState,
  ClientRecord,
  GrantRecord,
  IssuedTokens,
  RefreshTokenState,
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
  /** Hash of the live refresh token, its expiry and the jti issued with it. */
  current?: string;
  currentExpiresAt: number;
  currentJti: string;
  previous?: string;
  previousRotatedAt: number;
  /** Latest access-token expiry: the family is kept (revocable) until then. */
  accessExpiresAt: number;
  issued: Set<string>;
  revokedJtis: Set<string>;
  /** Epoch seconds after which the entry is swept. */
  expiresAt: number;
}

export interface MemoryStoreOptions {
  /** Seconds between sweeps of expired grants (default 60). */
  sweepInterval?: number;
  /** Clock in epoch seconds, for tests. */
  now?: () => number;
}

const clone = <T>(v: T): T => structuredClone(v);

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
  private readonly grants = new Map<string, FamilyState>();
  private keys: SigningKeyRecord[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(options: MemoryStoreOptions = {}) {
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
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
  async getScope(name: string) {
    return clone(this.scopes.get(name));
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

  private live(grantId: string): FamilyState | undefined {
    const fam = this.grants.get(grantId);
    if (fam && fam.expiresAt <= this.now()) {
      this.grants.delete(grantId);
      return undefined;
    }
    return fam;
  }

  async createGrant(grant: GrantRecord, tokens: IssuedTokens) {
    const refreshExp = tokens.refresh?.expiresAt ?? 0;
    this.grants.set(grant.id, {
      grant: clone(grant),
      revoked: false,
      current: tokens.refresh?.hash,
      currentExpiresAt: refreshExp,
      currentJti: tokens.jti,
      previousRotatedAt: 0,
      accessExpiresAt: tokens.accessExpiresAt,
      issued: new Set(tokens.refresh ? [tokens.refresh.hash] : []),
      revokedJtis: new Set(),
      expiresAt: Math.max(tokens.accessExpiresAt, refreshExp),
    });
  }

  private revokeFamily(fam: FamilyState, now: number) {
    fam.revoked = true;
    fam.current = undefined;
    fam.expiresAt = Math.max(fam.accessExpiresAt, now + 1);
  }

  async rotateRefreshToken(input: RotateInput): Promise<RotateResult> {
    const { now } = input;
    const fam = this.live(input.grantId);
    if (!fam) return { ok: false, reason: 'not_found' };
    if (fam.revoked) return { ok: false, reason: 'revoked' };
    if (!fam.issued.has(input.presentedHash)) return { ok: false, reason: 'not_found' };
    if (fam.grant.clientId !== input.clientId) return { ok: false, reason: 'client_mismatch' };
    const isCurrent = input.presentedHash === fam.current;
    const isRetry =
      !isCurrent &&
      input.leewaySeconds > 0 &&
      input.presentedHash === fam.previous &&
      now - fam.previousRotatedAt <= input.leewaySeconds;
    if (!isCurrent && !isRetry) {
      this.revokeFamily(fam, now);
      return { ok: false, reason: 'reused' };
    }
    if ((isCurrent && fam.currentExpiresAt <= now) || fam.grant.maxExpiresAt <= now) {
      return { ok: false, reason: 'expired' };
    }
    if (!isSubScope(input.requestedScope, fam.grant.scope))
      return { ok: false, reason: 'invalid_scope' };
    // A retry kills the successor it replaces, including the access token issued with it.
    if (isRetry) fam.revokedJtis.add(fam.currentJti);
    else {
      fam.previous = input.presentedHash;
      fam.previousRotatedAt = now;
    }
    const next = input.next;
    fam.current = next.refresh.hash;
    fam.currentExpiresAt = next.refresh.expiresAt;
    fam.currentJti = next.jti;
    fam.issued.add(next.refresh.hash);
    fam.accessExpiresAt = Math.max(fam.accessExpiresAt, next.accessExpiresAt);
    fam.expiresAt = Math.max(fam.accessExpiresAt, next.refresh.expiresAt);
    return { ok: true, grant: clone(fam.grant), retried: isRetry };
  }

  async revokeByRefreshToken(
    grantId: string,
    hash: string,
    clientId: string,
    now: number,
  ): Promise<RevokeRefreshResult> {
    const fam = this.live(grantId);
    if (!fam?.issued.has(hash)) return 'not_found';
    if (fam.grant.clientId !== clientId) return 'client_mismatch';
    this.revokeFamily(fam, now);
    return 'revoked';
  }

  async revokeAccessToken(grantId: string, jti: string) {
    this.live(grantId)?.revokedJtis.add(jti);
  }

  async revokeGrant(grantId: string, now: number) {
    const fam = this.live(grantId);
    if (!fam) return false;
    this.revokeFamily(fam, now);
    return true;
  }

  async getAccessTokenState(grantId: string, jti: string): Promise<AccessTokenState> {
    const fam = this.live(grantId);
    if (!fam) return { revoked: false };
    return { grant: clone(fam.grant), revoked: fam.revoked || fam.revokedJtis.has(jti) };
  }

  async getRefreshTokenState(
    grantId: string,
    hash: string,
    now: number,
  ): Promise<RefreshTokenState | undefined> {
    const fam = this.live(grantId);
    if (!fam?.issued.has(hash)) return undefined;
    const active =
      !fam.revoked &&
      fam.current === hash &&
      fam.currentExpiresAt > now &&
      fam.grant.maxExpiresAt > now;
    return {
      grant: clone(fam.grant),
      active,
      expiresAt: Math.min(fam.currentExpiresAt, fam.grant.maxExpiresAt),
    };
  }

  async getSigningKeys() {
    return clone(this.keys);
  }
  async initSigningKeys(candidate: SigningKeyRecord) {
    if (this.keys.length === 0) this.keys = [clone(candidate)];
    return clone(this.keys);
  }
  async rotateSigningKeys(next: SigningKeyRecord, now: number, retainSeconds: number) {
    this.keys = rotateKeySet(this.keys, clone(next), now, retainSeconds);
    return clone(this.keys);
  }

  async close() {
    clearInterval(this.timer);
  }
}
