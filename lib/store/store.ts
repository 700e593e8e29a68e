// The Store contract: one method per atomic operation the token flows need, plus registry records.
//
// The twin rule: every atomic operation exists twice, as a Lua script in redis-scripts.ts (RedisStore)
// and as a method in memory-store.ts (MemoryStore), and both pass the one conformance suite
// (test/conformance/describe-store.ts). Change one, change the other, and the suite with them.
import type { JsonWebKey } from 'node:crypto';
import type { Store as RateLimitStore } from 'express-rate-limit';
import type { FeedChange, FeedEntry } from '../core/feed-change';
import type { GrantOrigin } from '../core/grant-type';

/** Grant types the token endpoint supports (RFC 6749 §4.3, §4.4, §6). */
export type GrantType = 'client_credentials' | 'password' | 'authorization_code' | 'refresh_token';

/** A tenant: every client and user belongs to one; a tenant may let resource servers sign in local users. */
export interface TenantRecord {
  /** `[A-Za-z0-9._-]{1,64}`; used inside Redis hash tags. */
  id: string;
  name?: string;
  /** Local authentication cooperation mode, read by resource servers per request. */
  localUserMode: boolean;
}

/** A registered client. Secrets are kept only as scrypt hashes. */
export interface ClientRecord {
  id: string;
  tenantId: string;
  name?: string;
  /** scrypt hash (`scrypt$N$r$p$salt$hash`); absent for public clients. */
  secretHash?: string;
  /** Grant types the client may use; `refresh_token` also decides whether password sign-ins get one. */
  grants: GrantType[];
  /** Scopes the client may be issued. */
  scopes: string[];
  /** May send `local_user` with client_credentials: a tenant's local user the token acts for. */
  localUsers: boolean;
  /** May call the introspection endpoint (RFC 7662 §2.1). */
  introspect: boolean;
  /**
   * With `introspect`: may learn about access tokens of every tenant. Otherwise (and when absent,
   * as on records written before it existed) introspection answers `{"active":false}` for tokens
   * of other tenants than the client's own. Refresh tokens are introspectable by the client they
   * were issued to only, whatever this says.
   */
  introspectAllTenants?: boolean;
  /** client_credentials also issues a refresh token (root of a new family). */
  clientCredentialsRefresh: boolean;
  /** Where the authorization endpoint may send codes (RFC 6749 §3.1.2), matched exactly. */
  redirectUris?: string[];
  /**
   * `'required'`: every token request must carry a DPoP proof (RFC 9449), so the client's tokens
   * are always bound to its key. Absent: a proof is optional.
   */
  dpop?: 'required';
}

/** A user of a tenant, signing in with the password grant. */
export interface UserRecord {
  tenantId: string;
  username: string;
  /**
   * scrypt hash of the password, for the password grant. Absent for a user who signs in only
   * through the host application's login (the authorization-code flow).
   */
  passwordHash?: string;
  roles: string[];
}

/** A scope definition: the service it grants use of, and the role check it asks for. */
export interface ScopeRecord {
  name: string;
  /** Cloud service this scope grants use of. */
  service?: string;
  /** When true, the token's user must currently hold one of `roles`. */
  roleCheck: boolean;
  roles: string[];
}

/**
 * A resource server registered by its URI (RFC 8707 resource indicators): a `resource` naming it
 * sets access tokens' `aud` to `uri` and limits their scopes to those of its `services`.
 */
export interface ResourceRecord {
  /** Absolute https URL (http only for localhost), no query or fragment; compared exactly. */
  uri: string;
  /** Services it serves (scope definitions' `service`): its tokens carry only their scopes. */
  services: string[];
  /** Human-readable name (RFC 9728 `resource_name`). */
  name?: string;
}

