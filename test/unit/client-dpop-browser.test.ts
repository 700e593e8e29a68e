// The browser TokenManager's DPoP key in IndexedDB (a small in-memory IndexedDB here; Chromium runs the real one in the system tier): one non-extractable key per issuer, whatever the tabs do at once.
import { calculateJwkThumbprint, EmbeddedJWK, type JWK, jwtVerify } from 'jose';
import { ConfigError } from '../../lib';
import { TokenManager } from '../../lib/client/browser-token-manager';
import { MemoryStorage, type TokenStorage } from '../../lib/client/storage';

type Callback = (() => void) | undefined;
interface FakeRequest {
  result?: unknown;
  onsuccess?: Callback;
  onerror?: Callback;
  onupgradeneeded?: Callback;
}

/**
 * Just what the key store uses of IndexedDB: one database, object stores of structured values
 * (kept as they are, CryptoKeys included), transactions run one at a time in the order opened,
 * each running its requests (and those its callbacks add) before `oncomplete`.
 */
class FakeIndexedDb {
  readonly stores = new Map<string, Map<string, unknown>>();
  private upgraded = false;
  private queue = Promise.resolve();
  private readonly tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

  open(): FakeRequest {
    const req: FakeRequest = {};
    void this.tick().then(() => {
      req.result = this.database();
      if (!this.upgraded) {
        this.upgraded = true;
        req.onupgradeneeded?.();
      }
      req.onsuccess?.();
    });
    return req;
  }

  private database() {
    return {
      objectStoreNames: { contains: (name: string) => this.stores.has(name) },
      createObjectStore: (name: string) => this.stores.set(name, new Map()),
      transaction: (name: string) => this.transaction(name),
      close: () => undefined,
    };
  }

  private transaction(name: string) {
    const store = this.stores.get(name);
    if (!store) throw new Error(`no object store ${name}`);
    const ops: (() => void)[] = [];
    const request = (run: (req: FakeRequest) => void): FakeRequest => {
      const req: FakeRequest = {};
      ops.push(() => {
        run(req);
        req.onsuccess?.();
      });
      return req;
    };
    const tx: {
      oncomplete?: Callback;
      onerror?: Callback;
      onabort?: Callback;
      objectStore(): unknown;
    } = {
      objectStore: () => ({
        get: (key: string) =>
          request((req) => {
            req.result = store.get(key);
          }),
        put: (value: unknown, key: string) => request(() => store.set(key, value)),
      }),
    };
    this.queue = this.queue.then(async () => {
      await this.tick();
      while (ops.length > 0) ops.shift()?.();
      tx.oncomplete?.();
    });
    return tx;
  }
}

const g = globalThis as { indexedDB?: unknown };
let idb: FakeIndexedDb;
beforeEach(() => {
  idb = new FakeIndexedDb();
  g.indexedDB = idb;
});
afterEach(() => {
  delete g.indexedDB;
});

const ISSUER = 'https://auth.example.com';

/** A fetch answering discovery and the token endpoint, recording the proofs and device ids it is sent. */
function serverFetch() {
  const proofs: string[] = [];
  const deviceIds: (string | null)[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    if (url.includes('/.well-known/'))
      return Response.json({ issuer: ISSUER, token_endpoint: `${ISSUER}/token` });
    proofs.push(new Headers(init?.headers).get('DPoP') ?? '');
    deviceIds.push(new URLSearchParams(String(init?.body)).get('device_id'));
    return Response.json({ access_token: 'at', token_type: 'DPoP', expires_in: 300 });
  };
  return { fetch, proofs, deviceIds };
}

/** A MemoryStorage with a lock held by one caller at a time, as tabs share Web Locks. */
function lockedStorage(): TokenStorage {
  const base = new MemoryStorage();
  let queue: Promise<unknown> = Promise.resolve();
  return {
    get: (k) => base.get(k),
    set: (k, v) => base.set(k, v),
    delete: (k) => base.delete(k),
    lock: <T>(_name: string, fn: () => Promise<T>) => {
      const run = queue.then(fn);
      queue = run.catch(() => undefined);
      return run;
    },
  };
}

