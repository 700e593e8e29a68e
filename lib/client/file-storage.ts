// FileStorage: TokenManager storage in one JSON file (Node only), written atomically with mode 0600.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { TokenStorage } from './storage';

/**
 * Stores values in one JSON file, so tokens survive a restart of the process. Every write
 * goes to a temporary file in the same directory, is flushed, then renamed over the file: a crash
 * never leaves a partial file. The file is created with mode 0600 (owner only) and its directory,
 * when missing, with 0700. Writes from one process are serialized; the file is re-read on every
 * `get`, so a value written by another process is seen. `lock()` holds a lock file next to it
 * (created exclusively, kept fresh while held, taken over when stale), so processes sharing the
 * file renew one at a time and never replay each other's rotated refresh token.
 *
 * Node only: import it from `tokenward`, never from the browser entry `tokenward/client`.
 *
 * @example
 * import { FileStorage, TokenManager } from 'tokenward';
 * const storage = new FileStorage(path.join(os.homedir(), '.config', 'my-app', 'tokens.json'));
 * const tm = new TokenManager({ issuer, clientId: 'desktop-app', storage });
 */
/** A lock file untouched for this long belongs to a process that died: it is taken over. */
const STALE_MS = 10_000;
const POLL_MS = 25;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class FileStorage implements TokenStorage {
  readonly path: string;
  private queue: Promise<unknown> = Promise.resolve();
  /** Lock holders within this process, by lock name: they queue here before trying the file. */
  private readonly held = new Map<string, Promise<unknown>>();

  constructor(file: string) {
    if (typeof file !== 'string' || file === '')
      throw new TypeError('FileStorage: give a file path');
    this.path = path.resolve(file);
  }

  async get(key: string): Promise<string | undefined> {
    // Wait for this process's pending writes so a get after a set sees it.
    await this.queue.catch(() => undefined);
    return (await this.read())[key];
  }

  set(key: string, value: string): Promise<void> {
    return this.update((all) => {
      all[key] = value;
    });
  }

  delete(key: string): Promise<void> {
    return this.update((all) => {
      delete all[key];
    });
  }

  /** Run `fn` holding `name` against every process using this file (and this instance's other callers). */
  lock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const before = this.held.get(name) ?? Promise.resolve();
    const run = before.catch(() => undefined).then(() => this.withLockFile(name, fn));
    const tail = run.catch(() => undefined);
    this.held.set(name, tail);
    tail.then(() => {
      if (this.held.get(name) === tail) this.held.delete(name);
    });
    return run;
  }

  private async withLockFile<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const file = `${this.path}.${name.replace(/[^\w.-]+/g, '_')}.lock`;
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    for (;;) {
      try {
        await (await open(file, 'wx', 0o600)).close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const age = await stat(file).then(
        (st) => Date.now() - st.mtimeMs,
        () => 0,
      );
      // Its holder stopped refreshing it: gone without unlocking. Remove and race for it again.
      if (age > STALE_MS) await rm(file, { force: true });
      else await sleep(POLL_MS);
    }
    const fresh = setInterval(() => {
      const now = new Date();
      utimes(file, now, now).catch(() => undefined);
    }, STALE_MS / 4);
    fresh.unref();
    try {
      return await fn();
    } finally {
      clearInterval(fresh);
      await rm(file, { force: true });
    }
  }

  private async read(): Promise<Record<string, string>> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        const out: Record<string, string> = Object.create(null);
        for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') out[k] = v;
        return out;
      }
    } catch {
      // Not ours or damaged by hand: start afresh rather than lock the application out.
    }
    return {};
  }

  /** Read-modify-write, one at a time within this process. */
  private update(change: (all: Record<string, string>) => void): Promise<void> {
    const next = this.queue
      .catch(() => undefined)
      .then(async () => {
        const all = await this.read();
        change(all);
        await this.write(JSON.stringify(all));
      });
    this.queue = next;
    return next;
  }

  private async write(text: string): Promise<void> {
    const dir = path.dirname(this.path);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = path.join(
      dir,
      `.${path.basename(this.path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
    );
    try {
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(text, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      // open()'s mode is filtered by the umask; make sure it is exactly owner read/write.
      await chmod(tmp, 0o600);
      await rename(tmp, this.path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
}
