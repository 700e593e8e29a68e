// DPoP proof creation (RFC 9449 §4.2), JWK thumbprints (RFC 7638), the Node device key and the request helpers proofs are built from.
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';
import {
  createProof,
  type DpopKey,
  ECDSA_P256,
  htu,
  isPublicEcJwk,
  jwkThumbprint,
  type PublicEcJwk,
} from '../../lib/client/dpop';
import { storedDpopKey } from '../../lib/client/dpop-key-storage';
import { DpopProver } from '../../lib/client/dpop-prover';
import { isNonceChallenge, requestMethod, requestUrl } from '../../lib/client/request';
import { MapStorage } from '../client/stack';

async function freshKey(): Promise<DpopKey> {
  const pair = await crypto.subtle.generateKey(ECDSA_P256, false, ['sign', 'verify']);
  const jwk = (await crypto.subtle.exportKey('jwk', pair.publicKey)) as PublicEcJwk;
  return { privateKey: pair.privateKey, jwk };
}

describe('createProof', () => {
  it('makes an ES256 dpop+jwt that verifies with its embedded public key', async () => {
    const key = await freshKey();
    const proof = await createProof(key, {
      method: 'GET',
      url: 'https://rs.example.com/jobs/1?x=1#frag',
      iat: 1_700_000_000,
      nonce: 'n-1',
      accessToken: 'tok.en',
    });
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: ['ES256'],
      currentDate: new Date(1_700_000_000_000),
    });
    expect(protectedHeader.jwk).toEqual({ kty: 'EC', crv: 'P-256', x: key.jwk.x, y: key.jwk.y });
    expect(payload).toEqual({
      jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      htm: 'GET',
      htu: 'https://rs.example.com/jobs/1',
      iat: 1_700_000_000,
      nonce: 'n-1',
      ath: createHash('sha256').update('tok.en', 'ascii').digest('base64url'),
    });
  });

  it('gives every proof its own jti', async () => {
    const key = await freshKey();
    const claims = { method: 'POST', url: 'https://as.example.com/token', iat: 1 };
    const jtis = new Set<unknown>();
    for (let i = 0; i < 20; i++) {
      const proof = await createProof(key, claims);
      const payload = JSON.parse(Buffer.from(proof.split('.')[1] ?? '', 'base64url').toString());
      jtis.add(payload.jti);
      expect(payload).not.toHaveProperty('nonce');
      expect(payload).not.toHaveProperty('ath');
    }
    expect(jtis.size).toBe(20);
  });

  it('keeps private members out of the header even when given a full export', async () => {
    const pair = await crypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']);
    const full = await crypto.subtle.exportKey('jwk', pair.privateKey);
    const proof = await createProof(
      { privateKey: pair.privateKey, jwk: full as PublicEcJwk },
      { method: 'POST', url: 'https://as.example.com/token', iat: 1 },
    );
    const header = JSON.parse(Buffer.from(proof.split('.')[0] ?? '', 'base64url').toString());
    expect(Object.keys(header.jwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);
  });
});

describe('jwkThumbprint and htu', () => {
  it('matches RFC 7638 as jose computes it', async () => {
    const { jwk } = await freshKey();
    expect(await jwkThumbprint(jwk)).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
  });

  it('drops query and fragment only', () => {
    expect(htu('https://Example.com:443/a/b?q=1#f')).toBe('https://example.com/a/b');
    expect(htu('http://localhost:8080/token')).toBe('http://localhost:8080/token');
  });

  it('recognises only P-256 public members', () => {
    const x = 'A'.repeat(43);
    expect(isPublicEcJwk({ kty: 'EC', crv: 'P-256', x, y: x })).toBe(true);
    expect(isPublicEcJwk({ kty: 'EC', crv: 'P-384', x, y: x })).toBe(false);
    expect(isPublicEcJwk({ kty: 'EC', crv: 'P-256', x: 'short', y: x })).toBe(false);
    expect(isPublicEcJwk(null)).toBe(false);
  });
});