/** What a grant (a refresh-token family, or a lone client_credentials issue) was issued for. */
export interface GrantRecord {
  /** Random id, carried in the access token as `gid` and in every refresh token of the family. */
  id: string;
  clientId: string;
  tenantId: string;
  /** The grant that started the family. */
  grantType: GrantOrigin;
  /** Username for password grants, client id for client_credentials. */
  subject: string;
  /** Space-delimited scope granted at issue; refreshes may narrow, never widen it. */
  scope: string;
  localUser?: string;
  deviceId?: string;
  /**
   * The registered resource (RFC 8707) the family is for: its access tokens' `aud`, kept by every
   * refresh. Absent: the server's `audience`.
   */
  resource?: string;
  /**
   * The JWK thumbprint (RFC 7638) of the key a public client proved with DPoP when the grant began
   * (RFC 9449 §5): its refresh tokens rotate only with a proof from that key.
   */
  jkt?: string;
  /** The device session this grant belongs to; set by the store for device-bound grants. */
  sessionId?: string;
  /** Epoch seconds. */
  createdAt: number;
  /** Epoch seconds after which no refresh token of the family is accepted (absolute cap). */
  maxExpiresAt: number;
}

/** The tokens written with a new grant or a rotation. Times are epoch seconds. */
export interface IssuedTokens {
  jti: string;
  accessExpiresAt: number;
  /** SHA-256 (base64url) of the refresh token, and its expiry; absent when none is issued. */
  refresh?: { hash: string; expiresAt: number };
}

/**
 * A device session joined or started by a device-bound sign-in: the (user, device) pair
 * shared by every app on the device. Its idle deadline slides; it never passes `maxAge` from its start.
 */
export interface DeviceSessionInput {
  /** Seconds of inactivity after which every token of the session is refused. */
  idleTtl: number;
  /** Seconds from the session's start after which it ends whatever the activity. */
  maxAge: number;
  /** Session id used when no live session exists for the device. */
  candidateId: string;
  now: number;
  /**
   * The thumbprint of the DPoP key the sign-in proved (RFC 9449). A session started with one belongs
   * to that key: joining it with another key, or none, is refused (`device_key`). A session
   * started without one accepts any.
   */
  jkt?: string;
}

/** A live device session, as listed by the admin API. Times are epoch seconds. */
export interface DeviceSessionRecord {
  deviceId: string;
  sessionId: string;
  createdAt: number;
  lastSeen: number;
  /** Idle deadline: tokens of the session are refused after it unless activity postpones it. */
  deadline: number;
  /** Absolute end of the session. */
  expiresAt: number;
  /** Apps (clients) that signed in on the device in this session, with their last activity. */
  apps: { clientId: string; lastSeen: number }[];
  /** The thumbprint of the DPoP key the session belongs to (RFC 9449); absent when not key-bound. */
  jkt?: string;
}

/** Input to an atomic refresh-token rotation (RFC 6749 §6, RFC 9700 §4.14.2). */
export interface RotateInput {
  grantId: string;
  presentedHash: string;
  clientId: string;
  now: number;
  /** Space-delimited scope requested at refresh, '' for the grant's own. */
  requestedScope: string;
  /** Seconds during which the immediate predecessor may be presented again (0 = strict). */
  leewaySeconds: number;
  /**
   * The scopes the client may be issued now (space-delimited): the family's scope is narrowed to
   * them, for good, before `requestedScope` is checked. Absent: no narrowing.
   */
  clientScope?: string;
  /**
   * The resource the refresh request names (RFC 8707 §2): refused (`invalid_target`) unless it is
   * the family's own. Absent (or ''): the family's, whatever it is.
   */
  resource?: string;
  /**
   * The thumbprint of the DPoP key the refresh request proved (RFC 9449 §5). A family bound to a
   * key rotates only when it is that key: otherwise `key_mismatch`, and nothing changes.
   */
  jkt?: string;
  next: IssuedTokens & { refresh: { hash: string; expiresAt: number } };
}

export type RotateResult =
  | {
      ok: true;
      grant: GrantRecord;
      retried: boolean;
      /** The device session's idle deadline after this activity (device-bound grants only). */
      deviceDeadline?: number;
    }
  | {
      ok: false;
      /** `reused`: an already-rotated token was replayed and the family is now revoked. */
      reason:
        | 'not_found'
        | 'revoked'
        | 'expired'
        | 'reused'
        | 'client_mismatch'
        | 'invalid_scope'
        | 'invalid_target'
        | 'key_mismatch';
    };

