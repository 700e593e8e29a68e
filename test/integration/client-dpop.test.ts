// TokenManager with `dpop: true` (RFC 9449, client side) against stub servers that verify every proof with jose.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { calculateJwkThumbprint, EmbeddedJWK, type JWK, jwtVerify } from 'jose';
import {
  ConfigError,
  FileStorage,
  MemoryStorage,
  TokenManager,
  type TokenManagerOptions,
} from '../../lib';
import { MapStorage } from '../client/stack';
import { testClock } from '../helpers/clock';

const clock = testClock();
const b64url = (b: Buffer) => b.toString('base64url');
const ath = (token: string) => b64url(createHash('sha256').update(token, 'ascii').digest());

interface Proof {
  header: { typ?: unknown; alg?: unknown; jwk?: JWK };
  payload: Record<string, unknown>;
  jkt: string;
}

/** Verify a proof as a server would (signature with the embedded key, typ, alg) and decode it. */
async function verifyProof(proof: string | undefined): Promise<Proof | undefined> {
  if (proof === undefined) return undefined;
  try {
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: ['ES256'],
    });
    const jwk = protectedHeader.jwk as JWK;
    return { header: protectedHeader, payload, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
  } catch {
    return undefined;
  }
}

async function listen(app: express.Express): Promise<{ server: Server; url: string }> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://localhost:${(server.address() as AddressInfo).port}` };
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** What the stub authorization server does; tests change it between calls. */
interface AsMode {
  /** Answer `Bearer` and ignore proofs, as a server without DPoP does. */
  bearer: boolean;
  /** Ask for a nonce: a proof without the current one gets 400 use_dpop_nonce. */
  nonce: boolean;
  /** Hand out a new nonce with every answer, so a retry never satisfies it. */
  rotateNonce: boolean;
  /** Refuse every proof with invalid_dpop_proof. */
  refuseProofs: boolean;
}

interface TokenCall {
  grant: string;
  clientId: string;
  proof: Proof | undefined;
  rawProof: string | undefined;
}

/**
 * A stub authorization server: password and refresh_token grants, tokens bound to the proof's key
 * (`cnf.jkt` kept server-side), a device id bound to the first key that signs in with it (another
 * key for that device id is refused), and a revocation endpoint. Its token endpoint has a query,
 * which proofs must leave out of `htu`.
 */
