// Typed audit events of the authorization server and the guard: ids and reasons only, never a credential.

import type { ChangeType } from './core/feed-change';
import type { GrantOrigin } from './core/grant-type';
import type { Logger } from './core/logger';
import type { RejectionCause } from './core/rejection';

/** Events of `auth.events` (who got a token, which family was revoked and why, …). */
/** The rate limits, each counted per window (the `rateLimit` option), as `rate_limited` names them. */
export type LimiterName =
  | 'password_ip'
  | 'password_username'
  | 'refresh_family'
  | 'refresh_ip'
  | 'client_auth_client'
  | 'client_auth_ip';

/** `user.grants_ended`: how many grants of the user were ended, and why. */
export interface UserGrantsEnded {
  tenantId: string;
  username: string;
  reason: 'created' | 'deleted' | 'password_changed' | 'revoked';
  count: number;
}

/** `client.grants_ended`: how many grants of the client were ended, and why. */
export interface ClientGrantsEnded {
  clientId: string;
  reason: 'created' | 'deleted' | 'tenant_changed' | 'local_users_off' | 'revoked';
  count: number;
}

export interface AuthServerEvents {
  'token.issued': {
    grantType: GrantOrigin;
    clientId: string;
    tenantId: string;
    subject: string;
    grantId: string;
    jti: string;
    scope: string;
    refreshToken: boolean;
    deviceId?: string;
    localUser?: string;
  };
  'token.refreshed': {
    clientId: string;
    tenantId: string;
    subject: string;
    grantId: string;
    jti: string;
    /** A retry within the leeway, or of an abandoned rotation. */
    retried: boolean;
    deviceId?: string;
  };
  /** An already-rotated refresh token was replayed; its family is now revoked. */
  'refresh.reused': { clientId: string; grantId: string };
  'family.revoked': { grantId: string; by: 'revocation' | 'reuse' | 'admin'; clientId?: string };
  'access_token.revoked': { grantId: string; jti: string; by: 'revocation' | 'admin' };
  /** A refresh was refused because the device session ended (idle or revoked). */
  'device_session.expired': { clientId: string; grantId: string };
  /** The last app signed in on a device signed out (its family revoked, RFC 7009): the device session ended with it. */
  'device_session.ended': { clientId: string; grantId: string; reason: 'last_grant_revoked' };
  'device_session.revoked': {
    tenantId: string;
    username: string;
    deviceId?: string;
    count: number;
  };
  /** Every grant of a user was ended (admin: deleted, new password, revokeUserGrants). */
  'user.grants_ended': UserGrantsEnded;
  /** Every grant of a client was ended (admin: deleted, moved tenant, local users off, revokeClientGrants). */
  'client.grants_ended': ClientGrantsEnded;
  'client_auth.failed': {
    clientId?: string;
    endpoint: 'token' | 'revocation' | 'introspection' | 'revocation_feed';
  };
  'password.failed': { clientId: string; tenantId: string; username: string };
  /** A request was answered 429: which limit (see the `rateLimit` option). */
  rate_limited: { limiter: LimiterName };
  'store.unavailable': {
    endpoint: 'authorize' | 'token' | 'revocation' | 'introspection' | 'revocation_feed' | 'jwks';
  };
  /** A change was written to the revocation feed (every instance's subscribers get it). */
  'feed.published': { type: ChangeType };
  /** An introspecting client opened the revocation feed (`resumed`: with Last-Event-ID). */
  'feed.subscribed': { clientId: string; resumed: boolean };
  /**
   * A revocation feed stream closed: `client` hung up; `slow`: it did not read and its buffer
   * filled; `store`: the store could not be read; `shutdown`: auth.close(); `client_changed`: the
   * subscriber's own registration changed.
   */
  'feed.closed': {
    clientId: string;
    reason: 'client' | 'slow' | 'store' | 'shutdown' | 'client_changed';
  };
  'keys.rotated': { kid: string };
}

/** Events of `guard.events`. */
export interface GuardEvents {
  'token.accepted': {
    clientId: string;
    subject: string;
    tenantId: string;
    jti: string;
    expiresAt: number;
    deviceId?: string;
  };
  'token.rejected': {
    /**
     * `missing`: no token; `malformed`: a request RFC 6750 refuses; `invalid`: a token that is not
     * valid and live (see `cause`); `unavailable`: it could not be checked (503); `misconfigured`:
     * the guard is set up wrong (500, and an error log line saying the fix).
     */
    reason: 'missing' | 'malformed' | 'invalid' | 'unavailable' | 'misconfigured';
    /** Why an `invalid` token was refused: wrong issuer, audience, type or tenant, unknown key, expired, revoked, … */
    cause?: RejectionCause;
    /** For the operator: what was expected and what the token carries (never the token itself). */
    detail?: string;
  };
  'access.denied': { scope: string; clientId: string; subject: string };
  /** Remote mode: subscribed to the revocation feed, caught up (`resumed`: from where it left off). */
  'feed.connected': { resumed: boolean };
  /** Remote mode: the revocation feed dropped (`reason`); answers are kept `cacheTtl` until it is back. */
  'feed.disconnected': { reason: string };
  /** Remote mode: a change heard on the revocation feed (`reset`: every cached answer dropped). */
  'feed.change': { type: ChangeType | 'reset' };
  /** A device-bound token was used: its device session's idle deadline now reads `deadline`. */
  'device_session.extended': {
    tenantId: string;
    subject: string;
    deviceId: string;
    clientId: string;
    /** Epoch seconds. */
    deadline: number;
  };
}

export type EventListener<M, E extends keyof M> = (payload: M[E]) => void;

/**
 * A tiny typed emitter. Listeners run after the current request's work (setImmediate), so one
 * that throws or is slow neither breaks nor delays a response; a throw is logged and dropped.
 *
 * @example auth.events.on('refresh.reused', ({ clientId, grantId }) => alert(clientId, grantId));
 */
export class Events<M> {
  private readonly listeners = new Map<keyof M, Set<(payload: never) => void>>();
  /** Called synchronously for every event (metrics); must not throw. */
  tap?: (name: keyof M, payload: M[keyof M]) => void;

  constructor(private readonly logger: Logger) {}

  /** Listen to `name`; returns a function that stops listening. */
  on<E extends keyof M>(name: E, listener: EventListener<M, E>): () => void {
    const set = this.listeners.get(name) ?? new Set();
    this.listeners.set(name, set);
    set.add(listener as (payload: never) => void);
    return () => this.off(name, listener);
  }

  off<E extends keyof M>(name: E, listener: EventListener<M, E>): void {
    this.listeners.get(name)?.delete(listener as (payload: never) => void);
  }

  /** Whether emitting `name` reaches anyone (a listener or metrics): lets hot paths skip building payloads. */
  wants(name: keyof M): boolean {
    return this.tap !== undefined || (this.listeners.get(name)?.size ?? 0) > 0;
  }

  emit<E extends keyof M>(name: E, payload: M[E]): void {
    try {
      this.tap?.(name, payload as M[keyof M]);
    } catch {
      // metrics must never break a request
    }
    const set = this.listeners.get(name);
    if (!set || set.size === 0) return;
    const frozen = Object.freeze({ ...payload });
    setImmediate(() => {
      for (const listener of set) {
        try {
          (listener as (p: Readonly<M[E]>) => void)(frozen);
        } catch (err) {
          this.logger.error(
            {
              event: String(name),
              name: (err as Error)?.name,
            },
            'event listener threw',
          );
        }
      }
    });
  }
}