/**
 * What revokeByRefreshToken did: `revoked` the family now — `revoked_session_ended` when that also
 * ended its device session (it was the session's last live grant) — found it revoked already,
 * found no such token, or found it issued to another client (nothing changed).
 */
export type RevokeRefreshResult =
  | 'revoked'
  | 'revoked_session_ended'
  | 'already_revoked'
  | 'not_found'
  | 'client_mismatch';

/**
 * What revokeGrant did: revoked it now (ending its device session too when it was the session's
 * last live grant), found it revoked already, or found nothing.
 */
export type RevokeGrantResult = 'revoked' | 'already_revoked' | 'not_found';

/**
 * A DPoP proof to spend (RFC 9449 §11.1): its id (the hashed `jti`) is accepted once while the proof
 * is acceptable, until `expiresAt` (epoch seconds).
 */
export interface ProofUse {
  id: string;
  expiresAt: number;
}

/** A grant's live state as seen when checking an access token, read in one round trip. */
export interface AccessTokenState {
  /** Absent when the grant is unknown or has expired. */
  grant?: GrantRecord;
  /** The grant (family) is revoked, or this access token is. */
  revoked: boolean;
  /**
   * Device-bound grants: the device session's idle deadline, already postponed by this check when
   * the token is live; 0 when the session has ended or was revoked.
   */
  deviceDeadline?: number;
  /** With a proof to spend: true when it was spent before (a replay), on any instance. */
  proofReplayed?: boolean;
}

/** A refresh token's live state, for introspection. */
export interface RefreshTokenState {
  grant: GrantRecord;
  /** True only for the family's current refresh token, unexpired, family not revoked, device session live. */
  active: boolean;
  expiresAt: number;
}

/** A signing key pair as kept in the store, shared by every instance. */
export interface SigningKeyRecord {
  kid: string;
  alg: string;
  /**
   * The private key in the clear: only when the server has no `keyEncryptionSecret` (a MemoryStore,
   * or `insecureClearKeys`). Absent once the key is retired.
   */
  privateJwk?: JsonWebKey;
  /**
   * The private key sealed with the server's `keyEncryptionSecret` (AES-256-GCM, kid bound in).
   * Absent once the key is retired.
   */
  sealedPrivateJwk?: string;
  publicJwk: JsonWebKey;
  /** Epoch seconds. */
  createdAt: number;
  /** Set when rotated out: the key no longer signs; its public part is published until `expiresAt`. */
  retiredAt?: number;
  expiresAt?: number;
}

/** Registry records: tenants, clients, tenants' local users, scopes and resource servers. */
export interface RegistryStore {
  getTenant(id: string): Promise<TenantRecord | undefined>;
  putTenant(tenant: TenantRecord): Promise<void>;
  deleteTenant(id: string): Promise<boolean>;
  listTenants(): Promise<TenantRecord[]>;
  getClient(id: string): Promise<ClientRecord | undefined>;
  putClient(client: ClientRecord): Promise<void>;
  deleteClient(id: string): Promise<boolean>;
  listClients(): Promise<ClientRecord[]>;
  getUser(tenantId: string, username: string): Promise<UserRecord | undefined>;
  putUser(user: UserRecord): Promise<void>;
  deleteUser(tenantId: string, username: string): Promise<boolean>;
  listUsers(tenantId: string): Promise<UserRecord[]>;
  // Password-hash upgrade ----------------------------------------------------------------
  /**
   * Replace the user's `passwordHash` with `newHash` only if it is still `expectedHash` (the hash a
   * sign-in just verified): a password changed meanwhile is never overwritten. Nothing else of
   * the record changes. Returns whether it was replaced (false: changed, or no such user).
   */
  upgradePasswordHash(
    tenantId: string,
    username: string,
    expectedHash: string,
    newHash: string,
  ): Promise<boolean>;
  getScope(name: string): Promise<ScopeRecord | undefined>;
  /** Several scope definitions in one read, in the order asked (undefined where unknown). */
  getScopes(names: string[]): Promise<(ScopeRecord | undefined)[]>;
  putScope(scope: ScopeRecord): Promise<void>;
  deleteScope(name: string): Promise<boolean>;
  listScopes(): Promise<ScopeRecord[]>;
  // Resource servers (RFC 8707) ----------------------------------------------------------
  getResource(uri: string): Promise<ResourceRecord | undefined>;
  putResource(resource: ResourceRecord): Promise<void>;
  deleteResource(uri: string): Promise<boolean>;
  /** Every registered resource, by URI. */
  listResources(): Promise<ResourceRecord[]>;
}

