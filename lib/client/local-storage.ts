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
  request<T>(
    name: string,
    options: { ifAvailable: true },
    callback: (lock: unknown) => Promise<T>,
  ): Promise<T>;
}

/** Time for a racing tab's lease write to reach us before we read back who holds it. */
const SETTLE_MS = 50;

/**
 * How long a tab that waited for the lock waits for the previous holder's writes to reach it.
 * Browsers copy localStorage between tabs asynchronously (Chromium keeps a copy per renderer), so
 * the lock can be granted before the tokens its holder stored are visible here; renewing with the
 * stale refresh token would replay it and revoke the family as reuse.
 */
const HANDOFF_MS = 300;

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
 * Stores values in the browser's `localStorage`, so tokens survive a reload and are
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
  /** Storage events seen for our keys: tells a tab that waited whether the holder's writes arrived. */
  private changes = 0;
  private readonly changed = new Set<() => void>();
  private watching = false;

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
    this.watch();
    const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
    if (this.webLocks && locks && typeof locks.request === 'function')
      return this.withWebLock(locks, this.prefix + name, fn);
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

  /** Count storage events for our keys (lease keys aside), once per instance. */
  private watch(): void {
    if (this.watching) return;
    this.watching = true;
    this.subscribe((key) => {
      if (key?.endsWith(':lease')) return;
      this.changes += 1;
      for (const wake of this.changed) wake();
    });
  }

  /**
   * Wait until a storage event for our keys has arrived since `before`, or HANDOFF_MS have passed
   * (the previous holder may have written nothing).
   */
  private handoff(before: number): Promise<void> {
    if (this.changes > before) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.changed.delete(done);
        resolve();
      };
      const timer = setTimeout(done, HANDOFF_MS);
      this.changed.add(done);
    });
  }

  /** Web Locks; a tab that had to wait first lets the previous holder's writes reach it. */
  private async withWebLock<T>(locks: LockManagerLike, name: string, fn: () => Promise<T>) {
    let free = false;
    const result = await locks.request(name, { ifAvailable: true }, async (lock) => {
      if (lock === null) return undefined;
      free = true;
      return fn();
    });
    if (free) return result as T;
    const before = this.changes;
    return locks.request(name, async () => {
      await this.handoff(before);
      return fn();
    });
  }

  /** Fallback lock: a lease in localStorage, taken by write-then-read-back and kept by a heartbeat. */
  private async withLease<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const me = randomId();
    const before = this.changes;
    let waited = false;
    const write = () =>
      this.storage.setItem(key, JSON.stringify({ owner: me, until: Date.now() + this.leaseMs }));
    for (;;) {
      const held = parseLease(this.storage.getItem(key));
      if (!held || held.until <= Date.now()) {
        write();
        await sleep(SETTLE_MS);
        // Two tabs may both have seen the key free; the last write won, the other waits.
        if (parseLease(this.storage.getItem(key))?.owner === me) break;
        waited = true;
      } else {
        waited = true;
        await sleep(Math.min(100, Math.max(10, held.until - Date.now())));
      }
    }
    const heartbeat = setInterval(write, Math.floor(this.leaseMs / 3));
    try {
      if (waited) await this.handoff(before);
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
