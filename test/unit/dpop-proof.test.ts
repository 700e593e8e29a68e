// lib/tokens/dpop-proof.ts, dpop-nonce.ts, dpop-replay.ts: proof checks branch by branch, thumbprints
// against jose's, htu normalisation (RFC 3986 §6.2.2), stateless nonces and the in-process replay cache.
import { calculateJwkThumbprint } from 'jose';
import { StoreUnavailableError } from '../../lib/errors';
import { DpopNonces } from '../../lib/tokens/dpop-nonce';
import {
  checkDpopProof,
  DPOP_ALGORITHMS,
  jwkThumbprint,
  normalizeHtu,
  ProofRejection,
} from '../../lib/tokens/dpop-proof';
import { ProofReplayCache } from '../../lib/tokens/dpop-replay';
import { type DpopKey, dpopKey, proof } from '../helpers/dpop';

const URL_ = 'https://rs.example/api/jobs';
const NOW = 1_800_000_000;
const expect_ = {
  method: 'GET',
  url: URL_,
  now: NOW,
  maxAge: 60,
  leeway: 5,
  algorithms: DPOP_ALGORITHMS,
};

describe('jwkThumbprint (RFC 7638)', () => {
  it.each(['ES256', 'ES384', 'ES512', 'RS256', 'PS256'])(
    'equals jose for a %s key',
    async (alg) => {
      const k = await dpopKey(alg);
      expect(jwkThumbprint(k.publicJwk as never)).toBe(await calculateJwkThumbprint(k.publicJwk));
    },
  );
  it('is undefined for a key type proofs do not use, or a member missing', () => {
    expect(jwkThumbprint({ kty: 'oct', k: 'AAAA' } as never)).toBeUndefined();
    expect(jwkThumbprint({ kty: 'EC', crv: 'P-256', x: 'AA' } as never)).toBeUndefined();
  });
});

describe('normalizeHtu (RFC 9449 §4.3 item 9, RFC 3986 §6.2.2)', () => {
  it.each([
    ['HTTPS://RS.Example:443/api/jobs?x=1#f', 'https://rs.example/api/jobs'],
    ['http://rs.example:80/a', 'http://rs.example/a'],
    ['http://rs.example:8080/a', 'http://rs.example:8080/a'],
    ['https://rs.example/%7euser/%2f', 'https://rs.example/~user/%2F'],
    ['https://rs.example/m%65', 'https://rs.example/me'],
  ])('%s → %s', (given, normal) => {
    expect(normalizeHtu(given)).toBe(normal);
  });
  it.each(['ftp://rs.example/a', 'https://user:pw@rs.example/a', '/relative', 'not a url'])(
    'refuses %s',
    (given) => {
      expect(normalizeHtu(given)).toBeUndefined();
    },
  );
});

