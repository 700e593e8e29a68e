// Server-provided DPoP nonces (RFC 9449 §8): stateless, so that a nonce from one instance is valid on every other.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * Nonces that name a time step and carry a MAC of it under a key every instance derives alike: a
 * nonce is current during its step and the next one (so `stepSeconds` to twice that), and checking
 * one reads no state.
 *
 * @example
 * const nonces = new DpopNonces(secret, issuer);
 * res.setHeader('DPoP-Nonce', nonces.current(now)); // … later: nonces.isCurrent(proofNonce, now)
 */
export class DpopNonces {
  private readonly key: Buffer;

  constructor(
    secret: string | Buffer,
    private readonly issuer: string,
    private readonly stepSeconds = 60,
  ) {
    this.key = Buffer.from(hkdfSync('sha256', secret, '', 'tokenward dpop nonce v1', 32));
  }

  private mac(step: number): Buffer {
    return createHmac('sha256', this.key)
      .update(`${this.issuer}\n${step}`)
      .digest()
      .subarray(0, 16);
  }

  /** The nonce to hand out now. */
  current(now: number): string {
    const step = Math.floor(now / this.stepSeconds);
    return `${step.toString(36)}.${this.mac(step).toString('base64url')}`;
  }

  /** Whether `nonce` was handed out in this step or the one before. */
  isCurrent(nonce: string | undefined, now: number): boolean {
    if (nonce === undefined || nonce.length > 64) return false;
    const m = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{22})$/.exec(nonce);
    if (!m?.[1] || !m[2]) return false;
    const step = Number.parseInt(m[1], 36);
    const nowStep = Math.floor(now / this.stepSeconds);
    if (step !== nowStep && step !== nowStep - 1) return false;
    const given = Buffer.from(m[2], 'base64url');
    return given.length === 16 && timingSafeEqual(given, this.mac(step));
  }
}
