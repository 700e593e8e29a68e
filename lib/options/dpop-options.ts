// The `dpop` option of createAuthServer: sender-constrained tokens (RFC 9449) at the token endpoint.
import type { KeysEnum } from '../core/known-keys';
import { ConfigError } from '../errors';
import { DpopNonces } from '../tokens/dpop-nonce';
import { DPOP_ALGORITHMS } from '../tokens/dpop-proof';
import { omitUndefined, rejectUnknownKeys, seconds } from './parse';

export interface DpopOptions {
  /**
   * Ask for server nonces (RFC 9449 §8): a proof must carry a nonce this server handed out in a
   * `DPoP-Nonce` header in the last one to two minutes; a proof without one is answered 400
   * `use_dpop_nonce` with the nonce to use. This bounds how long a proof made ahead of time
   * stays usable. Nonces need no store: every instance derives the same key (from
   * `keyEncryptionSecret`, else the first of `keys`, else a MemoryStore's own). Default false.
   */
  nonce?: boolean;
  /** Seconds a proof is accepted after its `iat` (default 60, 5-300). */
  proofMaxAge?: number;
  /** Proof signing algorithms accepted (default: ES256, ES384, ES512, PS256-512, RS256-512). */
  algorithms?: string[];
}

export interface DpopConfig {
  proofMaxAge: number;
  /** Seconds a proof's `iat` may lie ahead of this server's clock. */
  leeway: number;
  algorithms: readonly string[];
  nonces?: DpopNonces;
}

const KNOWN: KeysEnum<DpopOptions> = { nonce: true, proofMaxAge: true, algorithms: true };

/** Validate `dpop`: always on with its defaults; `nonces` when asked for, keyed by `secret`. */
export function parseDpopOptions(
  f: string,
  dpop: DpopOptions | undefined,
  from: { issuer: string; secret: string | Buffer | undefined; clockTolerance: number },
): DpopConfig {
  if (dpop !== undefined && (typeof dpop !== 'object' || dpop === null))
    throw new ConfigError(`${f}: "dpop" must be { nonce?, proofMaxAge?, algorithms? }`);
  rejectUnknownKeys(`${f} dpop`, dpop ?? {}, KNOWN);
  const d = omitUndefined(dpop ?? {});
  if (d.nonce !== undefined && typeof d.nonce !== 'boolean')
    throw new ConfigError(`${f}: "dpop.nonce" must be a boolean`);
  const algorithms = parseDpopAlgorithms(`${f}: "dpop.algorithms"`, d.algorithms);
  if (d.nonce && from.secret === undefined)
    throw new ConfigError(
      `${f}: "dpop.nonce" on a shared store (RedisStore) derives its nonces from "keyEncryptionSecret" (or the first of "keys"), so that every instance accepts them: set one`,
    );
  return {
    proofMaxAge: seconds(f, 'dpop.proofMaxAge', d.proofMaxAge ?? 60, 5, 300),
    leeway: from.clockTolerance,
    algorithms,
    ...(d.nonce && from.secret !== undefined
      ? { nonces: new DpopNonces(from.secret, from.issuer) }
      : {}),
  };
}

/** A list of DPoP proof algorithms, each one tokenward verifies; absent: all of them. */
export function parseDpopAlgorithms(what: string, given: unknown): readonly string[] {
  if (given === undefined) return DPOP_ALGORITHMS;
  if (
    !Array.isArray(given) ||
    given.length === 0 ||
    !given.every((a) => (DPOP_ALGORITHMS as readonly unknown[]).includes(a))
  )
    throw new ConfigError(
      `${what} must be a non-empty list of ${DPOP_ALGORITHMS.join(', ')} (asymmetric algorithms only, RFC 9449 §4.3)`,
    );
  return Object.freeze([...new Set(given as string[])]);
}
