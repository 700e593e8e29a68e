// DPoP at the token endpoint (RFC 9449 §5): read and check the request's proof, spend its jti, hand out nonces.
import type { Request, Response } from 'express';
import { DPOP_NONCE } from '../core/headers';
import { OAuthError } from '../errors';
import { headerCount } from '../http/header-count';
import { type CheckedProof, checkDpopProof, ProofRejection } from '../tokens/dpop-proof';
import { ProofReplayCache } from '../tokens/dpop-replay';
import type { ServerContext } from './context';
import { PATHS } from './metadata';

/** The error answering a refused proof; `use_dpop_nonce` names the nonce to use (RFC 9449 §8). */
export function proofError(ctx: ServerContext, why: ProofRejection): OAuthError {
  const nonces = ctx.config.dpop.nonces;
  return new OAuthError(
    why.error,
    why.detail,
    400,
    nonces ? { [DPOP_NONCE]: nonces.current(ctx.now()) } : {},
  );
}

/**
 * The token endpoint's DPoP proofs: checked against the token endpoint's own URL (from the issuer,
 * never the Host header) and spent once per instance. At the token endpoint a proof only
 * accompanies a credential — a refresh token is spent by its first use — so its replay check is
 * this process's; server nonces bound how long a proof stays usable anywhere.
 */
export class TokenRequestProofs {
  private readonly url: string;
  // Anyone can fill it with proofs of keys of their own: full, it forgets the oldest rather than
  // refuse everyone (a token request's proof comes with a credential, which a replay does not add).
  private readonly spent = new ProofReplayCache(100_000, 'evict');

  constructor(private readonly ctx: ServerContext) {
    this.url = `${ctx.config.issuer}${PATHS.token}`;
  }

  /** Send the current nonce with every token response, when nonces are on. */
  offerNonce(res: Response): void {
    const nonces = this.ctx.config.dpop.nonces;
    if (nonces) res.setHeader(DPOP_NONCE, nonces.current(this.ctx.now()));
  }

  /** The request's checked proof, undefined without one; throws the RFC 9449 error for a bad one. */
  read(req: Request): CheckedProof | undefined {
    const header = req.headers.dpop;
    if (header === undefined) return undefined;
    // RFC 9449 §4.3 item 1: one proof.
    if (typeof header !== 'string' || headerCount(req, 'dpop') !== 1)
      throw new OAuthError('invalid_dpop_proof', 'more than one DPoP header');
    const { dpop } = this.ctx.config;
    const now = this.ctx.now();
    const nonces = dpop.nonces;
    const checked = checkDpopProof(header.trim(), {
      method: 'POST',
      url: this.url,
      now,
      maxAge: dpop.proofMaxAge,
      leeway: dpop.leeway,
      algorithms: dpop.algorithms,
      ...(nonces ? { nonce: (n: string | undefined) => nonces.isCurrent(n, now) } : {}),
    });
    if (checked instanceof ProofRejection) throw proofError(this.ctx, checked);
    if (!this.spent.spend(`${checked.jkt}:${checked.jtiHash}`, checked.expiresAt, now))
      throw new OAuthError('invalid_dpop_proof', 'the proof was used before (jti)');
    return checked;
  }
}