describe('storedDpopKey (Node)', () => {
  it('stores the private JWK once and signs with a non-extractable key', async () => {
    const storage = new MapStorage();
    const { key: a, created } = await storedDpopKey(storage, 'k');
    const { key: b, created: again } = await storedDpopKey(storage, 'k');
    expect([created, again]).toEqual([true, false]);
    expect(b.jwk).toEqual(a.jwk);
    expect(a.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('jwk', a.privateKey)).rejects.toThrow();
    const stored = JSON.parse(storage.map.get('k') ?? '{}');
    expect(Object.keys(stored).sort()).toEqual(['crv', 'd', 'kty', 'x', 'y']);
  });

  it('replaces a damaged stored key', async () => {
    const storage = new MapStorage();
    await storage.set('k', '{"kty":"EC"}');
    const { key, created } = await storedDpopKey(storage, 'k');
    expect(created).toBe(true);
    expect(isPublicEcJwk(key.jwk)).toBe(true);
    expect(JSON.parse(storage.map.get('k') ?? '{}').x).toBe(key.jwk.x);
  });
});

describe('DpopProver nonces', () => {
  it('keeps the latest nonce per origin, only well-formed ones', async () => {
    const key = await freshKey();
    const prover = new DpopProver(
      async () => key,
      () => 5_000,
    );
    const nonceOf = async (url: string) => {
      const proof = await prover.proof('GET', url);
      return JSON.parse(Buffer.from(proof.split('.')[1] ?? '', 'base64url').toString()).nonce;
    };
    const res = (nonce: string) => new Response(null, { headers: { 'DPoP-Nonce': nonce } });
    expect(prover.observe('https://a.example/x', res('n1'))).toBe(true);
    expect(prover.observe('https://a.example/y', new Response(null))).toBe(false);
    expect(prover.observe('https://b.example/', res('bad nonce'))).toBe(false);
    expect(await nonceOf('https://a.example/z')).toBe('n1');
    expect(await nonceOf('https://b.example/z')).toBeUndefined();
    expect(prover.observe('https://a.example/', res('n2'))).toBe(true);
    expect(await nonceOf('https://a.example/z')).toBe('n2');
  });

  it('loads the key once, and again after a failure', async () => {
    let loads = 0;
    const key = await freshKey();
    const prover = new DpopProver(async () => {
      loads++;
      if (loads === 1) throw new Error('storage down');
      return key;
    }, Date.now);
    await expect(prover.thumbprint()).rejects.toThrow('storage down');
    await Promise.all([prover.thumbprint(), prover.proof('GET', 'https://a.example/')]);
    expect(loads).toBe(2);
  });
});

describe('request helpers', () => {
  it('gives the method as fetch sends it', () => {
    expect(requestMethod('https://a.example/', undefined)).toBe('GET');
    expect(requestMethod('https://a.example/', { method: 'post' })).toBe('POST');
    // fetch upper-cases only the standard methods: `patch` goes out as written.
    expect(requestMethod('https://a.example/', { method: 'patch' })).toBe('patch');
    expect(requestMethod(new Request('https://a.example/', { method: 'DELETE' }), undefined)).toBe(
      'DELETE',
    );
    expect(requestMethod(new Request('https://a.example/'), { method: 'put' })).toBe('PUT');
  });

  it('gives the absolute URL', () => {
    expect(requestUrl(new URL('https://a.example/x?y'))).toBe('https://a.example/x?y');
    expect(requestUrl(new Request('https://a.example/r'))).toBe('https://a.example/r');
    expect(() => requestUrl('/relative')).toThrow();
  });

  it('reads a nonce challenge from the header, or from the body when the header is hidden', async () => {
    const challenge = (headers: Record<string, string>, body = '{}') =>
      new Response(body, { status: 401, headers });
    expect(
      await isNonceChallenge(challenge({ 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"' })),
    ).toBe(true);
    expect(
      await isNonceChallenge(challenge({ 'WWW-Authenticate': 'DPoP error="invalid_token"' })),
    ).toBe(false);
    expect(await isNonceChallenge(challenge({}, '{"error":"use_dpop_nonce"}'))).toBe(true);
    expect(
      await isNonceChallenge(new Response('{"error":"use_dpop_nonce"}', { status: 400 })),
    ).toBe(false);
  });
});
