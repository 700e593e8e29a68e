// TokenManager storages (device sessions need non-volatile storage): FileStorage (atomic, 0600, survives a restart), the persisted device id.
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { ConfigError, FileStorage, MemoryStorage, TokenManager } from '../../lib';
import { storageKeys } from '../../lib/client/session';
import { ALICE, APP, WEB } from '../helpers/app';
import { testClock } from '../helpers/clock';
import { type ClientStack, startClientStack } from './stack';

let s: ClientStack;
let dir: string;
beforeAll(async () => {
  s = await startClientStack({ accessTokenTtl: 60 });
  dir = mkdtempSync(path.join(os.tmpdir(), 'tokenward-client-'));
});
afterAll(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('FileStorage', () => {
  it('gets, sets and deletes; a missing or damaged file reads as empty', async () => {
    const file = path.join(dir, 'basic', 'store.json');
    const fs = new FileStorage(file);
    expect(await fs.get('a')).toBeUndefined();
    await fs.set('a', '1');
    await fs.set('b', '2');
    await fs.delete('a');
    expect([await fs.get('a'), await fs.get('b')]).toEqual([undefined, '2']);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ b: '2' });
    writeFileSync(file, '{"b": "2", trunc');
    expect(await new FileStorage(file).get('b')).toBeUndefined();
  });

  it('writes atomically with mode 0600: readers never see a partial file, no temp file is left', async () => {
    const sub = path.join(dir, 'atomic');
    const file = path.join(sub, 'tokens.json');
    const fs = new FileStorage(file);
    await fs.set('seed', 'x');
    const big = 'v'.repeat(20_000);
    let reads = 0;
    let writing = true;
    const reader = (async () => {
      while (writing) {
        // Every read parses: rename replaces the file whole or not at all.
        JSON.parse(readFileSync(file, 'utf8'));
        reads++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    await Promise.all(Array.from({ length: 30 }, (_, i) => fs.set(`k${i}`, big)));
    writing = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')))).toHaveLength(31);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(sub)).toEqual(['tokens.json']);
  });
});

describe('restart', () => {
  it('a new TokenManager on the same FileStorage resumes without signing in', async () => {
    const file = path.join(dir, 'restart', 'tokens.json');
    const first = new TokenManager({
      issuer: s.issuer,
      clientId: APP.id,
      storage: new FileStorage(file),
    });
    await first.signIn(ALICE.username, ALICE.password);
    const token = await first.getAccessToken();
    const deviceId = await first.deviceId();
    const calls = s.tokenCalls();
    const held = first.tokens();

    const second = new TokenManager({
      issuer: s.issuer,
      clientId: APP.id,
      storage: new FileStorage(file),
    });
    expect(await second.isSignedIn()).toBe(true);
    expect(held[0]?.expiresAt).toBeInstanceOf(Date);
    expect(second.tokens()).toEqual(held);
    const res = await second.fetch(`${s.api}/me`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ token, deviceId });
    expect(await second.deviceId()).toBe(deviceId);
    expect(s.tokenCalls()).toBe(calls);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(path.dirname(file))).toEqual(['tokens.json']);
    expect(readFileSync(file, 'utf8')).not.toContain(ALICE.password);
  });
});

describe('device id', () => {
  it('is generated once, persisted, shared by the apps of the device and sent as device_id', async () => {
    const storage = new MemoryStorage();
    const a = new TokenManager({ issuer: s.issuer, clientId: APP.id, storage });
    // A Promise of the id, not the id: read it with await.
    const pending = a.deviceId();
    expect(pending).toBeInstanceOf(Promise);
    const id = await pending;
    expect(id).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
    expect(await a.deviceId()).toBe(id);
    const again = new TokenManager({ issuer: s.issuer, clientId: APP.id, storage });
    const otherApp = new TokenManager({
      issuer: s.issuer,
      clientId: WEB.id,
      clientSecret: WEB.secret,
      storage,
    });
    expect(await again.deviceId()).toBe(id);
    expect(await otherApp.deviceId()).toBe(id);
    await again.signIn(ALICE.username, ALICE.password);
    await otherApp.signIn(ALICE.username, ALICE.password);
    expect(decodeJwt(await again.getAccessToken()).device_id).toBe(id);
    expect(decodeJwt(await otherApp.getAccessToken()).device_id).toBe(id);
    // Two apps, two sessions in one storage: each keeps its own tokens.
    expect(await again.getAccessToken()).not.toBe(await otherApp.getAccessToken());
    const elsewhere = new TokenManager({ issuer: s.issuer, clientId: APP.id });
    expect(await elsewhere.deviceId()).not.toBe(id);
  });

  it('uses the deviceId option as given and rejects one that is not 1–128 of [A-Za-z0-9._:-]', async () => {
    const tm = new TokenManager({ issuer: s.issuer, clientId: APP.id, deviceId: 'kiosk-7:lobby' });
    await tm.signIn(ALICE.username, ALICE.password);
    expect(decodeJwt(await tm.getAccessToken()).device_id).toBe('kiosk-7:lobby');
    for (const deviceId of ['', 'a b', 'x'.repeat(129), 'é'])
      expect(() => new TokenManager({ issuer: s.issuer, clientId: APP.id, deviceId })).toThrow(
        ConfigError,
      );
  });
});

