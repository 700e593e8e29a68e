// DPoP proofs (RFC 9449 §4.3): check a proof JWT against the request it came with; JWK thumbprints (RFC 7638).
import {
  constants,
  createHash,
  createPublicKey,
  type JsonWebKey,
  type KeyObject,
  verify as verifySignature,
} from 'node:crypto';
import { LRUCache } from 'lru-cache';

/** Algorithms a proof may be signed with: asymmetric only (RFC 9449 §4.3 item 5). */
export const DPOP_ALGORITHMS = Object.freeze([
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
] as const);
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

/** RFC 9449 §4.2: the `typ` of a proof. */
export const DPOP_TYP = 'dpop+jwt';
/** Longest proof read: an RSA-4096 `jwk` and claims fit well within it. */
export const MAX_PROOF_LENGTH = 4096;
/** Longest `jti` accepted (RFC 9449 §4.2 asks for ≥ 96 bits of randomness, not a maximum). */
const MAX_JTI_LENGTH = 256;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** What the request a proof comes with must match. */
export interface ProofExpectation {
  /** The HTTP method of the request (`htm`). */
  method: string;
  /** The request's URL; compared with `htu` without query and fragment, normalised (RFC 9449 §4.3 item 9). */
  url: string;
  /** Epoch seconds now. */
  now: number;
  /** Seconds a proof is accepted after its `iat`. */
  maxAge: number;
  /** Seconds a proof's `iat` may lie in the future (clock skew). */
  leeway: number;
  /** At a resource server: the access token presented with it, which `ath` must hash (§4.3 item 12). */
  accessToken?: string;
  /**
   * The server's nonce check (§8): given the proof's `nonce` claim (undefined when absent), whether
   * it is current. Absent: nonces are not asked for.
   */
  nonce?: (nonce: string | undefined) => boolean;
  /** Algorithms accepted: a subset of {@link DPOP_ALGORITHMS}. */
  algorithms: readonly string[];
}

/** A proof that checked: the key it proves possession of, and what its replay check needs. */
export interface CheckedProof {
  /** RFC 7638 thumbprint (SHA-256, base64url) of the proof's public key: the `cnf.jkt` it binds. */
  jkt: string;
  /** The proof's `jti`, hashed: a fixed-size name for the replay check. */
  jtiHash: string;
  /** Epoch seconds after which the proof is refused anyway: its `jti` must be kept until then. */
  expiresAt: number;
}

/** Why a proof was refused: `use_dpop_nonce` asks the client to retry with the nonce (§8). */
export class ProofRejection {
  constructor(
    readonly error: 'invalid_dpop_proof' | 'use_dpop_nonce',
    readonly detail: string,
  ) {}
}

const b64url = (b: Buffer) => b.toString('base64url');

/**
 * The RFC 7638 thumbprint of a public JWK: SHA-256 over its required members in lexical order.
 * Undefined for a key type DPoP does not use here.
 *
 * @example jwkThumbprint({ kty: 'EC', crv: 'P-256', x, y }) // 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'-like
 */
export function jwkThumbprint(jwk: Readonly<JsonWebKey>): string | undefined {
  let canonical: string;
  const str = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= 1024;
  if (jwk.kty === 'EC' && str(jwk.crv) && str(jwk.x) && str(jwk.y))
    canonical = JSON.stringify({ crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y });
  else if (jwk.kty === 'RSA' && str(jwk.e) && str(jwk.n))
    canonical = JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n });
  else return undefined;
  return b64url(createHash('sha256').update(canonical).digest());
}

/** RFC 9449 §4.2 `ath`: base64url SHA-256 of the access token's ASCII. */
export function accessTokenHash(token: string): string {
  return b64url(createHash('sha256').update(token, 'ascii').digest());
}

/**
 * The URL a proof's `htu` is compared as: scheme, host and port as URL parsing normalises them
 * (lowercase, default port dropped), and the path; query and fragment dropped. Undefined when not
 * an absolute http(s) URL.
 */
