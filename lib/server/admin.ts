// Admin API (auth.admin): validated upserts and reads of tenants, clients, users and scopes; key rotation.

import { userTag } from '../core/grant-id';
import { CLIENT_ID, ROLE, SCOPE_TOKEN, TENANT_ID } from '../core/ids';
import { ValidationError } from '../errors';
import type { ClientGrantsEnded, UserGrantsEnded } from '../events';
import type {
  ClientRecord,
  GrantType,
  ResourceRecord,
  ScopeRecord,
  TenantRecord,
  UserRecord,
} from '../store/store';
import { verifyAccessToken } from '../tokens/access-token';
import { parseRefreshToken } from '../tokens/refresh-token';
import { hashSecret, randomId, verifySecret } from '../tokens/secrets';
import type { ServerContext } from './context';
import { GRANT_TYPES } from './grants';
import { type IntrospectionResponse, introspect } from './introspection';
import { publishChange } from './publish-change';
import { redirectUriProblem } from './redirect-uri';
import { hasGrantAudience, issuedAudiences, resourceUriProblem } from './resource';

export interface TenantInput {
  /** `[A-Za-z0-9._-]{1,64}`. */
  id: string;
  name?: string;
  /** Local-user mode ("local authentication cooperation"): tokens' `local_user` becomes the identity; default false. */
  localUserMode?: boolean;
}

export interface ClientInput {
  /** `[A-Za-z0-9._:-]{1,128}`. */
  id: string;
  tenantId: string;
  name?: string;
  /** At least 16 characters; stored as a scrypt hash. Omit on update to keep the current one. */
  secret?: string;
  /** A public client (no secret): authorization_code, password and refresh_token grants only. */
  public?: boolean;
  grants: GrantType[];
  scopes?: string[];
  localUsers?: boolean;
  introspect?: boolean;
  /** With `introspect`: may introspect access tokens of every tenant, not only its own (default false). */
  introspectAllTenants?: boolean;
  clientCredentialsRefresh?: boolean;
  /**
   * With the `authorization_code` grant (at least one): where codes may be sent, each matched
   * exactly — https, http only for localhost, 127.0.0.1 and [::1] (any port for the IP literals,
   * RFC 8252 §7.3), or a native app's reverse-domain scheme (`com.example.app:/cb`).
   */
  redirectUris?: string[];
  /**
   * `'required'`: the token endpoint refuses this client's requests without a DPoP proof (RFC
   * 9449), so every token it holds is bound to its key. Omit (or `'allowed'`) to make it optional.
   */
  dpop?: 'allowed' | 'required';
}

export interface UserInput {
  tenantId: string;
  /** 1–256 characters, no control characters or surrounding spaces. */
  username: string;
  /** 8–1024 characters; stored as a scrypt hash. Omit on update to keep the current one. */
  password?: string;
  roles?: string[];
}

export interface ScopeInput {
  name: string;
  service?: string;
  roleCheck?: boolean;
  roles?: string[];
}

/** A resource server (RFC 8707), registered by the URI its guards use as `audience`. */
export interface ResourceInput {
  /** Absolute https URL (http only for localhost), no query or fragment; compared exactly. */
  uri: string;
  /** The services it serves (scope definitions' `service`): at least one. */
  services: string[];
  name?: string;
}

/** A client as the admin API shows it: never the secret hash. */
export type ClientView = Omit<ClientRecord, 'secretHash'> & { public: boolean };
/** A user as the admin API shows it: never the password hash. */
export type UserView = Omit<UserRecord, 'passwordHash'>;

const NAME = /^[^\p{Cc}]{1,256}$/u;

