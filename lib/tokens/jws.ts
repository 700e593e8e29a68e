// Compact JWS (RFC 7515 §7.1) for access tokens: node:crypto's one-shot sign and verify on the segments.
//
// Why not jsonwebtoken: per token it validated the payload's shape, decoded the token twice (our
// header checks, then its own), and went through jws → jwa's streaming signer and a DER ↔ JOSE
// conversion of every ECDSA signature; node:crypto does the same primitive in one call
// (dsaEncoding 'ieee-p1363' is the JOSE form). Algorithms stay pinned by the caller: the key's own.
import {
  constants,
  type KeyObject,
  type SignKeyObjectInput,
  sign,
  type VerifyKeyObjectInput,
  verify,
} from 'node:crypto';
import type { SigningAlg } from './signing-keys';

/** The digest of each algorithm (RFC 7518 §3.1). */
const DIGEST: Record<SigningAlg, string> = {
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
  RS256: 'sha256',
  PS256: 'sha256',
};

/** The key as node:crypto must see it for `alg`: ECDSA in the JOSE encoding, RSA padding by name. */
function keyFor(alg: SigningAlg, key: KeyObject): SignKeyObjectInput & VerifyKeyObjectInput {
  if (alg === 'PS256')
    return {
      key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    };
  if (alg === 'RS256') return { key, padding: constants.RSA_PKCS1_PADDING };
  return { key, dsaEncoding: 'ieee-p1363' };
}

/** A base64url segment without padding (RFC 7515 §2): anything else is not ours. */
const SEGMENT = /^[A-Za-z0-9_-]+$/;

/** A protected header or payload: base64url of its JSON (RFC 7515 §7.1). */
export const encodeSegment = (value: unknown): string =>
  Buffer.from(JSON.stringify(value)).toString('base64url');

/** The JSON object a segment encodes, or undefined when it is not one (arrays included). */
export function decodeSegment(segment: string): Record<string, unknown> | undefined {
  if (!SEGMENT.test(segment)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A compact JWS of `payload` under an already encoded protected header, signed with `alg`. */
export function signCompact(
  alg: SigningAlg,
  privateKey: KeyObject,
  encodedHeader: string,
  payload: unknown,
): string {
  const input = `${encodedHeader}.${encodeSegment(payload)}`;
  const signature = sign(DIGEST[alg], Buffer.from(input), keyFor(alg, privateKey));
  return `${input}.${signature.toString('base64url')}`;
}

/** Whether `signature` (base64url) is `alg`'s signature of `signingInput` (header.payload) by `publicKey`. */
export function signatureVerifies(
  alg: SigningAlg,
  publicKey: KeyObject,
  signingInput: string,
  signature: string,
): boolean {
  if (!SEGMENT.test(signature)) return false;
  try {
    return verify(
      DIGEST[alg],
      Buffer.from(signingInput),
      keyFor(alg, publicKey),
      Buffer.from(signature, 'base64url'),
    );
  } catch {
    // A signature of the wrong size for the curve, or a key of another type than alg's.
    return false;
  }
}
