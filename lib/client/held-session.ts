// The session a TokenManager holds in memory, mirrored to its storage and reconciled with other contexts.
import type { MillisecondClock } from '../core/clock';
import type { Emitter } from './emitter';
import type { TokenEndpointResponse } from './oauth-client';
import { decodeSession, encodeSession, type Session, topPriority } from './session';
import type { TokenStorage } from './storage';
import { TokenList } from './token-list';

/** Lifetime assumed when a token response has no `expires_in` (RFC 6749 §5.1 leaves it optional). */
const DEFAULT_LIFETIME = 3600;

/** Tokens, refresh token and scope of one issuer + client, and their copy in the storage. */
export class HeldSession {
  readonly list = new TokenList();
  refreshToken: string | undefined;
  scope: string | undefined;

  constructor(
    private readonly storage: TokenStorage,
    private readonly key: string,
    private readonly events: Emitter,
    private readonly clock: MillisecondClock,
  ) {}

  get active(): boolean {
    return this.list.head() !== undefined || this.refreshToken !== undefined;
  }

  /** What the storage holds now. */
  async read(): Promise<Session | undefined> {
    return decodeSession(await this.storage.get(this.key));
  }

  apply(s: Session): void {
    this.list.replace(s.tokens);
    this.refreshToken = s.refreshToken;
    this.scope = s.scope;
  }

  /** Forget the tokens here and in the storage. */
  async clear(): Promise<void> {
    this.list.clear();
    this.refreshToken = undefined;
    this.scope = undefined;
    await this.storage.delete(this.key);
  }

  persist(): Promise<void> {
    const s: Session = { tokens: [...this.list.all()] };
    if (this.refreshToken !== undefined) s.refreshToken = this.refreshToken;
    if (this.scope !== undefined) s.scope = this.scope;
    return this.storage.set(this.key, encodeSession(s));
  }

  /**
   * A token response becomes the top-priority token and the others are discarded; its
   * priority is above any seen in the storage, so priorities rise across tabs too. Persisted.
   */
  async accept(res: TokenEndpointResponse, scope: string | undefined, signIn: boolean) {
    this.list.bump(topPriority(await this.read()));
    const now = this.clock();
    const lifetime = res.expires_in ?? DEFAULT_LIFETIME;
    const granted = res.scope ?? scope;
    const held = this.list.add({
      accessToken: res.access_token,
      issuedAt: now,
      expiresAt: now + lifetime * 1000,
      lifetime,
      ...(granted !== undefined ? { scope: granted } : {}),
      ...(res.token_type === 'DPoP' ? { tokenType: 'DPoP' as const } : {}),
    });
    // RFC 6749 §6: a refresh response without a refresh token leaves the current one in use.
    if (signIn || res.refresh_token !== undefined) this.refreshToken = res.refresh_token;
    this.scope = granted;
    await this.persist();
    return held;
  }

  /** Take what another context (tab, process) stored when it is newer than what we hold. */
  async adoptStored(): Promise<void> {
    const stored = await this.read();
    if (!stored) {
      if (!this.active) return;
      this.list.clear();
      this.refreshToken = undefined;
      this.scope = undefined;
      this.events.emit('signed-out', { reason: 'other-context' });
      return;
    }
    const theirs = topPriority(stored);
    const ours = this.list.head()?.priority ?? 0;
    if (theirs > ours || (theirs === ours && stored.refreshToken !== this.refreshToken)) {
      this.apply(stored);
      const head = this.list.head();
      if (head)
        this.events.emit('renewed', {
          scope: this.scope,
          expiresAt: new Date(head.expiresAt),
          adopted: true,
        });
    } else this.list.bump(theirs);
  }
}
