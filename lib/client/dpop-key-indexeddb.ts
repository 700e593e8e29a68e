// Browsers' device key for DPoP: a non-extractable P-256 CryptoKey pair kept in IndexedDB (structured clone), never in localStorage.
import { ConfigError } from '../errors';
import { ECDSA_P256, isPublicEcJwk, type LoadedDpopKey, publicMembers, subtle } from './dpop';

/** The database and object store holding device keys, one record per issuer. */
const DATABASE = 'tokenward';
const STORE = 'dpop-keys';

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function openDatabase(factory: IDBFactory): Promise<IDBDatabase> {
  const open = factory.open(DATABASE, 1);
  open.onupgradeneeded = () => {
    if (!open.result.objectStoreNames.contains(STORE)) open.result.createObjectStore(STORE);
  };
  return request(open);
}

function isKeyPair(v: unknown): v is CryptoKeyPair {
  if (!v || typeof v !== 'object') return false;
  const p = v as Record<string, unknown>;
  const isKey = (k: unknown) => typeof CryptoKey !== 'undefined' && k instanceof CryptoKey;
  return isKey(p.privateKey) && isKey(p.publicKey);
}

/**
 * Get the pair stored under `name`, or store `candidate` there when there is none, in one
 * readwrite transaction: IndexedDB runs those one at a time across tabs, so every tab ends up
 * with the pair the first one stored.
 */
function getOrPut(
  db: IDBDatabase,
  name: string,
  candidate?: CryptoKeyPair,
): Promise<CryptoKeyPair | undefined> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, candidate ? 'readwrite' : 'readonly');
    const store = tx.objectStore(STORE);
    let pair: CryptoKeyPair | undefined;
    const get = store.get(name);
    // Put from the success callback itself, while the transaction is certainly still active.
    get.onsuccess = () => {
      const found: unknown = get.result;
      pair = isKeyPair(found) ? found : undefined;
      if (!pair && candidate) {
        store.put(candidate, name);
        pair = candidate;
      }
    };
    tx.oncomplete = () => resolve(pair);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

/**
 * This origin's device key for the issuer keyed `name`, created on first use: generated as a
 * non-extractable ECDSA P-256 pair and kept in IndexedDB, where a CryptoKey is stored as itself
 * (structured clone) and its private part can never be read out, only used to sign. The caller
 * holds the cross-tab lock; the get-or-put transaction keeps tabs to one key even without it.
 * `created` only for the tab whose key was stored.
 */
export async function indexedDbDpopKey(name: string): Promise<LoadedDpopKey> {
  const factory = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory)
    throw new ConfigError(
      "TokenManager: dpop in a browser keeps the device key in IndexedDB, which is missing here; in Node import TokenManager from 'tokenward'",
    );
  const db = await openDatabase(factory);
  try {
    let pair = await getOrPut(db, name);
    let created = false;
    if (!pair) {
      const fresh = await subtle().generateKey(ECDSA_P256, false, ['sign', 'verify']);
      pair = await getOrPut(db, name, fresh);
      created = pair === fresh;
    }
    if (!pair) throw new Error('IndexedDB kept no device key');
    // A public key is always extractable, whatever the flag given to generateKey.
    const jwk: unknown = await subtle().exportKey('jwk', pair.publicKey);
    if (!isPublicEcJwk(jwk)) throw new Error('the stored device key is not a P-256 key');
    return { key: { privateKey: pair.privateKey, jwk: publicMembers(jwk) }, created };
  } finally {
    db.close();
  }
}
