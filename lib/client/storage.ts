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
 * Nor does a generated device id: a TokenManager on a MemoryStorage without the `deviceId` option
 * is a new device each run (each process, each page load), and each sign-in opens another device
 * session on the server. The first TokenManager that generates a device id in one says so, once
 * per process, with `console.warn`. To keep one device id, use `FileStorage` (Node) or
 * `LocalStorage` (browsers), or give `deviceId`.
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

let warnedNewDevice = false;

/**
 * Tell the developer, once per process, that a device id generated in a MemoryStorage is lost with
 * the process: every run is a new device and opens another device session on the server.
 */
export function warnDeviceIdNotKept(): void {
  if (warnedNewDevice) return;
  warnedNewDevice = true;
  console.warn(
    '[tokenward] TokenManager: the device id was generated in a MemoryStorage, which forgets it ' +
      'when the process ends: each run signs in as a new device and opens another device session ' +
      'on the server. To keep one device id, use new FileStorage(path) (Node) or new LocalStorage() ' +
      '(browsers), or pass the deviceId option.',
  );
}

let warnedDpopKey = false;

/**
 * Tell the developer, once per process, that a DPoP device key generated in a MemoryStorage is lost
 * with the process: the next run proves possession of another key, and a server that bound the
 * device id to this one refuses it for that device id.
 */
export function warnDpopKeyNotKept(): void {
  if (warnedDpopKey) return;
  warnedDpopKey = true;
  console.warn(
    '[tokenward] TokenManager: the DPoP device key was generated in a MemoryStorage, which forgets ' +
      'it when the process ends: the next run has another key, and the server refuses it for a ' +
      'device id bound to this one. To keep the key, use new FileStorage(path).',
  );
}
