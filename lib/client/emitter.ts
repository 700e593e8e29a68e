// A tiny typed event emitter that runs in Node and browsers alike (no `events` import).

/**
 * Events of a TokenManager and what their listeners receive. Instants are `Date`s, as in
 * `tm.tokens()`.
 *
 * @example
 * tm.on('renewal-failed', ({ error }) => console.warn('session ended', error.code));
 * tm.on('renewed', ({ expiresAt }) => console.log('valid until', expiresAt.toISOString()));
 */
export interface TokenManagerEvents {
  /**
   * A sign-in succeeded (password, redirect or browser); `expiresAt`: when its access token expires
   * (a `Date`).
   */
  'signed-in': { scope: string | undefined; expiresAt: Date };
  /**
   * New tokens were obtained by refresh, or adopted from another tab that refreshed;
   * `expiresAt`: when the new access token expires (a `Date`).
   */
  renewed: { scope: string | undefined; expiresAt: Date; adopted: boolean };
  /** A refresh failed; with `signedOut: true` the session is over (e.g. `invalid_grant`). */
  'renewal-failed': { error: Error; signedOut: boolean };
  /** Tokens were cleared: by `signOut()`, a refused refresh, or another tab signing out. */
  'signed-out': { reason: 'sign-out' | 'invalid_grant' | 'other-context' };
}

/**
 * An event name, and a listener of that event.
 *
 * @example
 * const onRenewed: Listener<'renewed'> = ({ expiresAt }) => schedule(expiresAt);
 */
export type TokenManagerEventName = keyof TokenManagerEvents;
export type Listener<E extends TokenManagerEventName> = (event: TokenManagerEvents[E]) => void;

/** Listener registry; a throwing listener never breaks the emitter or the other listeners. */
export class Emitter {
  private readonly listeners = new Map<TokenManagerEventName, Set<(event: never) => void>>();

  on<E extends TokenManagerEventName>(name: E, fn: Listener<E>): () => void {
    const set = this.listeners.get(name) ?? new Set();
    this.listeners.set(name, set);
    set.add(fn as (event: never) => void);
    return () => this.off(name, fn);
  }

  off<E extends TokenManagerEventName>(name: E, fn: Listener<E>): void {
    this.listeners.get(name)?.delete(fn as (event: never) => void);
  }

  emit<E extends TokenManagerEventName>(name: E, event: TokenManagerEvents[E]): void {
    for (const fn of [...(this.listeners.get(name) ?? [])]) {
      try {
        (fn as Listener<E>)(event);
      } catch {
        // A listener's bug is its own; token handling goes on.
      }
    }
  }
}