describe('MemoryStorage: each run is a new device', () => {
  type Client = typeof import('../../lib/client/browser');
  /** The client modules as a new process loads them: nothing warned yet. */
  function freshClient(): Client {
    let mod: Client | undefined;
    jest.isolateModules(() => {
      mod = require('../../lib/client/browser') as Client;
    });
    return mod as Client;
  }
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());
  const issuer = 'https://auth.example.com';

  it('generating a device id in a MemoryStorage warns once per process, naming the storages that keep it', async () => {
    const client = freshClient();
    // The default storage is a MemoryStorage.
    await new client.TokenManager({ issuer, clientId: 'app' }).deviceId();
    expect(warn).toHaveBeenCalledTimes(1);
    const [message] = warn.mock.calls[0] as [string];
    expect(message).toMatch(/^\[tokenward\] /);
    expect(message).toContain('MemoryStorage');
    expect(message).toContain('new device');
    expect(message).toContain('FileStorage');
    expect(message).toContain('LocalStorage');
    expect(message).toContain('deviceId');
    const storage = new client.MemoryStorage();
    await new client.TokenManager({ issuer, clientId: 'app', storage }).deviceId();
    await new client.TokenManager({ issuer, clientId: 'web', storage }).deviceId();
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('no warning when the id is given, kept in a persistent storage, or already stored', async () => {
    const client = freshClient();
    const memory = new client.MemoryStorage();
    await new client.TokenManager({
      issuer,
      clientId: 'app',
      storage: memory,
      deviceId: 'kiosk-1',
    }).deviceId();
    const file = new FileStorage(path.join(dir, 'warn', 'tokens.json'));
    await new client.TokenManager({ issuer, clientId: 'app', storage: file }).deviceId();
    expect(warn).not.toHaveBeenCalled();
    // Within one run the stored id is reused: the warning is about the generation only.
    await memory.set(storageKeys(issuer, 'app').device, 'already-here');
    expect(
      await new client.TokenManager({ issuer, clientId: 'app', storage: memory }).deviceId(),
    ).toBe('already-here');
    expect(warn).not.toHaveBeenCalled();
  });
});

describe('FileStorage lock: processes sharing one token file', () => {
  const clock = testClock();
  let short: ClientStack;
  beforeAll(async () => {
    short = await startClientStack({ accessTokenTtl: 4, clock });
  });
  afterAll(() => short.close());

  // Each TokenManager has its own FileStorage instance, as two processes would: only the lock file
  // coordinates them.
  const manager = (file: string) =>
    new TokenManager({
      issuer: short.issuer,
      clientId: APP.id,
      storage: new FileStorage(file),
      renewBeforeSeconds: 3.5,
      clock,
    });

  it('renew once between them; neither replays the rotated refresh token', async () => {
    const file = path.join(dir, 'shared', 'tokens.json');
    const a = manager(file);
    await a.signIn(ALICE.username, ALICE.password);
    const others = Array.from({ length: 4 }, () => manager(file));
    for (const m of others) expect(await m.isSignedIn()).toBe(true);
    clock.advance(2100); // past half the lifetime, 1.9 s left: every manager wants to renew
    const calls = short.tokenCalls();
    const all = [a, ...others];
    const tokens = await Promise.all(all.map((m) => m.getAccessToken()));
    expect(short.tokenCalls() - calls).toBe(1);
    expect(new Set(tokens).size).toBe(1);
    // The family is alive: every manager's token is accepted.
    for (const m of all) expect((await m.fetch(`${short.api}/me`)).status).toBe(200);
    expect(readdirSync(path.dirname(file))).toEqual(['tokens.json']);
  });

  it('a lock file left by a process that died is taken over once stale', async () => {
    const file = path.join(dir, 'stale', 'tokens.json');
    const storage = new FileStorage(file);
    await storage.set('k', 'v');
    const lockFile = `${file}.renew.lock`;
    writeFileSync(lockFile, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(lockFile, old, old);
    await expect(storage.lock('renew', async () => 'ran')).resolves.toBe('ran');
    expect(readdirSync(path.dirname(file))).toEqual(['tokens.json']);
  });
});