/** Grants and their refresh-token families (RFC 6749 §6, RFC 9700 §4.14.2), access-token state. */
export interface TokenStore {
  /**
   * Store a new grant with its first tokens; the refresh token (if any) becomes the family root.
   * With `session` (device-bound grants, whose id comes from `newGrantId({ tenantId, username })`) the grant joins
   * the live session of its (user, device), or starts one, and postpones its deadline — atomically.
   * A user's grant (its id from `newGrantId({ tenantId, username, device })`) is also listed in the
   * user's ledger — only if the ledger is still at `ledger.generation` (read before the user's
   * credentials were checked), so that a grant authorized just before the user's grants were
   * ended is refused rather than missed. With `origin.authorizationCode`, an existing grant under
   * the id is a replayed code: it is revoked and `replayed` returned (RFC 6749 §4.1.2). Returns the
   * session's idle deadline, or why it was refused.
   */
  createGrant(
    grant: GrantRecord,
    tokens: IssuedTokens,
    session?: DeviceSessionInput,
    ledger?: LedgerEntry,
    origin?: GrantCreation,
  ): Promise<CreateGrantResult>;
  /**
   * Atomically rotate: of concurrent calls with one token exactly one gets `ok`. Reuse revokes the
   * family (and ends its device session when it was the last live grant of it, as revokeGrant).
   */
  rotateRefreshToken(input: RotateInput): Promise<RotateResult>;
  /**
   * The caller of a rotation gave up waiting for it (the store timed out; the client got 503). If
   * that rotation took effect, the presented token may rotate once more and the successor, which
   * no client received, is killed; so a client's retry is not mistaken for reuse. If it has not
   * (a timed-out command may still run later), it never will. Abandonments of several rotations
   * of one token, landing in any order, affect each its own rotation only. Best effort: sent
   * after the rotation, never awaited.
   */
  abandonRotation(grantId: string, presentedHash: string, nextHash: string): Promise<void>;
  /**
   * Revoke the whole family of a refresh token issued to `clientId` (any token of it, incl. the
   * root), in one atomic step with its device session's end when it leaves none live (see revokeGrant).
   */
  revokeByRefreshToken(
    grantId: string,
    hash: string,
    clientId: string,
    now: number,
  ): Promise<RevokeRefreshResult>;
  /** Revoke one access token until it expires. */
  revokeAccessToken(grantId: string, jti: string, now: number): Promise<void>;
  /**
   * Revoke a grant and everything issued from it. A device session lists its grants while they
   * can be live; revoking the last live one ends the session in the same atomic step, as if the
   * user had signed out of the device (the next sign-in there starts a new session). Another
   * app's live grant keeps the session going.
   */
  revokeGrant(grantId: string, now: number): Promise<RevokeGrantResult>;
  /**
   * One round trip: the grant, whether it or access token `jti` is revoked, and for device-bound
   * grants the device session's deadline — postponed by this call when the token is live. With
   * `proof` (a DPoP-bound token, RFC 9449), the proof is spent in the same step, kept with the
   * grant: `proofReplayed` says whether it had been spent before. Nothing is spent for an
   * unknown grant.
   */
  getAccessTokenState(
    grantId: string,
    jti: string,
    now: number,
    proof?: ProofUse,
  ): Promise<AccessTokenState>;
  /**
   * Spend a DPoP proof made with key `jkt` (its RFC 7638 thumbprint): true the first time, false
   * for a replay within the proof's lifetime, on any instance sharing the store. For guards that
   * read no grant state from this store (remote mode's `replayStore`).
   */
  spendDpopProof(jkt: string, proof: ProofUse, now: number): Promise<boolean>;
  /** The state of a refresh token of a family, or undefined when it was never issued there. */
  getRefreshTokenState(
    grantId: string,
    hash: string,
    now: number,
  ): Promise<RefreshTokenState | undefined>;
}

