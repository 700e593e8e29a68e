// Access tokens: RFC 9068 JWTs signed with jsonwebtoken and KeyObjects; verification pins alg, iss, aud, typ.
import jwt from 'jsonwebtoken';
import { type Clock, epochSeconds } from '../core/clock';
import type { KeyRing, VerificationKeys } from './signing-keys';

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
  gty: 'password' | 'client_credentials';
  device_id?: string;
  local_user?: string;
}

/** RFC 9068 §2.1: the `typ` header of access tokens. */
export const AT_TYP = 'at+jwt';
/** Longest token we try to parse; anything longer is not ours. */
export const MAX_TOKEN_LENGTH = 8192;

export async function signAccessToken(claims: AccessTokenClaims, keys: KeyRing): Promise<string> {
  const key = await keys.signingKey();
  return jwt.sign(claims, key.privateKey, {
    algorithm: key.alg,
    keyid: key.kid,
    header: { alg: key.alg, typ: AT_TYP },
  });
}

export interface VerifyOptions {
  issuer: string;
  audience: string;
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
    (c.gty === 'password' || c.gty === 'client_credentials')
  );
}

/**
 * Verify an access token against our own key set: `kid` must be ours (jku/x5u/jwk ignored), the
 * algorithm is the key's own, `typ` must be at+jwt, and iss/aud/exp are always checked
 * (RFC 8725 §3.1, §3.8, §3.11; RFC 9068 §4), exp and nbf against `now`, and `tenant_id` when
 * `options.tenants` lists the tenants served. Returns undefined for anything not valid.
 */
export async function verifyAccessToken(
  token: string,
  keys: VerificationKeys,
  options: VerifyOptions,
  now: Clock = epochSeconds,
): Promise<AccessTokenClaims | undefined> {
  if (token.length > MAX_TOKEN_LENGTH || token.split('.').length !== 3) return undefined;
  let decoded: jwt.Jwt | null;
  try {
    decoded = jwt.decode(token, { complete: true });
  } catch {
    return undefined;
  }
  const header = decoded?.header as (jwt.JwtHeader & { crit?: unknown; b64?: unknown }) | undefined;
  if (!header || typeof header.kid !== 'string') return undefined;
  // We never issue `crit` or `b64`; a header carrying them asks for processing we do not do (RFC 7515 §4.1.11).
  if (header.crit !== undefined || header.b64 !== undefined) return undefined;
  const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : '';
  if (typ !== AT_TYP && typ !== `application/${AT_TYP}`) return undefined;
  const key = await keys.verificationKey(header.kid);
  if (!key || header.alg !== key.alg) return undefined;
  try {
    const payload = jwt.verify(token, key.publicKey, {
      algorithms: [key.alg],
      issuer: options.issuer,
      audience: options.audience,
      clockTolerance: options.clockTolerance,
      clockTimestamp: now(),
    });
    if (!isClaims(payload)) return undefined;
    if (options.tenants && !options.tenants.includes(payload.tenant_id)) return undefined;
    return payload;
  } catch {
    return undefined;
  }
}
