// Refresh tokens: `<grantId>.<gen>~<secret>`; the store sees only a digest, which lets it tell an earlier token of the family from a forgery.
import { randomId, sha256 } from './secrets';

// The grant id is 22 characters, or `<22>~<22>` / `<22>.<22>` for users' grants (grant-id.ts).
const GRANT = '[A-Za-z0-9_-]{22}(?:[~.][A-Za-z0-9_-]{22})?';
/**
 * `<grantId>.<gen>~<random 43><family secret 22>`: the grant id is still everything before the last
 * dot, as in every token before generations.
 */
const FORMAT = new RegExp(
  `^(${GRANT})\\.(0|[1-9][0-9]{0,8})~([A-Za-z0-9_-]{43})([A-Za-z0-9_-]{22})$`,
);
/** Tokens issued before generations: `<grantId>.<random 43>`, digest = SHA-256 of the token. */
const LEGACY = new RegExp(`^(${GRANT})\\.([A-Za-z0-9_-]{43})$`);

/**
 * A presented refresh token, split. `hash` is its digest, all the store ever sees:
 * `<id>.<gen>.<proof>` where `id` (128 bits of SHA-256 of the token) names this token, `gen` is
 * its generation in the family (0 at sign-in, +1 per rotation) and `proof` (SHA-256 of the family
 * secret every token of the family carries) shows it belongs to the family. A legacy token's
 * digest is the SHA-256 of the token alone.
 */
export interface ParsedRefreshToken {
  grantId: string;
  hash: string;
  /** Its generation; undefined for a legacy token (one from before generations). */
  generation?: number;
  /** The family secret it carries; undefined for a legacy token. */
  familySecret?: string;
}

/**
 * The digest of a token of generation `gen` in a family: a reuse of any earlier token is detected
 * with O(1) state per family. The store keeps the current digest's `id`, the generation and the
 * family `proof`; a token whose generation is not later than the family's and which carries the
 * family's proof is a genuine earlier token (replayed: the family is revoked, RFC 9700 §4.14.2),
 * anything else is unknown and changes nothing: knowing the grant id (it is in every access
 * token) does not let anyone revoke the family. The store keeps only hashes: a dump of it can
 * forge no token, not even an earlier one (the family secret is not stored, only its SHA-256).
 */
function digest(grantId: string, token: string, gen: number, familySecret: string): string {
  const id = sha256(token).slice(0, 22);
  const proof = sha256(`${grantId}.${familySecret}`).slice(0, 22);
  return `${id}.${gen}.${proof}`;
}

function build(grantId: string, gen: number, familySecret: string) {
  const token = `${grantId}.${gen}~${randomId(32)}${familySecret}`;
  return { token, hash: digest(grantId, token, gen, familySecret) };
}

/**
 * The root refresh token of a new family (generation 0): 256 random bits and a new 128-bit family
 * secret after the grant id, and its digest for the store.
 *
 * @example const { token, hash } = newRefreshToken(grant.id); // RFC 6749 §1.5
 */
export function newRefreshToken(grantId: string): { token: string; hash: string } {
  return build(grantId, 0, randomId(16));
}

/**
 * The token a rotation of `presented` issues (RFC 6749 §6): the next generation, new random bits,
 * the same family secret. A legacy token's successor is generation 1 with a new family secret
 * (the store adopts it: see redis-scripts.ts, twRotate).
 *
 * @example const next = nextRefreshToken(parseRefreshToken(token)!);
 */
export function nextRefreshToken(presented: ParsedRefreshToken): { token: string; hash: string } {
  return build(
    presented.grantId,
    (presented.generation ?? 0) + 1,
    presented.familySecret ?? randomId(16),
  );
}

/**
 * Split a presented refresh token, or undefined when it is not one of ours in shape.
 *
 * @example const parsed = parseRefreshToken(params.refresh_token); // parsed?.grantId routes to the family
 */
export function parseRefreshToken(token: string): ParsedRefreshToken | undefined {
  const m = FORMAT.exec(token);
  if (m?.[1] && m[2] && m[4]) {
    const gen = Number(m[2]);
    return {
      grantId: m[1],
      hash: digest(m[1], token, gen, m[4]),
      generation: gen,
      familySecret: m[4],
    };
  }
  const legacy = LEGACY.exec(token);
  return legacy?.[1] ? { grantId: legacy[1], hash: sha256(token) } : undefined;
}

/** A digest split for the store: `generation`/`proof` undefined for a legacy one. */
export interface RefreshDigest {
  id: string;
  generation?: number;
  proof?: string;
}

/**
 * Split a digest from {@link parseRefreshToken} (MemoryStore's twin of the scripts' `digest()`).
 *
 * @example splitDigest(parsed.hash).generation
 */
export function splitDigest(hash: string): RefreshDigest {
  const [id, gen, proof] = hash.split('.');
  return gen !== undefined && proof !== undefined && id !== undefined
    ? { id, generation: Number(gen), proof }
    : { id: hash };
}