/** Whose grants a ledger lists: a tenant's user, or a client. */
export type LedgerOwner = { tenantId: string; username: string } | { clientId: string };

/** Where a new grant goes in its owner's ledger. */
export interface LedgerEntry {
  /** The ledger generation read before the owner's record was (see {@link GrantLedgerStore}). */
  generation: string;
  /** Epoch seconds after which the grant cannot be live in any form: its entry may be dropped. */
  until: number;
}

/** What createGrant did. */
export interface CreateGrantResult {
  /** The device session's idle deadline (device-bound grants). */
  deviceDeadline?: number;
  /**
   * Why nothing was stored: `stale`, the user's ledger moved past the generation given (their
   * grants were ended meanwhile); `revoked`, the grant id was revoked before it was created;
   * `replayed`, the authorization code naming this grant id was redeemed before, and the grant it
   * created is now revoked; `device_key`, the device's live session belongs to another DPoP key.
   */
  refused?: 'stale' | 'revoked' | 'replayed' | 'device_key';
}

/** How a grant comes to be created. */
export interface GrantCreation {
  /**
   * Its id comes from an authorization code: an existing grant under it means the code was
   * redeemed already, so that grant is revoked and nothing is created (`replayed`).
   */
  authorizationCode?: boolean;
}

/**
 * Grant ledgers: per user and per client, the grants issued for them and a generation that changes
 * whenever their grants are ended (user deleted, password changed, client deleted, ...). Ending
 * grants is fan-out on the admin side, so checking a token stays one read of its own grant.
 * Readers take the generation before they read the owner's record; writers change the record,
 * then the generation: a grant authorized against a record read before the change carries a
 * generation the ledger no longer has, and is refused when it is created or listed.
 */
export interface GrantLedgerStore {
  /** The ledger's generation ('' when it has none). */
  getLedgerGeneration(owner: LedgerOwner): Promise<string>;
  /**
   * The user's ledger generation, then their record, read in that order — in one round trip
   * where the store can keep the order (one Redis node), else in two.
   */
  getUserWithGeneration(
    tenantId: string,
    username: string,
  ): Promise<{ user?: UserRecord; generation: string }>;
  /** The client's ledger generation, then its record (as getUserWithGeneration). */
  getClientWithGeneration(id: string): Promise<{ client?: ClientRecord; generation: string }>;
  /**
   * List a client's grant in its ledger if the ledger is still at `entry.generation`; false when
   * not (the grant was authorized against a client record that has changed since).
   */
  addClientGrant(
    clientId: string,
    grantId: string,
    entry: LedgerEntry,
    now: number,
  ): Promise<boolean>;
  /**
   * Move the ledger to a new generation. With `endGrants`, every grant it lists is revoked (RFC
   * 7009 §2.1: the whole family, every token issued from it), including one whose creation is
   * still on its way: its id is kept revoked so that it cannot be created. Returns how many live
   * grants were ended (not those revoked already or not yet created).
   */
  renewLedger(
    owner: LedgerOwner,
    generation: string,
    endGrants: boolean,
    now: number,
  ): Promise<number>;
}

/**
 * Device sessions: one per (user, device), shared by every app on the device. A session ends when
 * idle past its deadline, at its maximum age, when revoked here, or when the last of its live
 * grants is revoked (see TokenStore.revokeGrant).
 */
export interface DeviceSessionStore {
  /** The user's live device sessions. */
  listDeviceSessions(
    tenantId: string,
    username: string,
    now: number,
  ): Promise<DeviceSessionRecord[]>;
  /** End one device session: every token of it, in every app, is refused from now on. */
  revokeDeviceSession(tenantId: string, username: string, deviceId: string): Promise<boolean>;
  /** End every device session of the user; returns how many there were. */
  revokeDeviceSessions(tenantId: string, username: string): Promise<number>;
}

