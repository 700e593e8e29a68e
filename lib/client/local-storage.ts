// LocalStorage: TokenManager storage in the browser's localStorage, shared and coordinated between tabs.
import type { TokenStorage } from './storage';

/**
 * The part of the Web Storage API that LocalStorage uses (`window.localStorage` has it).
 *
 * @example
 * new LocalStorage({ storage: window.sessionStorage }); // per-tab instead of shared
 */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Options of `new LocalStorage(options)`.
 *
 * @example
 * new LocalStorage({ prefix: 'my-app:', leaseMs: 3000 });
 */
export interface LocalStorageOptions {
  /** Prefix of every key written (default `''`: the TokenManager's keys are already namespaced per issuer and client). */
  prefix?: string;
  /** The Web Storage object (default `globalThis.localStorage`). */
  storage?: WebStorageLike;
  /** Use the Web Locks API when the browser has it (default true); otherwise a lease in localStorage. */
  webLocks?: boolean;
  /** How long a lease holds without a heartbeat, in ms (default 5000): a closed tab blocks no longer. */
  leaseMs?: number;
}

interface Lease {
  owner: string;
  until: number;
}

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/** Time for a racing tab's lease write to reach us before we read back who holds it. */
const SETTLE_MS = 50;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function parseLease(text: string | null): Lease | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as Partial<Lease>;
    return typeof v.owner === 'string' && typeof v.until === 'number'
      ? { owner: v.owner, until: v.until }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stores values in the browser's `localStorage` (SPEC B3), so tokens survive a reload and are
 * shared by the tabs of one origin. Tabs coordinate renewals through `lock()`: the Web Locks API
 * (`navigator.locks`) where present, else a lease key `{ owner, until }` in localStorage kept alive
 * by a heartbeat. `subscribe()` relays `storage` events, so a tab adopts tokens another tab renewed.
 *
 * @example
 * import { LocalStorage, TokenManager } from 'tokenward/client';
 * const tm = new TokenManager({ issuer: 'https://auth.example.com', clientId: 'web-app', storage: new LocalStorage() });
 */
export class LocalStorage implements TokenStorage {
  private readonly storage: WebStorageLike;
  private readonly prefix: string;
  private readonly webLocks: boolean;
  private readonly leaseMs: number;

  constructor(options: Readonly<LocalStorageOptions> = {}) {
    const storage =
      options.storage ?? (globalThis as { localStorage?: WebStorageLike }).localStorage;
    if (!storage) throw new TypeError('LocalStorage: no localStorage here; pass options.storage');
    this.storage = storage;
    this.prefix = options.prefix ?? '';
    this.webLocks = options.webLocks ?? true;
    this.leaseMs = options.leaseMs ?? 5000;
    if (!(this.leaseMs >= 200)) throw new TypeError('LocalStorage: leaseMs must be at least 200');
  }

  async get(key: string): Promise<string | undefined> {
    return this.storage.getItem(this.prefix + key) ?? undefined;
  }

  async set(key: string, value: string): Promise<void> {
    this.storage.setItem(this.prefix + key, value);
  }

  async delete(key: string): Promise<void> {
    this.storage.removeItem(this.prefix + key);
  }

  lock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
    if (this.webLocks && locks && typeof locks.request === 'function')
      return locks.request(this.prefix + name, fn);
    return this.withLease(`${this.prefix}${name}:lease`, fn);
  }

  subscribe(listener: (key: string | null) => void): () => void {
    const target = globalThis as {
      addEventListener?: (type: 'storage', fn: (e: StorageEventLike) => void) => void;
      removeEventListener?: (type: 'storage', fn: (e: StorageEventLike) => void) => void;
    };
    if (typeof target.addEventListener !== 'function') return () => {};
    const onStorage = (e: StorageEventLike) => {
      if (e.storageArea && e.storageArea !== this.storage) return;
      if (e.key === null) listener(null);
      else if (e.key.startsWith(this.prefix)) listener(e.key.slice(this.prefix.length));
    };
    target.addEventListener('storage', onStorage);
    return () => target.removeEventListener?.('storage', onStorage);
  }

  /** Fallback lock: a lease in localStorage, taken by write-then-read-back and kept by a heartbeat. */
  private async withLease<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const me = randomId();
    const write = () =>
      this.storage.setItem(key, JSON.stringify({ owner: me, until: Date.now() + this.leaseMs }));
    for (;;) {
      const held = parseLease(this.storage.getItem(key));
      if (!held || held.until <= Date.now()) {
        write();
        await sleep(SETTLE_MS);
        // Two tabs may both have seen the key free; the last write won, the other waits.
        if (parseLease(this.storage.getItem(key))?.owner === me) break;
      } else {
        await sleep(Math.min(100, Math.max(10, held.until - Date.now())));
      }
    }
    const heartbeat = setInterval(write, Math.floor(this.leaseMs / 3));
    try {
      return await fn();
    } finally {
      clearInterval(heartbeat);
      if (parseLease(this.storage.getItem(key))?.owner === me) this.storage.removeItem(key);
    }
  }
}

/** The members of a DOM `StorageEvent` that LocalStorage reads. */
interface StorageEventLike {
  key: string | null;
  storageArea: unknown;
}