async function startAs() {
  const mode: AsMode = { bearer: false, nonce: false, rotateNonce: false, refuseProofs: false };
  const calls: TokenCall[] = [];
  const revocations: { dpop: string | undefined; token: string }[] = [];
  const bindings = new Map<string, string | undefined>(); // token -> jkt
  const devices = new Map<string, string>(); // device id -> jkt
  const refreshes = new Map<string, { clientId: string; deviceId: string }>();
  let nonce = 'as-nonce-1';
  let nonces = 1;
  const app = express();
  let issuer = '';
  app.get('/.well-known/oauth-authorization-server', (_req, res) => {
    res.json({
      issuer,
      token_endpoint: `${issuer}/token?tenant=acme#ignored`,
      revocation_endpoint: `${issuer}/revoke`,
    });
  });
  app.post('/token', express.urlencoded({ extended: false }), async (req, res) => {
    const rawProof = req.get('DPoP');
    const proof = mode.bearer ? undefined : await verifyProof(rawProof);
    const clientId = String(req.body.client_id);
    calls.push({ grant: String(req.body.grant_type), clientId, proof, rawProof });
    if (mode.rotateNonce) nonce = `as-nonce-${++nonces}`;
    if (mode.nonce) res.setHeader('DPoP-Nonce', nonce);
    const fail = (error: string) => res.status(400).json({ error });
    if (!mode.bearer && rawProof !== undefined) {
      if (mode.refuseProofs || !proof) return fail('invalid_dpop_proof');
      const p = proof.payload;
      if (p.htm !== 'POST' || p.htu !== `${issuer}/token`) return fail('invalid_dpop_proof');
      if (mode.nonce && p.nonce !== nonce) return fail('use_dpop_nonce');
    }
    const jkt = proof?.jkt;
    let deviceId: string;
    if (req.body.grant_type === 'password') {
      if (req.body.password !== 'secret') return fail('invalid_grant');
      deviceId = String(req.body.device_id);
      const bound = devices.get(deviceId);
      if (bound !== undefined && bound !== jkt) return fail('invalid_grant');
      if (jkt !== undefined) devices.set(deviceId, jkt);
    } else if (req.body.grant_type === 'refresh_token') {
      const rt = String(req.body.refresh_token);
      const family = refreshes.get(rt);
      // RFC 9449 §5: a bound refresh token is used only with a proof of the same key.
      if (!family || bindings.get(rt) !== jkt) return fail('invalid_grant');
      refreshes.delete(rt);
      deviceId = family.deviceId;
    } else return fail('unsupported_grant_type');
    const access = b64url(randomBytes(24));
    const refresh = b64url(randomBytes(24));
    bindings.set(access, jkt);
    bindings.set(refresh, jkt);
    refreshes.set(refresh, { clientId, deviceId });
    res.json({
      access_token: access,
      token_type: jkt !== undefined ? 'DPoP' : 'Bearer',
      expires_in: 300,
      refresh_token: refresh,
    });
  });
  app.post('/revoke', express.urlencoded({ extended: false }), (req, res) => {
    revocations.push({ dpop: req.get('DPoP'), token: String(req.body.token) });
    res.status(200).end();
  });
  const { server, url } = await listen(app);
  issuer = url;
  return { issuer, mode, calls, revocations, bindings, close: () => close(server) };
}

type Stub = Awaited<ReturnType<typeof startAs>>;

interface ApiCall {
  method: string;
  url: string;
  authorization: string | undefined;
  proof: Proof | undefined;
  body: string;
}

/**
 * A stub resource server on its own origin: `DPoP` tokens need a proof of the bound key with the
 * request's htm, htu and ath (and its own nonce when asked); `Bearer` is accepted only for
 * unbound tokens. `revoked` tokens get 401 invalid_token.
 */
async function startApi(as: Stub) {
  const mode = { nonce: false };
  const calls: ApiCall[] = [];
  const revoked = new Set<string>();
  const nonce = 'rs-nonce-7';
  let base = '';
  const app = express();
  app.use(express.text({ type: '*/*' }));
  app.all('/{*path}', async (req, res) => {
    const authorization = req.get('Authorization');
    const proof = await verifyProof(req.get('DPoP'));
    calls.push({
      method: req.method,
      url: `${base}${req.originalUrl}`,
      authorization,
      proof,
      body: typeof req.body === 'string' ? req.body : '',
    });
    const [scheme, token = ''] = (authorization ?? '').split(' ');
    const bound = as.bindings.get(token);
    const challenge = (error: string) =>
      res
        .status(401)
        .setHeader('WWW-Authenticate', `${scheme ?? 'Bearer'} error="${error}"`)
        .json({ error });
    if (!as.bindings.has(token) || revoked.has(token)) return challenge('invalid_token');
    if (scheme === 'Bearer') {
      if (bound !== undefined) return challenge('invalid_token');
      return res.json({ ok: true, scheme });
    }
    if (scheme !== 'DPoP' || !proof || proof.jkt !== bound) return challenge('invalid_token');
    const p = proof.payload;
    if (p.htm !== req.method || p.htu !== `${base}${req.path}` || p.ath !== ath(token))
      return challenge('invalid_dpop_proof');
    if (mode.nonce && p.nonce !== nonce) {
      res.setHeader('DPoP-Nonce', nonce);
      return challenge('use_dpop_nonce');
    }
    res.json({ ok: true, scheme, body: req.body });
  });
  const { server, url } = await listen(app);
  base = url.replace('localhost', '127.0.0.1');
  return { url: base, mode, calls, revoked, close: () => close(server) };
}

