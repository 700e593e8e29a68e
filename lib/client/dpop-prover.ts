// The TokenManager's DPoP state (RFC 9449): the device key, loaded once, and the latest server nonce of each origin.
import type { MillisecondClock } from '../core/clock';
import { DPOP_NONCE } from '../core/headers';
import { createProof, type DpopKey, jwkThumbprint } from './dpop';

/** A nonce as RFC 9449 §8.1 allows it (`1*NQCHAR`), and no longer than any server needs. */
const NONCE = /^[\x21\x23-\x5b\x5d-\x7e]{1,512}$/;

/**
 * Makes the proofs of one TokenManager. The key comes from `loadKey` on first use (IndexedDB in
 * browsers, the TokenStorage in Node) and is kept; nonces are kept in memory per origin, the
 * authorization server's and each resource server's apart, as each hands out its own.
 */
export class DpopProver {
  private key: Promise<DpopKey> | undefined;
  private readonly nonces = new Map<string, string>();

  constructor(
    private readonly loadKey: () => Promise<DpopKey>,
    private readonly clock: MillisecondClock,
  ) {}

  /** The device key, loaded once (again after a failure). */
  deviceKey(): Promise<DpopKey> {
    this.key ??= this.loadKey().catch((err: unknown) => {
      this.key = undefined;
      throw err;
    });
    return this.key;
  }

  /** RFC 7638 thumbprint of the device key: what the server binds the tokens to (`cnf.jkt`). */
  async thumbprint(): Promise<string> {
    return jwkThumbprint((await this.deviceKey()).jwk);
  }

  /** A fresh proof (new `jti`) for `method url`, with this origin's latest nonce and `ath` of `accessToken`. */
  async proof(method: string, url: string, accessToken?: string): Promise<string> {
    const nonce = this.nonces.get(new URL(url).origin);
    return createProof(await this.deviceKey(), {
      method,
      url,
      iat: Math.floor(this.clock() / 1000),
      ...(nonce !== undefined ? { nonce } : {}),
      ...(accessToken !== undefined ? { accessToken } : {}),
    });
  }

  /**
   * Keep the `DPoP-Nonce` a response from `url` carries, on success or error alike (RFC 9449 §8.2:
   * a server may hand out the next nonce with any answer). Returns whether it carried one.
   */
  observe(url: string, res: Response): boolean {
    const nonce = res.headers.get(DPOP_NONCE)?.trim();
    if (nonce === undefined || !NONCE.test(nonce)) return false;
    this.nonces.set(new URL(url).origin, nonce);
    return true;
  }
}
