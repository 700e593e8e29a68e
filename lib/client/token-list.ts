// The client's access tokens, each with a strictly increasing priority: the newest is sent, the rest are kept until discarded.

/**
 * An access token as the TokenManager keeps (and persists) it: internal, with instants in epoch
 * milliseconds (the public {@link TokenInfo} gives them as `Date`s).
 */
export interface HeldToken {
  accessToken: string;
  /** Strictly increasing across every token this storage namespace has held. */
  priority: number;
  /** When the client received it, in epoch milliseconds. */
  issuedAt: number;
  /** Effective expiry in epoch milliseconds: from `expires_in`, corrected by each `Token-Expires-In` hint. */
  expiresAt: number;
  /** `expires_in` at issue, in seconds. */
  lifetime: number;
  scope?: string;
  /** `DPoP` for a token bound to the device key (RFC 9449 §5), sent only with a proof; absent for Bearer. */
  tokenType?: 'DPoP';
}

/**
 * What `TokenManager.tokens()` shows of a held token: no token value, only a short fingerprint
 * (a non-cryptographic 32-bit hash) to tell tokens apart.
 *
 * @example
 * for (const t of tm.tokens())
 *   console.log(t.priority, t.fingerprint, t.expiresAt.toISOString(), (t.expiresAt.getTime() - Date.now()) / 1000);
 */
export interface TokenInfo {
  /** Higher is newer; the highest unexpired one is sent. */
  readonly priority: number;
  /**
   * When the token stops being sent, as a `Date`: its effective expiry, from `expires_in` and
   * corrected by each `Token-Expires-In` hint (the earlier of the JWT `exp` and the device
   * session's idle deadline).
   */
  readonly expiresAt: Date;
  /** The scope it was granted. */
  readonly scope: string | undefined;
  /** 8 hex digits telling tokens apart; never the token. */
  readonly fingerprint: string;
  /** `DPoP` when bound to the device key (sent only with a proof, RFC 9449), else `Bearer`. */
  readonly tokenType: 'Bearer' | 'DPoP';
}

/** FNV-1a, 32 bits, as 8 hex digits: enough to tell tokens apart on a page, useless to an attacker. */
export function fingerprint(token: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < token.length; i++) {
    h ^= token.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * Tokens ordered by priority. A new token gets a priority above every earlier one and the others
 * are discarded at the same moment; the token to send is the highest-priority unexpired one.
 */
export class TokenList {
  private items: HeldToken[] = [];
  private last = 0;

  /** The highest priority ever given (or seen in storage). */
  get lastPriority(): number {
    return this.last;
  }

  /** Never hand out a priority at or below `priority` (seen in shared storage). */
  bump(priority: number): void {
    if (priority > this.last) this.last = priority;
  }

  /** Give `token` top priority and discard the rest. */
  add(token: Omit<HeldToken, 'priority'>): HeldToken {
    this.last += 1;
    const held: HeldToken = { ...token, priority: this.last };
    this.items = [held];
    return held;
  }

  /** Replace the list with tokens read from storage (another context's view). */
  replace(tokens: readonly HeldToken[]): void {
    this.items = [...tokens].sort((a, b) => b.priority - a.priority);
    for (const t of tokens) this.bump(t.priority);
  }

  clear(): void {
    this.items = [];
  }

  /** The highest-priority token, expired or not. */
  head(): HeldToken | undefined {
    return this.items[0];
  }

  /** The highest-priority token that has not expired at `now`. */
  valid(now: number): HeldToken | undefined {
    return this.items.find((t) => t.expiresAt > now);
  }

  all(): readonly HeldToken[] {
    return this.items;
  }

  /** Read-only view, highest priority first. */
  snapshot(): TokenInfo[] {
    return this.items.map((t) =>
      Object.freeze({
        priority: t.priority,
        expiresAt: new Date(t.expiresAt),
        scope: t.scope,
        fingerprint: fingerprint(t.accessToken),
        tokenType: t.tokenType ?? 'Bearer',
      }),
    );
  }
}