function check(ok: boolean, field: string, message: string): void {
  if (!ok) throw new ValidationError(field, message);
}
function known(input: object, keys: readonly string[], what: string): void {
  if (!input || typeof input !== 'object') throw new ValidationError(what, 'must be an object');
  for (const k of Object.keys(input))
    check(keys.includes(k), `${what}.${k}`, `unknown field (known: ${keys.join(', ')})`);
}
function optionalName(v: unknown, field: string): void {
  check(
    v === undefined || (typeof v === 'string' && NAME.test(v)),
    field,
    'must be 1-256 printable characters',
  );
}
function bool(v: unknown, field: string): boolean {
  check(v === undefined || typeof v === 'boolean', field, 'must be a boolean');
  return v === true;
}
/** `introspectAllTenants` widens what introspection shows, so it makes sense only with `introspect`. */
function allTenants(input: ClientInput): boolean {
  const on = bool(input.introspectAllTenants, 'client.introspectAllTenants');
  check(!on || input.introspect === true, 'client.introspectAllTenants', 'needs introspect: true');
  return on;
}
/** Redirect URIs: each registrable, and at least one exactly when the client uses authorization codes. */
function redirectUrisOf(input: ClientInput, grants: GrantType[]): string[] {
  const v = input.redirectUris;
  if (v === undefined) {
    check(
      !grants.includes('authorization_code'),
      'client.redirectUris',
      'the authorization_code grant needs at least one redirect URI',
    );
    return [];
  }
  check(
    Array.isArray(v) && v.length <= 32,
    'client.redirectUris',
    'must be an array of at most 32 URIs',
  );
  for (const uri of v as unknown[]) {
    const problem = redirectUriProblem(uri);
    check(problem === undefined, 'client.redirectUris', `${JSON.stringify(uri)} ${problem}`);
  }
  const uris = [...new Set(v as string[])];
  check(
    uris.length === 0 || grants.includes('authorization_code'),
    'client.redirectUris',
    'only a client with the authorization_code grant has redirect URIs',
  );
  check(
    uris.length > 0 || !grants.includes('authorization_code'),
    'client.redirectUris',
    'the authorization_code grant needs at least one redirect URI',
  );
  return uris;
}
function list(v: unknown, field: string, re: RegExp, what: string): string[] {
  if (v === undefined) return [];
  check(Array.isArray(v) && v.length <= 256, field, 'must be an array of at most 256 items');
  for (const s of v as unknown[])
    check(
      typeof s === 'string' && re.test(s),
      field,
      `"${String(s).slice(0, 40)}" is not a valid ${what}`,
    );
  return [...new Set(v as string[])];
}

const viewClient = ({ secretHash, ...c }: ClientRecord): ClientView => ({
  ...c,
  public: !secretHash,
});
const viewUser = ({ passwordHash: _, ...u }: UserRecord): UserView => u;

