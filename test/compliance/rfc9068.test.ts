// RFC 9068 JWT access tokens verified with jose, and the RFC 8725 attack set at introspection (inactive) and revocation (200, no effect).
import { createHmac, createPublicKey } from 'node:crypto';
import type { Express } from 'express';
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
  jwtVerify,
  type KeyLike,
  SignJWT,
} from 'jose';
import request from 'supertest';
import {
  ALICE,
  APP,
  BOB,
  buildApp,
  INTROSPECT,
  ISSUER,
  introspect,
  post,
  REVOKE,
  RS,
  SVC,
  seed,
  signIn,
  type TestApp,
  TOKEN,
} from '../helpers/app';
import { makeStore, type TestStore } from '../helpers/stores';

const b64 = (v: unknown) =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const INACTIVE = '{"active":false}';

/** The genuine token an attack is built from. */
interface Victim {
  token: string;
  claims: JWTPayload;
}

async function fetchJwks(app: Express): Promise<{ keys: JWK[] }> {
  const res = await request(app).get('/oauth2/jwks');
  expect(res.status).toBe(200);
  return JSON.parse(res.text);
}

/** An HS256 JWT signed with `secret`, the classic asymmetric→HMAC confusion. */
function hs256(
  header: Record<string, unknown>,
  claims: JWTPayload,
  secret: string | Buffer,
): string {
  const input = `${b64({ ...header, alg: 'HS256' })}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

async function es256(
  key: KeyLike | Uint8Array,
  header: Omit<JWTHeaderParameters, 'alg'>,
  claims: JWTPayload,
): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ ...header, alg: 'ES256' }).sign(key);
}

describe('RFC 9068 JWT access tokens (MemoryStore)', () => {
  let ts: TestStore;
  let t: TestApp;
  let jwks: { keys: JWK[] };
  let session: { access_token: string; refresh_token: string; scope: string };

  beforeAll(async () => {
    ts = await makeStore('memory', 'rfc9068');
    t = buildApp(ts.store);
    await seed(t.auth);
    session = await signIn(t.app);
    jwks = await fetchJwks(t.app);
  });
  afterAll(() => ts.close());

  const verify = (token: string, audience = ISSUER) =>
    jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: ISSUER,
      audience,
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });

  describe('§2 token format', () => {
    it('§2.1 JOSE header: typ "at+jwt", alg ES256, kid naming a key published at jwks_uri', () => {
      const header = decodeProtectedHeader(session.access_token);
      expect(header.typ).toBe('at+jwt');
      expect(header.alg).toBe('ES256');
      expect(typeof header.kid).toBe('string');
      expect(jwks.keys.map((k) => k.kid)).toContain(header.kid);
    });

    it('§2.2 a user token verifies with jose (iss, aud, typ, ES256) and carries iss sub aud exp iat jti client_id scope tenant_id', async () => {
      const { payload, protectedHeader } = await verify(session.access_token);
      expect(protectedHeader.typ).toBe('at+jwt');
      expect(payload).toMatchObject({
        iss: ISSUER,
        sub: ALICE.username,
        aud: ISSUER,
        client_id: APP.id,
        scope: session.scope,
        tenant_id: 'acme',
      });
      for (const claim of ['exp', 'iat']) expect(Number.isInteger(payload[claim])).toBe(true);
      expect(typeof payload.jti).toBe('string');
      expect((payload.exp as number) - (payload.iat as number)).toBe(600);
      expect(Math.abs((payload.iat as number) - Date.now() / 1000)).toBeLessThan(30);
    });

    it('§2.2 client_credentials: sub is the client id; local_user and tenant_id are claims (tenants and local users)', async () => {
      const res = await post(
        t.app,
        TOKEN,
        { grant_type: 'client_credentials', local_user: 'kiosk-9', scope: 'scan' },
        SVC,
      );
      expect(res.status).toBe(200);
      const { payload } = await verify(res.body.access_token);
      expect(payload).toMatchObject({
        iss: ISSUER,
        sub: SVC.id,
        aud: ISSUER,
        client_id: SVC.id,
        scope: 'scan',
        tenant_id: 'acme',
        local_user: 'kiosk-9',
      });
      expect(payload.jti).toEqual(expect.any(String));
    });

    it('§2.2 device_id is a claim when the sign-in carried one (device sessions)', async () => {
      const s = await signIn(t.app, ALICE, { device_id: 'tablet-7' });
      const { payload } = await verify(s.access_token);
      expect(payload.device_id).toBe('tablet-7');
    });

    it('§2.2.3 scope is the space-delimited granted scope', async () => {
      const s = await signIn(t.app, ALICE, { scope: 'scan print' });
      const { payload } = await verify(s.access_token);
      expect((payload.scope as string).split(' ').sort()).toEqual(['print', 'scan']);
    });

    it('§2.2 jti is unique per token', async () => {
      const tokens = await Promise.all(
        Array.from({ length: 5 }, () =>
          post(t.app, TOKEN, { grant_type: 'client_credentials' }, SVC),
        ),
      );
      const jtis = tokens.map((r) => decodeJwt(r.body.access_token).jti);
      expect(new Set(jtis).size).toBe(5);
    });

    it('§3 aud is the configured audience option when one is set', async () => {
      const other = buildApp(ts.store, { audience: 'https://print.example.com' });
      const res = await post(other.app, TOKEN, { grant_type: 'client_credentials' }, SVC);
      const { payload } = await verify(res.body.access_token, 'https://print.example.com');
      expect(payload.aud).toBe('https://print.example.com');
      await expect(verify(res.body.access_token, ISSUER)).rejects.toThrow();
    });
  });

  describe('§4 validation: an RS256-configured server', () => {
    let rs: TestStore;
    let r: TestApp;
    let token: string;
    let rsJwks: { keys: JWK[] };

    beforeAll(async () => {
      rs = await makeStore('memory', 'rfc9068-rs256');
      r = buildApp(rs.store, { signingAlg: 'RS256' });
      await seed(r.auth);
      token = (await signIn(r.app)).access_token;
      rsJwks = await fetchJwks(r.app);
    });
    afterAll(() => rs.close());

    it('§4 RS256 tokens verify with jose against the server’s JWKS (typ at+jwt, kid)', async () => {
      const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(rsJwks), {
        issuer: ISSUER,
        audience: ISSUER,
        typ: 'at+jwt',
        algorithms: ['RS256'],
      });
      expect(protectedHeader.alg).toBe('RS256');
      expect(rsJwks.keys.map((k) => k.kid)).toContain(protectedHeader.kid);
      expect(payload).toMatchObject({ sub: ALICE.username, client_id: APP.id, tenant_id: 'acme' });
      expect((await introspect(r.app, token)).active).toBe(true);
    });

    it('RFC 8725 §3.1 RS256→HS256 confusion: HS256 signed with the RSA public key PEM → {"active":false}', async () => {
      const header = decodeProtectedHeader(token);
      const [pub] = rsJwks.keys;
      const pem = createPublicKey({ key: pub as never, format: 'jwk' }).export({
        type: 'spki',
        format: 'pem',
      }) as string;
      const forged = hs256({ typ: 'at+jwt', kid: header.kid }, decodeJwt(token), pem);
      const res = await post(r.app, INTROSPECT, { token: forged }, RS);
      expect(res.text).toBe(INACTIVE);
      const before = await rs.snapshot();
      const rev = await post(r.app, REVOKE, { token: forged, client_id: APP.id });
      expect(rev.status).toBe(200);
      expect(await rs.snapshot()).toBe(before);
      expect((await introspect(r.app, token)).active).toBe(true);
    });
  });

  describe('RFC 8725 attack set', () => {
    let victim: Victim;
    let kid: string;
    let serverKey: KeyLike | Uint8Array;
    let attacker: { privateKey: KeyLike; jwk: JWK };
    let pem: string;
    const now = () => Math.floor(Date.now() / 1000);

    beforeAll(async () => {
      victim = { token: session.access_token, claims: decodeJwt(session.access_token) };
      kid = decodeProtectedHeader(session.access_token).kid as string;
      const [record] = await ts.store.getSigningKeys();
      if (!record) throw new Error('no signing key in the store');
      expect(record.kid).toBe(kid);
      serverKey = await importJWK(record.privateJwk as JWK, 'ES256');
      pem = createPublicKey({ key: record.publicJwk as never, format: 'jwk' }).export({
        type: 'spki',
        format: 'pem',
      }) as string;
      const pair = await generateKeyPair('ES256');
      const { kty, crv, x, y } = await exportJWK(pair.publicKey);
      attacker = { privateKey: pair.privateKey, jwk: { kty, crv, x, y } as JWK };
    });

    /** [name, build(victim)] — each forges a token carrying the victim's gid/jti, so a wrongful acceptance at revocation would revoke it. */
    const attacks: [string, (v: Victim) => Promise<string> | string][] = [
      [
        'RFC 8725 §3.1 alg "none", no signature',
        ({ claims }) => `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${b64(claims)}.`,
      ],
      [
        'RFC 8725 §3.1 alg "none" with the original signature kept',
        ({ claims, token }) =>
          `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${b64(claims)}.${token.split('.')[2]}`,
      ],
      [
        'RFC 8725 §3.1 alg "None" (case variant)',
        ({ claims }) => `${b64({ alg: 'None', typ: 'at+jwt', kid })}.${b64(claims)}.`,
      ],
      [
        'RFC 8725 §3.1 HS256 signed with the public key PEM as HMAC secret',
        ({ claims }) => hs256({ typ: 'at+jwt', kid }, claims, pem),
      ],
      [
        'RFC 8725 §3.1 HS256 signed with the public JWK JSON as HMAC secret',
        async ({ claims }) =>
          hs256({ typ: 'at+jwt', kid }, claims, JSON.stringify((await fetchJwks(t.app)).keys[0])),
      ],
      [
        'RFC 8725 §3.1 HS256 signed with the kid as HMAC secret',
        ({ claims }) => hs256({ typ: 'at+jwt', kid }, claims, kid),
      ],
      [
        'RFC 8725 §3.10 embedded "jwk" header carrying the attacker key, no kid',
        ({ claims }) => es256(attacker.privateKey, { typ: 'at+jwt', jwk: attacker.jwk }, claims),
      ],
      [
        'RFC 8725 §3.10 embedded "jwk" header carrying the attacker key, our kid',
        ({ claims }) =>
          es256(attacker.privateKey, { typ: 'at+jwt', kid, jwk: attacker.jwk }, claims),
      ],
      [
        'RFC 8725 §3.10 "jku" header pointing at an attacker JWKS',
        ({ claims }) =>
          es256(
            attacker.privateKey,
            { typ: 'at+jwt', kid: 'attacker-key', jku: 'https://attacker.example/jwks.json' },
            claims,
          ),
      ],
      [
        'RFC 8725 §3.10 "jku" header pointing at an attacker JWKS, our kid',
        ({ claims }) =>
          es256(
            attacker.privateKey,
            { typ: 'at+jwt', kid, jku: 'https://attacker.example/jwks.json' },
            claims,
          ),
      ],
      [
        'RFC 8725 §3.10 "x5u" header pointing at an attacker certificate',
        ({ claims }) =>
          es256(
            attacker.privateKey,
            { typ: 'at+jwt', kid: 'attacker-key', x5u: 'https://attacker.example/cert.pem' },
            claims,
          ),
      ],
      [
        'RFC 8725 §3.10 attacker key signing under our kid',
        ({ claims }) => es256(attacker.privateKey, { typ: 'at+jwt', kid }, claims),
      ],
      [
        'RFC 8725 §3.10 kid with "../" path traversal (signed with our key)',
        ({ claims }) =>
          es256(serverKey, { typ: 'at+jwt', kid: '../../../../../../dev/null' }, claims),
      ],
      [
        'RFC 8725 §3.10 kid with our kid plus "/../" (signed with our key)',
        ({ claims }) => es256(serverKey, { typ: 'at+jwt', kid: `${kid}/../${kid}` }, claims),
      ],
      [
        'RFC 8725 §3.10 kid with SQL injection (signed with our key)',
        ({ claims }) => es256(serverKey, { typ: 'at+jwt', kid: "x' OR '1'='1' --" }, claims),
      ],
      [
        'RFC 8725 §3.10 kid "__proto__" (signed with our key)',
        ({ claims }) => es256(serverKey, { typ: 'at+jwt', kid: '__proto__' }, claims),
      ],
      [
        'RFC 8725 §3.10 no kid at all (signed with our key)',
        ({ claims }) => es256(serverKey, { typ: 'at+jwt' }, claims),
      ],
      [
        'RFC 8725 §3.11 typ "JWT" instead of "at+jwt" (signed with our key)',
        ({ claims }) => es256(serverKey, { typ: 'JWT', kid }, claims),
      ],
      [
        'RFC 8725 §3.11 no typ (signed with our key)',
        ({ claims }) => es256(serverKey, { kid }, claims),
      ],
      [
        'RFC 8725 §3.9 wrong aud (signed with our key)',
        ({ claims }) =>
          es256(serverKey, { typ: 'at+jwt', kid }, { ...claims, aud: 'https://other-api.example' }),
      ],
      [
        'RFC 8725 §3.9 aud missing (signed with our key)',
        ({ claims }) => es256(serverKey, { typ: 'at+jwt', kid }, { ...claims, aud: undefined }),
      ],
      [
        'RFC 8725 §3.8 wrong iss (signed with our key)',
        ({ claims }) =>
          es256(serverKey, { typ: 'at+jwt', kid }, { ...claims, iss: 'https://evil.example' }),
      ],
      [
        'RFC 8725 §3.8 iss missing (signed with our key)',
        ({ claims }) => es256(serverKey, { typ: 'at+jwt', kid }, { ...claims, iss: undefined }),
      ],
      [
        'RFC 9068 §4 expired (signed with our key)',
        ({ claims }) =>
          es256(
            serverKey,
            { typ: 'at+jwt', kid },
            { ...claims, iat: now() - 660, exp: now() - 60 },
          ),
      ],
      [
        'RFC 9068 §4 exp missing (signed with our key)',
        ({ claims }) => es256(serverKey, { typ: 'at+jwt', kid }, { ...claims, exp: undefined }),
      ],
      [
        'RFC 8725 §3.3 payload tampered (scope widened), signature kept',
        ({ claims, token }) => {
          const [h, , s] = token.split('.');
          return `${h}.${b64({ ...claims, scope: 'print scan admin' })}.${s}`;
        },
      ],
    ];

    it('control: the same header and claims re-signed with the server’s own key are active (the forging is real)', async () => {
      const genuine = await es256(serverKey, { typ: 'at+jwt', kid }, victim.claims);
      expect(genuine).not.toBe(session.access_token);
      expect(await introspect(t.app, genuine)).toMatchObject({
        active: true,
        jti: victim.claims.jti,
        sub: ALICE.username,
      });
    });

    it.each(attacks)(
      '%s → introspection answers exactly {"active":false}',
      async (_name, build) => {
        const token = await build(victim);
        const res = await post(t.app, INTROSPECT, { token }, RS);
        expect(res.status).toBe(200);
        expect(res.text).toBe(INACTIVE);
      },
    );

    it.each(attacks)('%s → revocation answers 200 and has no effect', async (_name, build) => {
      // A fresh victim per case, so one wrongful revocation cannot make the other cases fail.
      const own = await signIn(t.app, BOB);
      const token = await build({ token: own.access_token, claims: decodeJwt(own.access_token) });
      const before = await ts.snapshot();
      const res = await post(t.app, REVOKE, { token, client_id: APP.id });
      expect(res.status).toBe(200);
      expect(res.text).toBe('');
      expect(await ts.snapshot()).toBe(before);
      expect((await introspect(t.app, own.access_token)).active).toBe(true);
    });
  });
});
