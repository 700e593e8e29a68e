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

/** A fetch answering discovery and the token endpoint, recording the proofs it is sent. */
function serverFetch() {
  const proofs: string[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    if (url.includes('/.well-known/'))
      return Response.json({ issuer: ISSUER, token_endpoint: `${ISSUER}/token` });
    proofs.push(new Headers(init?.headers).get('DPoP') ?? '');
    return Response.json({ access_token: 'at', token_type: 'DPoP', expires_in: 300 });
  };
  return { fetch, proofs };
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

  it('says where IndexedDB is missing', async () => {
    delete g.indexedDB;
    const tm = new TokenManager({ issuer: ISSUER, clientId: 'app', dpop: true });
    await expect(tm.dpopThumbprint()).rejects.toThrow(ConfigError);
    await expect(tm.dpopThumbprint()).rejects.toThrow(/IndexedDB/);
  });
});
