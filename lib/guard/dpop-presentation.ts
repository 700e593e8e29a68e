// DPoP at a resource server (RFC 9449 §7): how the token was presented, and whether its proof binds it to this request.
import type { Request } from 'express';
import { quoted, TokenRejection } from '../core/rejection';
import { headerCount } from '../http/header-count';
import type { GuardDpopConfig } from '../options/guard-options';
import type { AccessTokenClaims } from '../tokens/access-token';
import { type CheckedProof, checkDpopProof, ProofRejection } from '../tokens/dpop-proof';

/** How a request presented its access token: as Bearer, or as DPoP with what its proof must match. */
export type Presentation =
  | { scheme: 'Bearer' }
  | {
      scheme: 'DPoP';
      /** The `DPoP` header; `null` when the request carried more than one. */
      proof: string | undefined | null;
      method: string;
      /** The URL the request was sent to, as the client saw it (scheme and host per `trust proxy`). */
      url: string;
    };

const BEARER: Presentation = Object.freeze({ scheme: 'Bearer' });

/**
 * The host (and port) the client sent the request to: the Host header, or the X-Forwarded-Host
 * Express trusts (`trust proxy`). `req.hostname` honours the setting in Express 4 and 5 but drops
 * the port, so it decides only which header to take.
 */
function requestHost(req: Request): string {
  const host = req.headers.host ?? '';
  const forwarded = req.headers['x-forwarded-host'];
  if (typeof forwarded !== 'string' || forwarded === '') return host;
  const first = forwarded.split(',')[0]?.trim() ?? '';
  const hostnameOf = (h: string) => h.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  return req.hostname === hostnameOf(first) && req.hostname !== hostnameOf(host) ? first : host;
}

/** The presentation of `req`'s token sent with `scheme` (read only for DPoP: Bearer needs nothing). */
export function presentationOf(req: Request, scheme: Presentation['scheme']): Presentation {
  if (scheme === 'Bearer') return BEARER;
  const header = req.headers.dpop;
  return {
    scheme,
    proof: Array.isArray(header) || headerCount(req, 'dpop') > 1 ? null : header,
    method: req.method,
    url: `${req.protocol}://${requestHost(req)}${req.originalUrl}`,
  };
}

/**
 * Check how a verified token was presented (RFC 9449 §7.1): a bound token (`cnf.jkt`) only with
 * the DPoP scheme and a proof of its key for this request and this token (`ath`); an unbound one
 * only as Bearer, and not at all when DPoP is required. Returns the checked proof (to be spent),
 * undefined for an accepted Bearer token, or why it is refused.
 */
export function checkPresentation(
  claims: AccessTokenClaims,
  token: string,
  p: Presentation,
  dpop: GuardDpopConfig,
  now: number,
): CheckedProof | undefined | TokenRejection {
  const bound = claims.cnf?.jkt;
  if (p.scheme === 'Bearer') {
    if (bound !== undefined)
      return new TokenRejection(
        'dpop_bound',
        'the token is bound to a DPoP key (cnf.jkt) but was sent as a Bearer token',
      );
    if (dpop.required)
      return new TokenRejection(
        'dpop_required',
        "this guard accepts DPoP-bound tokens only (dpop: 'required'); the token is a Bearer token",
      );
    return undefined;
  }
  if (bound === undefined)
    return new TokenRejection(
      'not_dpop_bound',
      'the token was sent with the DPoP scheme but is not bound to a key (no cnf.jkt)',
    );
  if (p.proof === null) return new TokenRejection('bad_dpop_proof', 'more than one DPoP header');
  if (p.proof === undefined)
    return new TokenRejection('bad_dpop_proof', 'the DPoP scheme needs a DPoP proof header');
  const checked = checkDpopProof(p.proof.trim(), {
    method: p.method,
    url: p.url,
    now,
    maxAge: dpop.proofMaxAge,
    leeway: dpop.leeway,
    accessToken: token,
    algorithms: dpop.algorithms,
  });
  if (checked instanceof ProofRejection)
    return new TokenRejection(
      'bad_dpop_proof',
      `${checked.detail} (${p.method} ${quoted(p.url.split('?')[0])})`,
    );
  if (checked.jkt !== bound)
    return new TokenRejection(
      'dpop_key_mismatch',
      `the proof is signed with key ${quoted(checked.jkt)}, the token is bound to ${quoted(bound)}`,
    );
  return checked;
}