let as: Stub;
let api: Awaited<ReturnType<typeof startApi>>;
beforeEach(async () => {
  as = await startAs();
  api = await startApi(as);
});
afterEach(async () => {
  await api.close();
  await as.close();
});

function manager(extra: Partial<TokenManagerOptions> = {}) {
  return new TokenManager({
    issuer: as.issuer,
    clientId: 'app',
    storage: new MapStorage(),
    clock,
    dpop: true,
    ...extra,
  });
}

describe('proofs at the token endpoint', () => {
  it('signs in with a proof that verifies with its embedded key and binds the right request', async () => {
    const tm = manager();
    await tm.signIn('alice', 'secret');
    const [call] = as.calls;
    if (!call?.proof) throw new Error('no verified proof at the token endpoint');
    const { header, payload, jkt } = call.proof;
    expect(header).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256' });
    // Public members only: no `d`, no key_ops or ext from an export.
    expect(Object.keys(header.jwk ?? {}).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    expect(header.jwk).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(payload.htm).toBe('POST');
    // The token endpoint's query and fragment are not part of htu.
    expect(payload.htu).toBe(`${as.issuer}/token`);
    expect(payload.iat).toBe(clock.seconds());
    expect(payload.nonce).toBeUndefined();
    expect(payload.ath).toBeUndefined();
    // ≥ 96 random bits: 128 here, 22 base64url characters.
    expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await tm.dpopThumbprint()).toBe(jkt);
    expect(tm.tokens()[0]?.tokenType).toBe('DPoP');
    // The signature is raw r||s (64 bytes), as JWS ES256 wants.
    expect(Buffer.from(call.rawProof?.split('.')[2] ?? '', 'base64url')).toHaveLength(64);
  });

  it('refreshes with a fresh proof of the same key', async () => {
    const tm = manager({ renewBeforeSeconds: 10 });
    await tm.signIn('alice', 'secret');
    clock.advance(295_000);
    await tm.getAccessToken();
    expect(as.calls.map((c) => c.grant)).toEqual(['password', 'refresh_token']);
    const [first, second] = as.calls.map((c) => c.proof as Proof);
    expect(second?.jkt).toBe(first?.jkt);
    expect(second?.payload.jti).not.toBe(first?.payload.jti);
    expect(second?.payload.iat).toBe(clock.seconds());
  });

  it('retries once with the nonce a server asks for, then keeps using it', async () => {
    as.mode.nonce = true;
    const tm = manager({ renewBeforeSeconds: 10 });
    await tm.signIn('alice', 'secret');
    expect(as.calls).toHaveLength(2);
    const [refused, accepted] = as.calls.map((c) => c.proof as Proof);
    expect(refused?.payload.nonce).toBeUndefined();
    expect(accepted?.payload.nonce).toBe('as-nonce-1');
    expect(accepted?.payload.jti).not.toBe(refused?.payload.jti);
    // The nonce is remembered: the refresh needs no second try.
    clock.advance(295_000);
    await tm.getAccessToken();
    expect(as.calls).toHaveLength(3);
    expect(as.calls[2]?.proof?.payload.nonce).toBe('as-nonce-1');
  });

  it('retries a nonce only once: a server that keeps refusing is an error', async () => {
    as.mode.nonce = true;
    as.mode.rotateNonce = true;
    const tm = manager();
    await expect(tm.signIn('alice', 'secret')).rejects.toMatchObject({
      code: 'oauth_error',
      oauthError: 'use_dpop_nonce',
      status: 400,
    });
    expect(as.calls).toHaveLength(2);
    expect(await tm.isSignedIn()).toBe(false);
  });

  it('surfaces a refused proof as invalid_dpop_proof', async () => {
    as.mode.refuseProofs = true;
    const tm = manager();
    await expect(tm.signIn('alice', 'secret')).rejects.toMatchObject({
      code: 'oauth_error',
      oauthError: 'invalid_dpop_proof',
      status: 400,
    });
    expect(as.calls).toHaveLength(1);
  });

  it('carries on with Bearer when the server answers Bearer', async () => {
    as.mode.bearer = true;
    const tm = manager();
    await tm.signIn('alice', 'secret');
    const res = await tm.fetch(`${api.url}/jobs`);
    expect(await res.json()).toMatchObject({ ok: true, scheme: 'Bearer' });
    expect(tm.tokens()[0]?.tokenType).toBe('Bearer');
    expect(api.calls[0]?.authorization).toMatch(/^Bearer /);
    expect(api.calls[0]?.proof).toBeUndefined();
  });

  it('sends no proof and Bearer tokens without the option', async () => {
    const tm = manager({ dpop: false });
    await tm.signIn('alice', 'secret');
    expect(as.calls[0]?.rawProof).toBeUndefined();
    expect(await tm.dpopThumbprint()).toBeUndefined();
    expect((await tm.fetch(`${api.url}/jobs`)).status).toBe(200);
    expect(api.calls[0]?.authorization).toMatch(/^Bearer /);
  });
});

