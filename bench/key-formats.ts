// Key formats: signing and verifying cost the same whether a key is given as KeyObject, PEM or JWK (parsed once).
import { generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { MemoryStore } from '../lib';
import {
  type AccessTokenClaims,
  signAccessToken,
  verifyAccessToken,
} from '../lib/tokens/access-token';
import {
  KeyRing,
  loadStaticKeys,
  loadVerificationKeys,
  type SigningAlg,
} from '../lib/tokens/signing-keys';

const ISSUER = 'http://127.0.0.1';
const QUICK = process.argv.includes('--quick');
/** Turns each format takes, and calls per turn. */
const CHUNKS = QUICK ? 15 : 60;
const CALLS = 100;

function claims(i: number): AccessTokenClaims {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: ISSUER,
    sub: `cc-${i}`,
    aud: ISSUER,
    exp: now + 3600,
    iat: now,
    jti: `jti-${i}`,
    client_id: `cc-${i}`,
    scope: 'print',
    tenant_id: 'acme',
    gid: `gid-${i}`,
    gty: 'client_credentials',
  };
}

type Format = 'KeyObject' | 'PEM' | 'JWK';

function given(key: KeyObject, format: Format): KeyObject | string | JsonWebKey {
  if (format === 'KeyObject') return key;
  if (format === 'PEM') return key.export({ format: 'pem', type: 'pkcs8' }) as string;
  return key.export({ format: 'jwk' });
}

/** µs per call of `fn`, over CALLS calls. */
async function time(fn: (i: number) => unknown): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await fn(i);
  return Number(process.hrtime.bigint() - start) / 1000 / CALLS;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function measure(alg: SigningAlg) {
  const { privateKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const formats: Format[] = ['KeyObject', 'PEM', 'JWK'];
  const rings = new Map<Format, KeyRing>();
  const guards = new Map<Format, KeyRing>();
  for (const f of formats) {
    const store = new MemoryStore();
    const keys = loadStaticKeys([{ privateKey: given(privateKey, f), kid: 'k1', alg }], alg);
    rings.set(f, new KeyRing(store, { alg, staticKeys: keys, retainSeconds: 0, now: () => 0 }));
    const pub = loadVerificationKeys([{ key: given(privateKey, f), kid: 'k1', alg }]);
    guards.set(f, new KeyRing(store, { alg, staticKeys: pub, retainSeconds: 0, now: () => 0 }));
    await store.close();
  }
  const signer = rings.get('KeyObject') as KeyRing;
  const tokens = await Promise.all(
    Array.from({ length: CALLS }, (_, i) => signAccessToken(claims(i), signer)),
  );
  const opts = { issuer: ISSUER, audience: ISSUER, clockTolerance: 0 };
  const pem = given(privateKey, 'PEM') as string;
  // Formats take turns in chunks of CHUNK calls, so that load from elsewhere on the machine
  // falls on all of them alike; each format's figure is the median of its chunks.
  const sign = new Map<string, number[]>();
  const verify = new Map<string, number[]>();
  const add = (m: Map<string, number[]>, k: string, us: number) =>
    m.set(k, [...(m.get(k) ?? []), us]);
  for (let chunk = 0; chunk < CHUNKS; chunk++) {
    const order = chunk % 2 === 0 ? formats : [...formats].reverse();
    for (const f of order) {
      const ring = rings.get(f) as KeyRing;
      const guard = guards.get(f) as KeyRing;
      add(sign, f, await time((i) => signAccessToken(claims(i), ring)));
      add(verify, f, await time((i) => verifyAccessToken(tokens[i] as string, guard, opts)));
    }
    // What tokenward avoids: jsonwebtoken handed the PEM string on every call.
    const naive = await time((i) =>
      jwt.sign(claims(i), pem, { algorithm: alg, keyid: 'k1', header: { alg, typ: 'at+jwt' } }),
    );
    add(sign, 'PEM string to jsonwebtoken', naive);
  }
  const rows: { what: string; format: string; us: number }[] = [];
  for (const [f, xs] of sign) rows.push({ what: `${alg} sign`, format: f, us: median(xs) });
  for (const [f, xs] of verify) rows.push({ what: `${alg} verify`, format: f, us: median(xs) });
  return rows;
}

async function main() {
  const rows = [...(await measure('ES256')), ...(await measure('RS256'))];
  console.log(`key formats: median of ${CHUNKS} turns of ${CALLS} calls per format, in-process`);
  console.log('what          key given as                 µs/call  vs KeyObject  target');
  for (const r of rows) {
    const base = rows.find((b) => b.what === r.what && b.format === 'KeyObject')?.us ?? r.us;
    const ratio = r.us / base;
    const judged = r.format === 'PEM' || r.format === 'JWK';
    const target = judged ? (ratio <= 1.05 ? '≤ 1.05 met' : '≤ 1.05 MISSED') : '';
    console.log(
      `${r.what.padEnd(14)}${r.format.padEnd(29)}${r.us.toFixed(1).padStart(7)}  ${`${ratio.toFixed(2)}×`.padStart(11)}  ${target}`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
