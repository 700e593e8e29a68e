// Access tokens: RFC 9068 JWTs signed and checked with node:crypto on KeyObjects; verification pins alg, iss, aud, typ.

import type { KeyObject } from 'node:crypto';
import { type Clock, epochSeconds } from '../core/clock';
import { type GrantOrigin, isGrantOrigin } from '../core/grant-type';
import { quoted, TokenRejection } from '../core/rejection';
import { decodeSegment, encodeSegment, signatureVerifies, signCompact } from './jws';
import { algFits, type KeyRing, type LoadedKey, type VerificationKeys } from './signing-keys';

/** Claims of a tokenward access token (RFC 9068 §2.2 plus tenant and binding claims). */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope: string;
  tenant_id: string;
  /** Grant (refresh-token family) id: revocation state lives under it. */
  gid: string;
  /** The grant type that started the grant: `password` (user token) or `client_credentials`. */
  gty: GrantOrigin;
  device_id?: string;
  local_user?: string;
  /** RFC 9449 §6.1: the thumbprint of the DPoP key the token is bound to. */
  cnf?: { jkt: string };
}

/** RFC 9068 §2.1: the `typ` header of access tokens. */
export const AT_TYP = 'at+jwt';
/** Longest token we try to parse; anything longer is not ours. */
export const MAX_TOKEN_LENGTH = 8192;

/** Each key's encoded protected header (alg, typ, kid), built once: it is the same for every token. */
const headers = new WeakMap<KeyObject, string>();

export async function signAccessToken(claims: AccessTokenClaims, keys: KeyRing): Promise<string> {
  const key = await keys.signingKey();
  let header = headers.get(key.privateKey);
  if (header === undefined) {
    header = encodeSegment({ alg: key.alg, typ: AT_TYP, kid: key.kid });
    headers.set(key.privateKey, header);
  }
  return signCompact(key.alg, key.privateKey, header, claims);
}

export interface VerifyOptions {
  issuer: string;
  /**
   * The `aud` accepted: one value, or a test of the token's `aud` (which must then be a single
   * string) — the authorization server accepts its own audience and its registered resources'
   * (RFC 8707), and checks each against the token's grant afterwards.
   */
  audience: string | ((aud: string) => boolean);
  /** Seconds of clock skew tolerated for exp/nbf/iat. */
  clockTolerance: number;
  /**
   * When given, `tenant_id` must be one of these: a resource server dedicated to some tenants
   * refuses the others' tokens like tokens for another audience (RFC 9068 §4).
   */
  tenants?: readonly string[];
}

function isClaims(p: unknown): p is AccessTokenClaims {
  const c = p as Record<string, unknown>;
  return (
    typeof c === 'object' &&
    c !== null &&
    ['sub', 'jti', 'client_id', 'tenant_id', 'gid'].every((k) => typeof c[k] === 'string') &&
    typeof c.scope === 'string' &&
    typeof c.exp === 'number' &&
    typeof c.iat === 'number' &&
    isGrantOrigin(c.gty) &&
    (c.cnf === undefined ||
      (typeof c.cnf === 'object' &&
        c.cnf !== null &&
        typeof (c.cnf as { jkt?: unknown }).jkt === 'string'))
  );
}

/** The issuer a hint is about: the host part, for the common localhost / 127.0.0.1 mix-up. */
const hostOf = (url: unknown): string | undefined => {
  try {
    return typeof url === 'string' ? new URL(url).host : undefined;
  } catch {
    return undefined;
  }
};

const wrongAudience = (options: VerifyOptions, aud: unknown) =>
  new TokenRejection(
    'wrong_audience',
    typeof options.audience === 'string'
      ? `this verifier expects audience ${quoted(options.audience)}; the token's aud is ${quoted(aud)}`
      : `the token's aud ${quoted(aud)} is not an audience this verifier accepts`,
  );

/**
 * Check an access token against our own key set: `kid` must be ours (jku/x5u/jwk ignored), the
 * algorithm is the key's own, `typ` must be at+jwt, and iss/aud/exp are always checked
 * (RFC 8725 §3.1, §3.8, §3.11; RFC 9068 §4), exp and nbf against `now`, and `tenant_id` when
 * `options.tenants` lists the tenants served. Returns the claims, or why the token is refused.
 */