describe('proofs at resource servers', () => {
  it('sends DPoP tokens with a fresh proof of method, URL and token on every request', async () => {
    const tm = manager();
    await tm.signIn('alice', 'secret');
    const token = await tm.getAccessToken();
    const a = await tm.fetch(`${api.url}/jobs/1?page=2#top`);
    const b = await tm.fetch(`${api.url}/jobs`, { method: 'post', body: 'hello' });
    const c = await tm.fetch(new Request(`${api.url}/jobs/1`, { method: 'PATCH', body: 'x' }));
    expect([a.status, b.status, c.status]).toEqual([200, 200, 200]);
    expect(await b.json()).toMatchObject({ scheme: 'DPoP', body: 'hello' });
    expect(api.calls.map((k) => k.authorization)).toEqual(Array(3).fill(`DPoP ${token}`));
    const proofs = api.calls.map((k) => k.proof as Proof);
    expect(proofs.map((p) => p.payload.htm)).toEqual(['GET', 'POST', 'PATCH']);
    expect(proofs.map((p) => p.payload.htu)).toEqual([
      `${api.url}/jobs/1`,
      `${api.url}/jobs`,
      `${api.url}/jobs/1`,
    ]);
    for (const p of proofs) expect(p.payload.ath).toBe(ath(token));
    const jtis = new Set([...proofs, as.calls[0]?.proof].map((p) => p?.payload.jti));
    expect(jtis.size).toBe(4);
  });

  it("retries once with a resource server's nonce, kept apart from the authorization server's", async () => {
    as.mode.nonce = true;
    api.mode.nonce = true;
    const tm = manager();
    await tm.signIn('alice', 'secret');
    const res = await tm.fetch(`${api.url}/echo`, { method: 'POST', body: 'twice' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ body: 'twice' });
    expect(api.calls).toHaveLength(2);
    // The first proof has no nonce: the authorization server's is not sent to another origin.
    expect(api.calls[0]?.proof?.payload.nonce).toBeUndefined();
    expect(api.calls[1]?.proof?.payload.nonce).toBe('rs-nonce-7');
    expect(api.calls[1]?.proof?.payload.jti).not.toBe(api.calls[0]?.proof?.payload.jti);
    expect(api.calls[1]?.body).toBe('twice');
    await tm.fetch(`${api.url}/jobs`);
    expect(api.calls).toHaveLength(3);
    expect(api.calls[2]?.proof?.payload.nonce).toBe('rs-nonce-7');
  });

  it('retries a Request body after a nonce challenge', async () => {
    api.mode.nonce = true;
    const tm = manager();
    await tm.signIn('alice', 'secret');
    const res = await tm.fetch(new Request(`${api.url}/echo`, { method: 'PUT', body: 'body' }));
    expect(await res.json()).toMatchObject({ ok: true, body: 'body' });
    expect(api.calls.map((k) => [k.method, k.body])).toEqual([
      ['PUT', 'body'],
      ['PUT', 'body'],
    ]);
  });

  it('renews on invalid_token and retries with the new token and a new proof', async () => {
    const tm = manager();
    await tm.signIn('alice', 'secret');
    const first = await tm.getAccessToken();
    api.revoked.add(first);
    const res = await tm.fetch(`${api.url}/jobs`);
    expect(res.status).toBe(200);
    const second = await tm.getAccessToken();
    expect(second).not.toBe(first);
    expect(as.calls.map((c) => c.grant)).toEqual(['password', 'refresh_token']);
    expect(api.calls.map((k) => k.authorization)).toEqual([`DPoP ${first}`, `DPoP ${second}`]);
    expect(api.calls[1]?.proof?.payload.ath).toBe(ath(second));
  });

  it('never sends a DPoP token as Bearer, even with the option turned off later', async () => {
    const storage = new MapStorage();
    await manager({ storage }).signIn('alice', 'secret');
    const later = manager({ storage, dpop: false, renewBeforeSeconds: 10 });
    const token = await later.getAccessToken();
    expect((await later.fetch(`${api.url}/jobs`)).status).toBe(200);
    expect(api.calls[0]?.authorization).toBe(`DPoP ${token}`);
    expect(api.calls[0]?.proof?.payload.ath).toBe(ath(token));
    // Its bound refresh token is still used with a proof.
    clock.advance(295_000);
    await later.getAccessToken();
    expect(as.calls.map((c) => [c.grant, c.proof !== undefined])).toEqual([
      ['password', true],
      ['refresh_token', true],
    ]);
  });
});