/** Where a server serving HTTP on this store says who it is, so the CLI checks tokens as it does. */
export interface DeploymentRecord {
  issuer: string;
  /** `aud` of its access tokens. */
  audience: string;
  /** Epoch seconds when it was first noted, or its audience last changed. */
  seenAt: number;
}

/** The deployments that serve from this store: one per issuer, written at each server's start. */
export interface DeploymentStore {
  /** Note `record`, keyed by its issuer; a record that says nothing new writes nothing. */
  recordDeployment(record: DeploymentRecord): Promise<void>;
  /** Every deployment recorded, most recently seen first. */
  listDeployments(): Promise<DeploymentRecord[]>;
}

/** The signing keys every instance shares (published in the JWKS, RFC 7517). */
export interface KeyStore {
  getSigningKeys(): Promise<SigningKeyRecord[]>;
  /** Store `candidate` as the first key unless keys exist; returns the stored set. */
  initSigningKeys(candidate: SigningKeyRecord): Promise<SigningKeyRecord[]>;
  /**
   * Make `next` the active key; retire the previous one, published until `now + retainSeconds`.
   * Retired keys keep only their public part: their private material is dropped. A key whose kid
   * is `distrust` is removed at once instead of staying published (a key found in the clear).
   */
  rotateSigningKeys(
    next: SigningKeyRecord,
    now: number,
    retainSeconds: number,
    distrust?: string,
  ): Promise<SigningKeyRecord[]>;
}

/** What {@link ChangeFeedStore.readChanges} answers. */
export interface ChangeBatch {
  /** Changes after the given position, oldest first (at most a few hundred per call). */
  entries: FeedEntry[];
  /** The position to read from next time: the last entry's id, else the given one (or the end). */
  cursor: string;
  /**
   * Changes after the given position may be missing: the log was trimmed past it, or it is from a
   * log that no longer exists (a store emptied or restarted without persistence). `entries` is then
   * empty and `cursor` the end of the log: whoever cached answers must drop them all.
   */
  gap: boolean;
}

/**
 * The revocation feed's log: a bounded, shared list of changes (grants, tokens, device sessions,
 * users and clients that ended; live rules that changed) that every server instance appends to and
 * reads, so that remote guards hear of a revocation whichever instance made it. Positions are
 * `<epoch>.<sequence>` strings; a new epoch means an earlier position can no longer be resumed.
 */
export interface ChangeFeedStore {
  /** Append a change (RedisStore: XADD to a stream capped at about 10,000 entries). */
  appendChange(change: FeedChange): Promise<void>;
  /**
   * Changes after `after` (undefined: none, just the end of the log as `cursor`). With `waitMs`,
   * waits up to that long for one when there is none yet.
   */
  readChanges(after: string | undefined, waitMs: number): Promise<ChangeBatch>;
}

/**
 * Storage for tokenward. Every method is one atomic operation (one Lua script in Redis);
 * absence is `undefined`; times are epoch seconds; TTLs are seconds.
 * Implementations: {@link MemoryStore}, {@link RedisStore}. Both pass `test/conformance`
 * (the twin rule, at the top of this file).
 */
export interface Store
  extends RegistryStore,
    TokenStore,
    GrantLedgerStore,
    DeviceSessionStore,
    DeploymentStore,
    KeyStore,
    ChangeFeedStore {
  /**
   * Other processes can read this store's data (a RedisStore: its replicas, backups, anyone with
   * access to Redis). A server on a shared store keeps its private signing keys there only sealed
   * (`keyEncryptionSecret`), unless told otherwise. Absent or false: the data stays in this process.
   */
  readonly shared?: boolean;
  /** A rate-limit store sharing this store's backend, or undefined to use a per-process one. */
  rateLimitStore?(prefix: string): RateLimitStore | undefined;
  /** Release timers and connections the store owns (not a caller's Redis client). */
  close(): Promise<void>;
}