export async function checkAccessToken(
  token: string,
  keys: VerificationKeys,
  options: VerifyOptions,
  now: Clock = epochSeconds,
): Promise<AccessTokenClaims | TokenRejection> {
  const dot1 = token.indexOf('.');
  const dot2 = token.indexOf('.', dot1 + 1);
  if (token.length > MAX_TOKEN_LENGTH || dot1 < 0 || dot2 < 0 || token.includes('.', dot2 + 1))
    return new TokenRejection('not_a_jwt', 'not a compact JWS, or longer than 8 KiB');
  const header = decodeSegment(token.slice(0, dot1));
  if (!header) return new TokenRejection('not_a_jwt', 'the token does not parse');
  if (typeof header.kid !== 'string')
    return new TokenRejection('unknown_key', 'the token names no key id (kid)');
  // We never issue `crit` or `b64`; a header carrying them asks for processing we do not do (RFC 7515 §4.1.11).
  if (header.crit !== undefined || header.b64 !== undefined)
    return new TokenRejection('wrong_algorithm', 'the header carries crit or b64');
  const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : '';
  if (typ !== AT_TYP && typ !== `application/${AT_TYP}`)
    return new TokenRejection(
      'wrong_type',
      `typ is ${quoted(header.typ)}, not "${AT_TYP}": an ID token or another issuer's token?`,
    );
  const key = await keys.verificationKey(header.kid);
  if (!key)
    return new TokenRejection(
      'unknown_key',
      `key id ${quoted(header.kid)} is not in this verifier's key set: is it on the same store and key prefix as the authorization server (local mode), or pointed at the right issuer (remote mode)? A key retired longer ago than the token's lifetime is gone too`,
    );
  // RFC 8725 §3.1: the algorithm is the key's own, whatever the header asks for.
  if (header.alg !== key.alg || !fits(key))
    return new TokenRejection(
      'wrong_algorithm',
      `alg ${quoted(header.alg)} is not ${key.alg}, the algorithm of key ${quoted(header.kid)}`,
    );
  if (!signatureVerifies(key.alg, key.publicKey, token.slice(0, dot2), token.slice(dot2 + 1)))
    return new TokenRejection('bad_signature', 'the signature does not verify');
  const payload = decodeSegment(token.slice(dot1 + 1, dot2));
  if (!payload) return new TokenRejection('not_a_jwt', 'the payload is not a JSON object');
  return checkClaims(payload, options, now());
}

/** The registered claims of a verified payload (RFC 7519 §4.1, RFC 9068 §4), then ours. */
function checkClaims(
  payload: Record<string, unknown>,
  options: VerifyOptions,
  clock: number,
): AccessTokenClaims | TokenRejection {
  const { nbf, exp, iss, aud } = payload;
  const tolerance = options.clockTolerance;
  if (nbf !== undefined) {
    if (typeof nbf !== 'number') return new TokenRejection('not_a_jwt', 'nbf is not a number');
    if (nbf > clock + tolerance)
      return new TokenRejection(
        'not_yet_valid',
        `the token is not valid before ${isoTime(nbf)}: are the clocks in sync?`,
      );
  }
  if (exp !== undefined) {
    if (typeof exp !== 'number') return new TokenRejection('not_a_jwt', 'exp is not a number');
    if (clock >= exp + tolerance)
      return new TokenRejection('expired', `the token expired at ${isoTime(exp)}`);
  }
  // A wrong issuer usually means a wrong default audience too, so the issuer is named first: it is
  // the setting to fix.
  if (iss !== options.issuer) {
    const sameHost = hostOf(iss) !== undefined && hostOf(iss) === hostOf(options.issuer);
    return new TokenRejection(
      'wrong_issuer',
      `this verifier expects issuer ${quoted(options.issuer)}; the token's iss is ${quoted(iss)}` +
        (sameHost ? '' : ' (the issuer must match exactly: localhost and 127.0.0.1 differ)'),
    );
  }
  const audience = options.audience;
  // One expected audience: the token's aud, or one of its list (RFC 7519 §4.1.3). A test (the
  // authorization server's audiences) takes a single string only.
  const audienceOk =
    typeof audience === 'string'
      ? aud === audience || (Array.isArray(aud) && aud.includes(audience))
      : typeof aud === 'string' && audience(aud);
  if (!audienceOk) return wrongAudience(options, aud);
  if (!isClaims(payload))
    return new TokenRejection('missing_claims', 'a required claim is missing or mistyped');
  if (options.tenants && !options.tenants.includes(payload.tenant_id))
    return new TokenRejection(
      'wrong_tenant',
      `tenant ${quoted(payload.tenant_id)} is not among this guard's tenants (${options.tenants.join(', ')})`,
    );
  return payload;
}

/** Epoch seconds as an ISO time, for messages (a value out of Date's range is shown as is). */
const isoTime = (seconds: number): string => {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? String(seconds) : d.toISOString();
};

/** Whether a key is of the type and size its algorithm needs (checked once per key). */
const fitting = new WeakMap<KeyObject, boolean>();
function fits(key: Pick<LoadedKey, 'alg' | 'publicKey'>): boolean {
  let ok = fitting.get(key.publicKey);
  if (ok === undefined) {
    ok = algFits(key.alg, key.publicKey);
    fitting.set(key.publicKey, ok);
  }
  return ok;
}

/** {@link checkAccessToken} without the reason: the claims, or undefined for anything not valid. */
export async function verifyAccessToken(
  token: string,
  keys: VerificationKeys,
  options: VerifyOptions,
  now: Clock = epochSeconds,
): Promise<AccessTokenClaims | undefined> {
  const checked = await checkAccessToken(token, keys, options, now);
  return checked instanceof TokenRejection ? undefined : checked;
}