describe('checkDpopProof', () => {
  let key: DpopKey;
  beforeAll(async () => {
    key = await dpopKey();
  });
  const make = (c: Partial<Parameters<typeof proof>[1]> = {}) =>
    proof(key, { htm: 'GET', htu: URL_, iat: NOW, ...c });

  it('accepts a good proof: the key thumbprint, a fixed-size jti hash, kept until iat + maxAge', async () => {
    const checked = checkDpopProof(await make({ jti: 'j-1' }), expect_);
    expect(checked).toEqual({
      jkt: key.jkt,
      jtiHash: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      expiresAt: NOW + 61,
    });
  });

  it.each(['DPoP+JWT', 'application/dpop+jwt'])(
    'takes typ %s as dpop+jwt (a media type)',
    async (typ) => {
      expect(checkDpopProof(await make({ header: { typ } }), expect_)).not.toBeInstanceOf(
        ProofRejection,
      );
    },
  );

  it.each<[string, Partial<Parameters<typeof proof>[1]>, object?]>([
    ['htm in lower case (methods are case-sensitive)', { htm: 'get' }],
    ['iat past the window', { iat: NOW - 61 }],
    ['iat beyond the leeway', { iat: NOW + 6 }],
    ['a numeric jti', { extra: { jti: 7 } }],
    ['a 257-character jti', { jti: 'j'.repeat(257) }],
    ['an htu with another path', { htu: 'https://rs.example/api/other' }],
    [
      'an ath when the guard holds a token the proof does not hash',
      { accessToken: 'other' },
      { accessToken: 'token' },
    ],
    ['no ath at a resource server', {}, { accessToken: 'token' }],
  ])('refuses %s', async (_name, claims, expectation = {}) => {
    const checked = checkDpopProof(await make(claims), { ...expect_, ...expectation });
    expect(checked).toBeInstanceOf(ProofRejection);
    expect((checked as ProofRejection).error).toBe('invalid_dpop_proof');
  });

  it('refuses an algorithm the caller does not accept', async () => {
    const rs = await dpopKey('RS256');
    const p = await proof(rs, { htm: 'GET', htu: URL_, iat: NOW });
    expect(checkDpopProof(p, expect_)).not.toBeInstanceOf(ProofRejection);
    expect(checkDpopProof(p, { ...expect_, algorithms: ['ES256'] })).toBeInstanceOf(ProofRejection);
  });

  it('asks for a nonce with use_dpop_nonce when the check says no', async () => {
    const checked = checkDpopProof(await make({ nonce: 'old' }), {
      ...expect_,
      nonce: (n) => n === 'current',
    });
    expect(checked).toMatchObject({ error: 'use_dpop_nonce' });
  });
});

describe('DpopNonces (RFC 9449 §8)', () => {
  const a = new DpopNonces('s'.repeat(32), 'https://as.example');
  it('a nonce is current in its minute and the next, on any instance with the same secret and issuer', () => {
    const n = a.current(NOW);
    const twin = new DpopNonces('s'.repeat(32), 'https://as.example');
    expect(twin.isCurrent(n, NOW + 60)).toBe(true);
    expect(twin.isCurrent(n, NOW + 121)).toBe(false);
    expect(new DpopNonces('t'.repeat(32), 'https://as.example').isCurrent(n, NOW)).toBe(false);
    expect(new DpopNonces('s'.repeat(32), 'https://other.example').isCurrent(n, NOW)).toBe(false);
  });
  it.each([undefined, '', 'x'.repeat(65), 'zz.short', `${'1'.repeat(13)}.${'A'.repeat(22)}`])(
    'refuses %s',
    (n) => {
      expect(a.isCurrent(n, NOW)).toBe(false);
    },
  );
});

describe('ProofReplayCache', () => {
  it('spends an id once while it is live, again once expired; a full cache refuses (503) rather than forget', () => {
    const cache = new ProofReplayCache(2);
    expect(cache.spend('a', NOW + 60, NOW)).toBe(true);
    expect(cache.spend('a', NOW + 60, NOW + 59)).toBe(false);
    expect(cache.spend('a', NOW + 120, NOW + 60)).toBe(true);
    expect(cache.spend('b', NOW + 120, NOW + 60)).toBe(true);
    expect(() => cache.spend('c', NOW + 120, NOW + 61)).toThrow(StoreUnavailableError);
    expect(cache.spend('c', NOW + 200, NOW + 121)).toBe(true);
  });
});

describe('ProofReplayCache that evicts', () => {
  it('full of live ids, forgets the oldest rather than refuse', () => {
    const cache = new ProofReplayCache(2, 'evict');
    expect(cache.spend('a', NOW + 60, NOW)).toBe(true);
    expect(cache.spend('b', NOW + 60, NOW)).toBe(true);
    expect(cache.spend('c', NOW + 60, NOW)).toBe(true);
    expect(cache.spend('b', NOW + 60, NOW)).toBe(false);
    expect(cache.spend('c', NOW + 60, NOW)).toBe(false);
    // 'a' was forgotten.
    expect(cache.spend('a', NOW + 60, NOW)).toBe(true);
  });
});
