// Renewal with the refresh token: when a token is due, and one refresh at a time under the lock every context sharing the storage takes.
import type { MillisecondClock } from '../core/clock';
import type { Emitter } from './emitter';
import { TokenManagerError } from './errors';
import type { HeldSession } from './held-session';
import type { OAuthClient, TokenEndpointResponse } from './oauth-client';
import type { HeldToken } from './token-list';

export interface RenewalDeps {
  client: OAuthClient;
  session: HeldSession;
  events: Emitter;
  clock: MillisecondClock;
  renewBeforeSeconds: number;
  /** Whether refresh requests carry a DPoP proof: the option is on, or the tokens held are bound. */
  withProof(): boolean;
  /** Runs `fn` under the lock renewals and sign-ins take (other tabs and processes too). */
  locked<T>(fn: () => Promise<T>): Promise<T>;
}

/** The renewals of one TokenManager: every caller shares the one in flight. */
export class Renewal {
  private inFlight: Promise<void> | undefined;

  constructor(private readonly d: RenewalDeps) {}

  /**
   * Due when expired, or with less than `renewBeforeSeconds` left — but never before half its
   * lifetime has passed, so a threshold above the server's lifetime cannot make every request renew.
   */
  due(t: HeldToken, now: number): boolean {
    const remaining = (t.expiresAt - now) / 1000;
    if (remaining <= 0) return true;
    if (remaining >= this.d.renewBeforeSeconds) return false;
    return now - t.issuedAt >= (t.lifetime * 1000) / 2;
  }

  /** The renewal in flight has ended, however it ended. */
  async settled(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
  }

  /** Renew, or join the renewal in flight. `seen` is the token found stale. */
  renew(seen: HeldToken | undefined): Promise<void> {
    this.inFlight ??= this.d
      .locked(() => this.renewLocked(seen))
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  private async renewLocked(seen: HeldToken | undefined): Promise<void> {
    const { session, events, client } = this.d;
    // Another tab may have renewed while we waited for the lock: take its tokens rather than
    // replaying a refresh token it already rotated (which would revoke the family as reuse).
    await session.adoptStored();
    const now = this.d.clock();
    const top = session.list.valid(now);
    if (top && (!seen || top.priority > seen.priority) && !this.due(top, now)) return;
    const refreshToken = session.refreshToken;
    if (refreshToken === undefined)
      throw new TokenManagerError('not_signed_in', 'no refresh token: sign in again');
    let res: TokenEndpointResponse;
    try {
      res = await client.token(
        { grant_type: 'refresh_token', refresh_token: refreshToken },
        this.d.withProof(),
      );
    } catch (err) {
      const signedOut = err instanceof TokenManagerError && err.code === 'invalid_grant';
      if (signedOut) await session.clear();
      events.emit('renewal-failed', { error: err as Error, signedOut });
      if (signedOut) events.emit('signed-out', { reason: 'invalid_grant' });
      throw err;
    }
    const held = await session.accept(res, session.scope, false);
    events.emit('renewed', {
      scope: session.scope,
      expiresAt: new Date(held.expiresAt),
      adopted: false,
    });
  }
}