describe('the device key', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tw-dpop-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is kept in a FileStorage (mode 0600) and reused by the next TokenManager', async () => {
    const file = path.join(dir, 'tokens.json');
    const first = manager({ storage: new FileStorage(file) });
    const jkt = await first.dpopThumbprint();
    expect(jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = Object.entries(JSON.parse(readFileSync(file, 'utf8'))).find(([k]) =>
      k.endsWith(':dpop_key'),
    );
    expect(JSON.parse(String(stored?.[1]))).toMatchObject({ kty: 'EC', crv: 'P-256' });
    const again = manager({ storage: new FileStorage(file) });
    expect(await again.dpopThumbprint()).toBe(jkt);
    await again.signIn('alice', 'secret');
    expect(as.calls[0]?.proof?.jkt).toBe(jkt);
  });

  it('is one per issuer, shared by every app of the device, created once under concurrency', async () => {
    const file = path.join(dir, 'tokens.json');
    const apps = ['app', 'print-app', 'app'].map((clientId) =>
      manager({ clientId, storage: new FileStorage(file) }),
    );
    const thumbprints = await Promise.all(apps.map((tm) => tm.dpopThumbprint()));
    expect(new Set(thumbprints).size).toBe(1);
    // The stub binds the device id to the first key: the second app's sign-in proves the same one.
    await apps[0]?.signIn('alice', 'secret');
    await apps[1]?.signIn('alice', 'secret');
    expect(as.calls.map((c) => [c.clientId, c.proof?.jkt])).toEqual([
      ['app', thumbprints[0]],
      ['print-app', thumbprints[0]],
    ]);
    const other = new TokenManager({
      issuer: as.issuer.replace('localhost', '127.0.0.1'),
      clientId: 'app',
      storage: new FileStorage(file),
      dpop: true,
    });
    expect(await other.dpopThumbprint()).not.toBe(thumbprints[0]);
  });

  it('when it is lost, a new one starts a new device id: the server would refuse the old one', async () => {
    const file = path.join(dir, 'tokens.json');
    const first = manager({ storage: new FileStorage(file) });
    await first.signIn('alice', 'secret');
    const lostJkt = await first.dpopThumbprint();
    const lostDevice = await first.deviceId();
    // The key's entry goes (the file restored from an old copy, say); the device id stays.
    const kept = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    const keyName = Object.keys(kept).find((k) => k.endsWith(':dpop_key')) ?? '';
    const deviceName = Object.keys(kept).find((k) => k.endsWith(':device_id')) ?? '';
    delete kept[keyName];
    writeFileSync(file, JSON.stringify(kept));
    const apps = ['app', 'print-app'].map((clientId) =>
      manager({ clientId, storage: new FileStorage(file) }),
    );
    await apps[0]?.signIn('alice', 'secret');
    await apps[1]?.signIn('alice', 'secret');
    const jkt = await apps[0]?.dpopThumbprint();
    expect(jkt).not.toBe(lostJkt);
    const devices = await Promise.all(apps.map((tm) => tm.deviceId()));
    expect(devices[0]).not.toBe(lostDevice);
    expect(devices[1]).toBe(devices[0]);
    expect(JSON.parse(readFileSync(file, 'utf8'))[deviceName]).toBe(devices[0]);
    expect(as.calls.slice(1).map((c) => c.proof?.jkt)).toEqual([jkt, jkt]);
    // Kept from then on: the next run finds the key, and the device id with it.
    const next = manager({ storage: new FileStorage(file) });
    expect(await next.dpopThumbprint()).toBe(jkt);
    expect(await next.deviceId()).toBe(devices[0]);
  });

  it('made anew leaves a deviceId given in the options, and the stored one, alone', async () => {
    const storage = new MapStorage();
    const stored = 'stored-device-1';
    const deviceName = `tokenward:${encodeURIComponent(as.issuer)}:device_id`;
    await storage.set(deviceName, stored);
    const tm = manager({ storage, deviceId: 'given-device-1' });
    await tm.signIn('alice', 'secret');
    expect(await tm.deviceId()).toBe('given-device-1');
    expect(storage.map.get(deviceName)).toBe(stored);
  });

  it('stays when the user signs out; revocation carries no proof', async () => {
    const storage = new MapStorage();
    const tm = manager({ storage });
    await tm.signIn('alice', 'secret');
    const jkt = await tm.dpopThumbprint();
    expect(await tm.signOut()).toEqual({ revoked: true });
    expect(as.revocations).toHaveLength(1);
    expect(as.revocations[0]?.dpop).toBeUndefined();
    expect([...storage.map.keys()].some((k) => k.endsWith(':dpop_key'))).toBe(true);
    expect(await tm.dpopThumbprint()).toBe(jkt);
    await manager({ storage }).signIn('alice', 'secret');
    expect(as.calls[1]?.proof?.jkt).toBe(jkt);
  });

  it('another key for a device id the server bound is refused (why the key is the device’s)', async () => {
    const deviceId = 'device-1';
    await manager({ deviceId }).signIn('alice', 'secret');
    await expect(manager({ deviceId }).signIn('alice', 'secret')).rejects.toMatchObject({
      code: 'invalid_grant',
    });
  });

  it('in a MemoryStorage lasts as long as the process, said once', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const storage = new MemoryStorage();
      const a = manager({ storage });
      const b = manager({ storage, clientId: 'print-app' });
      expect(await a.dpopThumbprint()).toBe(await b.dpopThumbprint());
      await manager({ storage: new MemoryStorage() }).dpopThumbprint();
      const said = warn.mock.calls.filter(([m]) => String(m).includes('DPoP device key'));
      expect(said).toHaveLength(1);
      expect(String(said[0]?.[0])).toContain('FileStorage');
    } finally {
      warn.mockRestore();
    }
  });
});

describe('the dpop option', () => {
  it('must be a boolean', () => {
    expect(() => manager({ dpop: 'yes' as unknown as boolean })).toThrow(ConfigError);
    expect(() => manager({ dpop: 'yes' as unknown as boolean })).toThrow(/dpop must be a boolean/);
  });
});
