// The TokenManager's pluggable storage contract and the in-memory implementation.

/**
 * Where a {@link TokenManager} keeps its tokens and device id (non-volatile, so a restart needs no new sign-in).
 * Keys are chosen by the TokenManager and already namespaced per issuer and client; values are
 * opaque strings (JSON). Absence is `undefined`.
 *
 * The two optional members let storages shared between browsing contexts (tabs) coordinate: a
 * storage without them is assumed to be used by one TokenManager at a time.
 *
 * @example
 * const storage: TokenStorage = {
 *   get: async (key) => db.read(key),
 *   set: async (key, value) => db.write(key, value),
 *   delete: async (key) => db.remove(key),
 * };
 */
export interface TokenStorage {
  /** The value stored under `key`, or `undefined`. */
  get(key: string): Promise<string | undefined>;
  /** Store `value` under `key`, replacing what was there. */
  set(key: string, value: string): Promise<void>;
  /** Remove `key`; removing an absent key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Run `fn` while holding an exclusive lock named `name`, shared with every other context that
   * uses the same underlying storage (other tabs). Renewals run under it, so that contexts sharing
   * the tokens refresh once between them.
   */
  lock?<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Call `listener` with the key (or `null` for "everything") whenever another context changes the
   * storage. Returns a function that stops listening.
   */
  subscribe?(listener: (key: string | null) => void): () => void;
}

/**
 * Keeps values in memory: nothing survives a restart. The default storage, and the one for tests.
 *
 * @example
 * const tm = new TokenManager({ issuer, clientId: 'app', storage: new MemoryStorage() });
 */
export class MemoryStorage implements TokenStorage {
  private readonly values = new Map<string, string>();

  async get(key: string): Promise<string | undefined> {
    return this.values.get(key);
  }

  async set(key: string, value: string): Promise<void> {
    this.values.set(key, value);
  }

  async delete(key: string): Promise<void> {
    this.values.delete(key);
  }
}