export function createAdmin(ctx: ServerContext) {
  const { store } = ctx;
  const requireTenant = async (id: unknown, field: string) => {
    check(typeof id === 'string' && TENANT_ID.test(id), field, 'must match [A-Za-z0-9._-]{1,64}');
    check(!!(await store.getTenant(id as string)), field, `tenant "${id}" does not exist`);
  };

  // Record first, then the ledger (the order GrantLedgerStore needs); the device sessions go too.
  const endUserGrants = async (
    tenantId: string,
    username: string,
    reason: UserGrantsEnded['reason'],
  ) => {
    const now = ctx.now();
    const count = await store.renewLedger({ tenantId, username }, randomId(12), true, now);
    // A new user's namesake, if any, had its device sessions ended when it was deleted.
    const sessions =
      reason === 'created' ? 0 : await store.revokeDeviceSessions(tenantId, username);
    if (sessions > 0)
      ctx.events.emit('device_session.revoked', { tenantId, username, count: sessions });
    if (count > 0) ctx.events.emit('user.grants_ended', { tenantId, username, reason, count });
    // Published even when nothing was counted: a call retried after a failed publish counts nothing.
    if (reason !== 'created')
      await publishChange(ctx, { type: 'user.ended', tenantId, user: userTag(tenantId, username) });
    return count;
  };
  /** `tenantId`: the tenant whose tokens the client held (before a move, the old one). */
  const endClientGrants = async (
    clientId: string,
    tenantId: string | undefined,
    reason?: ClientGrantsEnded['reason'],
  ) => {
    const count = await store.renewLedger({ clientId }, randomId(12), !!reason, ctx.now());
    ctx.clients.forget(clientId);
    if (reason && count > 0) ctx.events.emit('client.grants_ended', { clientId, reason, count });
    if (reason && reason !== 'created')
      await publishChange(ctx, {
        type: 'client.ended',
        clientId,
        ...(tenantId ? { tenantId } : {}),
      });
    return count;
  };

  return {
    async upsertTenant(input: TenantInput): Promise<TenantRecord> {
      known(input, ['id', 'name', 'localUserMode'], 'tenant');
      check(
        typeof input.id === 'string' && TENANT_ID.test(input.id),
        'tenant.id',
        'must match [A-Za-z0-9._-]{1,64}',
      );
      optionalName(input.name, 'tenant.name');
      const tenant: TenantRecord = {
        id: input.id,
        ...(input.name ? { name: input.name } : {}),
        localUserMode: bool(input.localUserMode, 'tenant.localUserMode'),
      };
      const before = await store.getTenant(tenant.id);
      await store.putTenant(tenant);
      // Guards that resolve identities read the tenant's mode from introspection answers.
      if (before && before.localUserMode !== tenant.localUserMode)
        await publishChange(ctx, { type: 'tenant.changed', tenantId: tenant.id });
      return tenant;
    },
    getTenant: (id: string) => store.getTenant(id),
    listTenants: () => store.listTenants(),
    /** Refused while clients or users of the tenant exist. */
    async deleteTenant(id: string): Promise<boolean> {
      const clients = await store.listClients();
      check(!clients.some((c) => c.tenantId === id), 'tenant', `tenant "${id}" still has clients`);
      check((await store.listUsers(id)).length === 0, 'tenant', `tenant "${id}" still has users`);
      return store.deleteTenant(id);
    },

    async upsertClient(input: ClientInput): Promise<ClientView> {
      known(
        input,
        [
          'id',
          'tenantId',
          'name',
          'secret',
          'public',
          'grants',
          'scopes',
          'localUsers',
          'introspect',
          'introspectAllTenants',
          'clientCredentialsRefresh',
          'redirectUris',
          'dpop',
        ],
        'client',
      );
      check(
        input.dpop === undefined || input.dpop === 'allowed' || input.dpop === 'required',
        'client.dpop',
        "must be 'allowed' or 'required'",
      );
      check(
        typeof input.id === 'string' && CLIENT_ID.test(input.id),
        'client.id',
        'must match [A-Za-z0-9._:-]{1,128}',
      );
      await requireTenant(input.tenantId, 'client.tenantId');
      const isPublic = bool(input.public, 'client.public');
      const grants = list(input.grants, 'client.grants', /^.+$/, 'grant type') as GrantType[];
      check(grants.length > 0, 'client.grants', 'must name at least one grant type');
      for (const g of grants)
        check(
          GRANT_TYPES.includes(g),
          'client.grants',
          `"${g}" is not one of ${GRANT_TYPES.join(', ')}`,
        );
      const existing = await store.getClient(input.id);
      let secretHash: string | undefined;
      if (isPublic) {
        check(input.secret === undefined, 'client.secret', 'a public client has no secret');
        check(
          !grants.includes('client_credentials'),
          'client.grants',
          'a public client cannot use client_credentials',
        );
        check(input.introspect !== true, 'client.introspect', 'a public client cannot introspect');
      } else if (input.secret !== undefined) {
        check(
          typeof input.secret === 'string' &&
            input.secret.length >= 16 &&
            input.secret.length <= 1024,
          'client.secret',
          'must be 16-1024 characters',
        );
        secretHash = await hashSecret(input.secret, ctx.config.passwordHashing.scryptCost);
      } else {
        secretHash = existing?.secretHash;
        check(
          !!secretHash,
          'client.secret',
          'required for a new confidential client (or set public: true)',
        );
      }
      check(
        input.clientCredentialsRefresh !== true ||
          (grants.includes('client_credentials') && grants.includes('refresh_token')),
        'client.clientCredentialsRefresh',
        'needs both client_credentials and refresh_token in grants',
      );
      optionalName(input.name, 'client.name');
      const redirectUris = redirectUrisOf(input, grants);
      const client: ClientRecord = {
        id: input.id,
        tenantId: input.tenantId,
        ...(input.name ? { name: input.name } : {}),
        ...(secretHash ? { secretHash } : {}),
        grants,
        scopes: list(input.scopes, 'client.scopes', SCOPE_TOKEN, 'scope'),
        localUsers: bool(input.localUsers, 'client.localUsers'),
        introspect: bool(input.introspect, 'client.introspect'),
        introspectAllTenants: allTenants(input),
        clientCredentialsRefresh: bool(
          input.clientCredentialsRefresh,
          'client.clientCredentialsRefresh',
        ),
        ...(redirectUris.length > 0 ? { redirectUris } : {}),
        ...(input.dpop === 'required' ? { dpop: 'required' as const } : {}),
      };
      await store.putClient(client);
      // A new client inherits nothing of a namesake's; a client moved to another tenant, or no
      // longer allowed local users, keeps no grant issued under the old terms. Any change moves
      // the ledger on, so that every instance re-reads the record at the next grant it issues.
      const ends: ClientGrantsEnded['reason'] | undefined = !existing
        ? 'created'
        : existing.tenantId !== client.tenantId
          ? 'tenant_changed'
          : existing.localUsers && !client.localUsers
            ? 'local_users_off'
            : undefined;
      await endClientGrants(client.id, existing?.tenantId, ends);
      // Anything else that changed (scopes narrowed, introspection turned off) reaches guards too.
      if (existing && !ends)
        await publishChange(ctx, {
          type: 'client.changed',
          clientId: client.id,
          tenantId: client.tenantId,
        });
      return viewClient(client);
    },
    getClient: async (id: string) => {
      const c = await store.getClient(id);
      return c && viewClient(c);
    },
    listClients: async () => (await store.listClients()).map(viewClient),
    /** Delete a client and end every grant it holds: its tokens are refused from the next request. */
    deleteClient: async (id: string) => {
      const tenantId = (await store.getClient(id))?.tenantId;
      const deleted = await store.deleteClient(id);
      await endClientGrants(id, tenantId, 'deleted');
      return deleted;
    },
    /**
     * End every grant of a client (RFC 7009 §2.1: each family and every token issued from it), on
     * every instance; its next sign-ins start afresh. Returns how many grants were ended.
     */
    revokeClientGrants: async (clientId: string) =>
      endClientGrants(clientId, (await store.getClient(clientId))?.tenantId, 'revoked'),

    async upsertUser(input: UserInput): Promise<UserView> {
      known(input, ['tenantId', 'username', 'password', 'roles'], 'user');
      await requireTenant(input.tenantId, 'user.tenantId');
      check(
        typeof input.username === 'string' &&
          NAME.test(input.username) &&
          input.username.trim() === input.username,
        'user.username',
        'must be 1-256 printable characters without surrounding spaces',
      );
      const existing = await store.getUser(input.tenantId, input.username);
      let passwordHash = existing?.passwordHash;
      let newPassword = false;
      if (input.password !== undefined) {
        check(
          typeof input.password === 'string' &&
            input.password.length >= 8 &&
            input.password.length <= 1024,
          'user.password',
          'must be 8-1024 characters',
        );
        // Setting the password a user already has (a re-run provisioning script) is no change:
        // it must not sign the user out everywhere.
        newPassword = !(
          existing?.passwordHash !== undefined &&
          (await verifySecret(input.password, existing.passwordHash))
        );
        if (newPassword)
          passwordHash = await hashSecret(input.password, ctx.config.passwordHashing.scryptCost);
      }
      const user: UserRecord = {
        tenantId: input.tenantId,
        username: input.username,
        ...(passwordHash !== undefined ? { passwordHash } : {}),
        roles: list(input.roles, 'user.roles', ROLE, 'role'),
      };
      await store.putUser(user);
      // A new user inherits nothing of a namesake's; a new password ends every grant of the old one.
      if (!existing) await endUserGrants(user.tenantId, user.username, 'created');
      else if (newPassword) await endUserGrants(user.tenantId, user.username, 'password_changed');
      else if (existing.roles.join(' ') !== user.roles.join(' '))
        await publishChange(ctx, {
          type: 'user.changed',
          tenantId: user.tenantId,
          user: userTag(user.tenantId, user.username),
        });
      return viewUser(user);
    },
    getUser: async (tenantId: string, username: string) => {
      const u = await store.getUser(tenantId, username);
      return u && viewUser(u);
    },
    listUsers: async (tenantId: string) => (await store.listUsers(tenantId)).map(viewUser),
    /** Delete a user and end every grant and device session of theirs, in every client. */
    deleteUser: async (tenantId: string, username: string) => {
      const deleted = await store.deleteUser(tenantId, username);
      await endUserGrants(tenantId, username, 'deleted');
      return deleted;
    },
    /**
     * End every grant of a user, device-bound or not, in every client, on every instance: refresh
     * answers invalid_grant and guards refuse their access tokens from the next request. Returns
     * how many grants were ended.
     */
    revokeUserGrants: (tenantId: string, username: string) =>
      endUserGrants(tenantId, username, 'revoked'),

    async upsertScope(input: ScopeInput): Promise<ScopeRecord> {
      known(input, ['name', 'service', 'roleCheck', 'roles'], 'scope');
      check(
        typeof input.name === 'string' && SCOPE_TOKEN.test(input.name),
        'scope.name',
        'must be a scope token (RFC 6749 §3.3)',
      );
      check(
        input.service === undefined ||
          (typeof input.service === 'string' && ROLE.test(input.service)),
        'scope.service',
        'must match [A-Za-z0-9._:-]{1,64}',
      );
      const roleCheck = bool(input.roleCheck, 'scope.roleCheck');
      const roles = list(input.roles, 'scope.roles', ROLE, 'role');
      check(
        !roleCheck || roles.length > 0,
        'scope.roles',
        'roleCheck: true needs at least one role',
      );
      const scope: ScopeRecord = {
        name: input.name,
        ...(input.service ? { service: input.service } : {}),
        roleCheck,
        roles,
      };
      await store.putScope(scope);
      await publishChange(ctx, { type: 'scope.changed', scope: scope.name });
      return scope;
    },
    getScope: (name: string) => store.getScope(name),
    listScopes: () => store.listScopes(),
    deleteScope: async (name: string) => {
      const deleted = await store.deleteScope(name);
      await publishChange(ctx, { type: 'scope.changed', scope: name });
      return deleted;
    },

    /**
     * Register (or replace) a resource server (RFC 8707): a token request naming its `uri` as
     * `resource` gets `aud` = `uri` and only the scopes of its `services`. A change applies to new
     * grants; families already issued keep their audience and scopes.
     *
     * @example await auth.admin.upsertResource({ uri: 'https://print.example', services: ['print'] });
     */
    async upsertResource(input: ResourceInput): Promise<ResourceRecord> {
      known(input, ['uri', 'services', 'name'], 'resource');
      const problem = resourceUriProblem(input.uri);
      check(problem === undefined, 'resource.uri', problem ?? '');
      const services = list(input.services, 'resource.services', ROLE, 'service name');
      check(services.length > 0, 'resource.services', 'must name at least one service');
      optionalName(input.name, 'resource.name');
      const resource: ResourceRecord = {
        uri: input.uri,
        services,
        ...(input.name ? { name: input.name } : {}),
      };
      await store.putResource(resource);
      return resource;
    },
    getResource: (uri: string) => store.getResource(uri),
    listResources: () => store.listResources(),
    /** Unregister a resource: new token requests naming it get `invalid_target`; issued families keep it. */
    deleteResource: (uri: string) => store.deleteResource(uri),

    /** Start signing with a new key; the old public key stays in the JWKS until its tokens expired. Returns the new kid. */
    rotateKeys: async () => {
      const kid = await ctx.keys.rotate();
      ctx.events.emit('keys.rotated', { kid });
      return kid;
    },
    /** Revoke a grant (refresh-token family) and every token issued from it. */
    revokeGrant: async (grantId: string) => {
      // The grant's tenant, for the feed: its state read as for a token of no jti.
      const tenantId = (await store.getAccessTokenState(grantId, '-', ctx.now())).grant?.tenantId;
      const result = await store.revokeGrant(grantId, ctx.now());
      if (result === 'revoked') ctx.events.emit('family.revoked', { grantId, by: 'admin' });
      if (result !== 'not_found')
        await publishChange(ctx, {
          type: 'grant.revoked',
          grantId,
          ...(tenantId ? { tenantId } : {}),
        });
      return result !== 'not_found';
    },

    /** Introspect any token as the introspection endpoint would (RFC 7662), without a client. */
    introspectToken: (token: string): Promise<IntrospectionResponse> => introspect(ctx, token),
    /**
     * Revoke any token whatever client holds it: a refresh token revokes its whole family, an
     * access token itself. Idempotent: true for any token of ours still on record (revoked or
     * not), false for anything else (unknown, forged, expired and forgotten).
     */
    revokeToken: async (token: string): Promise<boolean> => {
      const refresh = parseRefreshToken(token);
      if (refresh) {
        const state = await store.getRefreshTokenState(refresh.grantId, refresh.hash, ctx.now());
        if (state === undefined) return false;
        const result = await store.revokeGrant(refresh.grantId, ctx.now());
        if (result === 'revoked')
          ctx.events.emit('family.revoked', { grantId: refresh.grantId, by: 'admin' });
        if (result !== 'not_found')
          await publishChange(ctx, {
            type: 'grant.revoked',
            grantId: refresh.grantId,
            tenantId: state.grant.tenantId,
          });
        return result !== 'not_found';
      }
      const claims = await verifyAccessToken(
        token,
        ctx.keys,
        { ...ctx.config, audience: issuedAudiences(ctx) },
        ctx.now,
      );
      if (!claims || !(await hasGrantAudience(ctx, claims))) return false;
      await store.revokeAccessToken(claims.gid, claims.jti, ctx.now());
      ctx.events.emit('access_token.revoked', {
        grantId: claims.gid,
        jti: claims.jti,
        by: 'admin',
      });
      await publishChange(ctx, {
        type: 'access_token.revoked',
        grantId: claims.gid,
        jti: claims.jti,
        tenantId: claims.tenant_id,
      });
      return true;
    },

    /** A user's live device sessions: device, apps, last seen, idle deadline, end. */
    listDeviceSessions: (tenantId: string, username: string) =>
      store.listDeviceSessions(tenantId, username, ctx.now()),
    /** End one device session: every token of it, in every app, is refused from the next request. */
    revokeDeviceSession: async (tenantId: string, username: string, deviceId: string) => {
      const revoked = await store.revokeDeviceSession(tenantId, username, deviceId);
      if (revoked)
        ctx.events.emit('device_session.revoked', { tenantId, username, deviceId, count: 1 });
      await publishChange(ctx, {
        type: 'device_session.ended',
        tenantId,
        user: userTag(tenantId, username),
        device: deviceId,
      });
      return revoked;
    },
    /** End all of a user's device sessions; returns how many there were. */
    revokeDeviceSessions: async (tenantId: string, username: string) => {
      const count = await store.revokeDeviceSessions(tenantId, username);
      if (count > 0) ctx.events.emit('device_session.revoked', { tenantId, username, count });
      await publishChange(ctx, {
        type: 'device_session.ended',
        tenantId,
        user: userTag(tenantId, username),
      });
      return count;
    },
  };
}

export type Admin = ReturnType<typeof createAdmin>;