describe('browser TokenManager with dpop', () => {
  it('creates one key per issuer in IndexedDB however many tabs ask at once, and none in the TokenStorage', async () => {
    const storage = new MemoryStorage(); // no lock(): the get-or-put transaction alone keeps one key
    const tabs = ['app', 'print-app', 'app'].map(
      (clientId) => new TokenManager({ issuer: ISSUER, clientId, storage, dpop: true }),
    );
    const thumbprints = await Promise.all(tabs.map((tm) => tm.dpopThumbprint()));
    expect(new Set(thumbprints).size).toBe(1);
    const keys = [...(idb.stores.get('dpop-keys')?.entries() ?? [])];
    expect(keys).toHaveLength(1);
    const [name, pair] = keys[0] as [string, CryptoKeyPair];
    expect(name).toBe(`tokenward:${encodeURIComponent(ISSUER)}:dpop_key`);
    expect(pair.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('jwk', pair.privateKey)).rejects.toThrow();
    const pub = (await crypto.subtle.exportKey('jwk', pair.publicKey)) as JWK;
    expect(await calculateJwkThumbprint(pub, 'sha256')).toBe(thumbprints[0]);
    expect(await storage.get(name)).toBeUndefined();
    // A later tab (a reload) finds the same key.
    const later = new TokenManager({ issuer: ISSUER, clientId: 'app', storage, dpop: true });
    expect(await later.dpopThumbprint()).toBe(thumbprints[0]);
    const other = new TokenManager({
      issuer: 'https://other.example.com',
      clientId: 'app',
      storage,
      dpop: true,
    });
    expect(await other.dpopThumbprint()).not.toBe(thumbprints[0]);
  });

  it('signs in with proofs of that key, under the storage lock when there is one', async () => {
    const locks: string[] = [];
    const base = new MemoryStorage();
    const storage: TokenStorage = {
      get: (k) => base.get(k),
      set: (k, v) => base.set(k, v),
      delete: (k) => base.delete(k),
      lock: (name, fn) => {
        locks.push(name);
        return fn();
      },
    };
    const { fetch, proofs } = serverFetch();
    const tm = new TokenManager({ issuer: ISSUER, clientId: 'app', storage, fetch, dpop: true });
    await tm.signIn('alice', 'secret');
    const { payload, protectedHeader } = await jwtVerify(proofs[0] ?? '', EmbeddedJWK, {
      typ: 'dpop+jwt',
    });
    expect(payload).toMatchObject({ htm: 'POST', htu: `${ISSUER}/token` });
    expect(await calculateJwkThumbprint(protectedHeader.jwk as JWK, 'sha256')).toBe(
      await tm.dpopThumbprint(),
    );
    // The key is made under the lock deviceId() takes, shared with other tabs.
    const deviceLock = `tokenward:${encodeURIComponent(ISSUER)}:device_id:lock`;
    expect(locks.filter((l) => l === deviceLock)).toHaveLength(2);
  });

  it('starts a new device id with a new key: the browser cleared IndexedDB but kept localStorage', async () => {
    const storage = lockedStorage();
    const deviceName = `tokenward:${encodeURIComponent(ISSUER)}:device_id`;
    const first = new TokenManager({ issuer: ISSUER, clientId: 'app', storage, dpop: true });
    const lostDevice = await first.deviceId();
    const lostJkt = await first.dpopThumbprint();
    expect(await storage.get(deviceName)).toBe(lostDevice);
    idb.stores.get('dpop-keys')?.clear();
    // Both apps of the page start at once: one makes the key, and both send its new device id.
    const { fetch, proofs, deviceIds } = serverFetch();
    const apps = ['app', 'print-app'].map(
      (clientId) => new TokenManager({ issuer: ISSUER, clientId, storage, fetch, dpop: true }),
    );
    await Promise.all(apps.map((tm) => tm.signIn('alice', 'secret')));
    const jkt = await apps[0]?.dpopThumbprint();
    expect(jkt).not.toBe(lostJkt);
    expect(await apps[1]?.dpopThumbprint()).toBe(jkt);
    const device = await storage.get(deviceName);
    expect(device).not.toBe(lostDevice);
    expect(deviceIds).toEqual([device, device]);
    for (const proof of proofs) {
      const { protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt' });
      expect(await calculateJwkThumbprint(protectedHeader.jwk as JWK, 'sha256')).toBe(jkt);
    }
    // A reload finds the key: the device id stays.
    const reload = new TokenManager({ issuer: ISSUER, clientId: 'app', storage, dpop: true });
    expect(await reload.deviceId()).toBe(device);
    expect(await reload.dpopThumbprint()).toBe(jkt);
  });

  it('keeps a deviceId given in the options when it makes a new key', async () => {
    const storage = lockedStorage();
    const deviceName = `tokenward:${encodeURIComponent(ISSUER)}:device_id`;
    await storage.set(deviceName, 'stored-device');
    const { fetch, deviceIds } = serverFetch();
    const tm = new TokenManager({
      issuer: ISSUER,
      clientId: 'app',
      storage,
      fetch,
      dpop: true,
      deviceId: 'given-device',
    });
    await tm.signIn('alice', 'secret');
    expect(deviceIds).toEqual(['given-device']);
    expect(await storage.get(deviceName)).toBe('stored-device');
  });

  it('says where IndexedDB is missing', async () => {
    delete g.indexedDB;
    const tm = new TokenManager({ issuer: ISSUER, clientId: 'app', dpop: true });
    await expect(tm.dpopThumbprint()).rejects.toThrow(ConfigError);
    await expect(tm.dpopThumbprint()).rejects.toThrow(/IndexedDB/);
  });
});