export function normalizeHtu(url: string): string | undefined {
  if (!URL.canParse(url)) return undefined;
  const u = new URL(url);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  if (u.username !== '' || u.password !== '') return undefined;
  // RFC 3986 §6.2.2.1-2: percent-encodings compare case-insensitively, and an encoded unreserved
  // character is that character.
  const path = u.pathname.replace(/%[0-9a-f]{2}/gi, (m) => {
    const c = String.fromCharCode(Number.parseInt(m.slice(1), 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : m.toUpperCase();
  });
  return `${u.origin}${path}`;
}

function decodeSegment(segment: string | undefined): Record<string, unknown> | undefined {
  if (segment === undefined || !/^[A-Za-z0-9_-]+$/.test(segment)) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** How each accepted algorithm verifies (RFC 7518 §3): digest, key type and curve or padding. */
const VERIFIERS: Record<DpopAlgorithm, { digest: string; curve?: string; pss?: true }> = {
  ES256: { digest: 'sha256', curve: 'prime256v1' },
  ES384: { digest: 'sha384', curve: 'secp384r1' },
  ES512: { digest: 'sha512', curve: 'secp521r1' },
  PS256: { digest: 'sha256', pss: true },
  PS384: { digest: 'sha384', pss: true },
  PS512: { digest: 'sha512', pss: true },
  RS256: { digest: 'sha256' },
  RS384: { digest: 'sha384' },
  RS512: { digest: 'sha512' },
};

/** A proof header that checked: its algorithm and the public key it carries. */
interface ProofHeader {
  alg: DpopAlgorithm;
  jkt: string;
  key: KeyObject;
}

/** The public key of `jwk` when it is a key `alg` verifies with (RSA: at least 2048 bits). */
function publicKeyFor(jwk: JsonWebKey, alg: DpopAlgorithm): KeyObject | undefined {
  const { curve } = VERIFIERS[alg];
  if ((curve !== undefined) !== (jwk.kty === 'EC')) return undefined;
  try {
    const key =
      jwk.kty === 'EC'
        ? createPublicKey({ key: { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' })
        : createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' });
    const details = key.asymmetricKeyDetails;
    if (curve !== undefined ? details?.namedCurve !== curve : (details?.modulusLength ?? 0) < 2048)
      return undefined;
    return key;
  } catch {
    return undefined;
  }
}

function checkHeader(
  header: Record<string, unknown>,
  algorithms: readonly string[],
): ProofHeader | ProofRejection {
  // A media type: compared case-insensitively, with or without "application/" (RFC 7515 §4.1.9).
  const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : '';
  if (typ !== DPOP_TYP && typ !== `application/${DPOP_TYP}`)
    return invalid('the proof typ is not dpop+jwt');
  // §4.3 item 5: `none` and symmetric algorithms (a MAC proves nothing about a public key) are out.
  const alg = header.alg;
  if (typeof alg !== 'string' || !algorithms.includes(alg) || !Object.hasOwn(VERIFIERS, alg))
    return invalid('the proof alg is not an accepted asymmetric algorithm');
  // We process no critical extensions, and sign over the payload as is (RFC 7515 §4.1.11, RFC 7797).
  if (header.crit !== undefined || header.b64 !== undefined)
    return invalid('the proof header carries crit or b64');
  const jwk = header.jwk as JsonWebKey | undefined;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk))
    return invalid('the proof header carries no jwk');
  if (PRIVATE_MEMBERS.some((m) => m in jwk))
    return invalid('the proof jwk carries a private or symmetric key');
  const jkt = jwkThumbprint(jwk);
  const key = jkt === undefined ? undefined : publicKeyFor(jwk, alg as DpopAlgorithm);
  if (jkt === undefined || !key)
    return invalid(`the proof jwk is not a usable public key for ${alg}`);
  return { alg: alg as DpopAlgorithm, jkt, key };
}

// Checked proof headers, by their encoded segment: a client signs every proof with one key, so
// its header repeats and is parsed, thumbprinted and turned into a key once.
const headers = new LRUCache<string, ProofHeader>({ max: 2000 });

/**
 * The JWS signature check (RFC 7515 §5.2) over the segments as received. Done with node:crypto on
 * the parts already decoded: jsonwebtoken would decode the proof again and convert the signature
 * to DER on every call, a fifth of a proof's cost on the guard's hot path (bench/README.md).
 */
function signatureVerifies(h: ProofHeader, signed: string, signature: string): boolean {
  const v = VERIFIERS[h.alg];
  try {
    return verifySignature(
      v.digest,
      Buffer.from(signed),
      v.curve !== undefined
        ? { key: h.key, dsaEncoding: 'ieee-p1363' }
        : v.pss
          ? {
              key: h.key,
              padding: constants.RSA_PKCS1_PSS_PADDING,
              saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
            }
          : { key: h.key, padding: constants.RSA_PKCS1_PADDING },
      Buffer.from(signature, 'base64url'),
    );
  } catch {
    return false;
  }
}

/** Whether `htu` names `url` (RFC 9449 §4.3 item 9): the same string first, else normalised. */
function sameHtu(htu: string, url: string): boolean {
  const cut = url.search(/[?#]/);
  const base = cut < 0 ? url : url.slice(0, cut);
  if (htu === base) return true;
  const expected = normalizeHtu(url);
  return expected !== undefined && normalizeHtu(htu) === expected;
}

const invalid = (detail: string) => new ProofRejection('invalid_dpop_proof', detail);

/**
 * Check a DPoP proof as RFC 9449 §4.3 lists: a compact JWS of `typ` dpop+jwt, an asymmetric `alg`
 * from `expect.algorithms`, a public `jwk` (no private members) that verifies the signature, `htm`
 * and `htu` matching the request, `iat` within `[now - maxAge, now + leeway]`, a `jti`, `ath` at a
 * resource server and `nonce` when the server asks for one. The replay check of `jti` is the
 * caller's: it needs shared state.
 *
 * @example
 * const p = checkDpopProof(req.get('DPoP'), { method: 'POST', url: tokenUrl, now, maxAge: 60, leeway: 5, algorithms: DPOP_ALGORITHMS });
 * if (p instanceof ProofRejection) throw new OAuthError(p.error, p.detail);
 */
export function checkDpopProof(
  proof: string,
  expect: Readonly<ProofExpectation>,
): CheckedProof | ProofRejection {
  if (proof.length > MAX_PROOF_LENGTH) return invalid('the proof is longer than 4 KiB');
  const parts = proof.split('.');
  if (parts.length !== 3) return invalid('the proof is not a compact JWS');
  const [head = '', body = '', signature = ''] = parts;
  let header: ProofHeader | ProofRejection | undefined = headers.get(head);
  if (!header) {
    const decoded = decodeSegment(head);
    if (!decoded) return invalid('the proof does not parse');
    header = checkHeader(decoded, expect.algorithms);
    if (header instanceof ProofRejection) return header;
    headers.set(head, header);
  } else if (!expect.algorithms.includes(header.alg))
    return invalid('the proof alg is not an accepted asymmetric algorithm');
  const claims = decodeSegment(body);
  if (!claims) return invalid('the proof does not parse');
  if (
    !/^[A-Za-z0-9_-]+$/.test(signature) ||
    !signatureVerifies(header, `${head}.${body}`, signature)
  )
    return invalid('the proof signature does not verify with its jwk');
  const { jkt } = header;
  const { jti, htm, htu, iat, ath, nonce } = claims;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH)
    return invalid('the proof jti is missing or longer than 256 characters');
  if (htm !== expect.method) return invalid(`the proof htm is not ${expect.method}`);
  if (typeof htu !== 'string' || !sameHtu(htu, expect.url))
    return invalid('the proof htu is not the URL of this request');
  if (typeof iat !== 'number' || !Number.isFinite(iat))
    return invalid('the proof has no numeric iat');
  if (iat > expect.now + expect.leeway) return invalid('the proof iat is in the future');
  if (iat < expect.now - expect.maxAge) return invalid('the proof is too old (iat)');
  if (expect.accessToken !== undefined) {
    if (typeof ath !== 'string') return invalid('the proof has no ath');
    if (ath !== accessTokenHash(expect.accessToken))
      return invalid('the proof ath is not the hash of the access token presented');
  }
  if (expect.nonce && !expect.nonce(typeof nonce === 'string' ? nonce : undefined))
    return new ProofRejection(
      'use_dpop_nonce',
      nonce === undefined
        ? 'the server requires a DPoP nonce'
        : 'the DPoP nonce is not current: use the one in DPoP-Nonce',
    );
  return {
    jkt,
    jtiHash: b64url(createHash('sha256').update(jti).digest()).slice(0, 22),
    expiresAt: Math.ceil(iat) + expect.maxAge + 1,
  };
}
