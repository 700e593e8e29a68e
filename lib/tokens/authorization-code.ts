// Authorization codes (RFC 6749 §4.1.2): sealed, self-contained and short-lived. The code carries
// what the authorization request decided, sealed with AES-256-GCM under a key every instance of the
// server derives alike, so that creating one needs no store write and redeeming one is the grant's
// own creation: single use is the grant id inside, which a second redemption finds taken.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** What an authorization request decided, as the token request redeems it. */
export interface CodeContent {
  /** The grant id the redemption creates (carries the user's tag, and `~` when device-bound). */
  grantId: string;
  clientId: string;
  /** The redirect URI of the authorization request, exactly (RFC 6749 §4.1.3). */
  redirectUri: string;
  /** The PKCE S256 code challenge (RFC 7636 §4.2). */
  challenge: string;
  tenantId: string;
  username: string;
  scope: string;
  deviceId?: string;
  /** The resource indicator asked for (RFC 8707). */
  resource?: string;
  /** RFC 9449 §10 `dpop_jkt`: the redemption must carry a proof of this key. */
  jkt?: string;
  /** The user's grant-ledger generation when they were authenticated. */
  generation: string;
  /** Epoch seconds after which the code is refused. */
  expiresAt: number;
}

const VERSION = 'c2';

/** The sealed array: eleven strings in CodeContent's order ('' for no device, resource or key), then the expiry. */
type SealedFields = [
  ...[string, string, string, string, string],
  ...[string, string, string, string, string],
  string,
  number,
];

/** Seals and opens codes; `secret` is the same on every instance, the issuer is bound in. */
export class CodeSealer {
  private readonly key: Buffer;
  private readonly aad: Buffer;

  constructor(secret: string | Buffer, issuer: string) {
    this.key = Buffer.from(
      hkdfSync('sha256', secret, 'tokenward/authorization-codes', 'aes-256-gcm key', 32),
    );
    this.aad = Buffer.from(issuer);
  }

  seal(content: CodeContent): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv).setAAD(this.aad);
    const body = JSON.stringify([
      content.grantId,
      content.clientId,
      content.redirectUri,
      content.challenge,
      content.tenantId,
      content.username,
      content.scope,
      content.deviceId ?? '',
      content.resource ?? '',
      content.generation,
      content.jkt ?? '',
      content.expiresAt,
    ]);
    const ct = Buffer.concat([cipher.update(body, 'utf8'), cipher.final()]);
    return `${VERSION}${Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64url')}`;
  }

  /** The content, or undefined for anything not sealed by this server (expiry is the caller's). */
  open(code: string): CodeContent | undefined {
    if (!code.startsWith(VERSION) || code.length > 4096) return undefined;
    const raw = Buffer.from(code.slice(VERSION.length), 'base64url');
    if (raw.length < 12 + 16 + 2) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12))
        .setAAD(this.aad)
        .setAuthTag(raw.subarray(raw.length - 16));
      const text = Buffer.concat([
        decipher.update(raw.subarray(12, raw.length - 16)),
        decipher.final(),
      ]).toString('utf8');
      const [
        grantId,
        clientId,
        redirectUri,
        challenge,
        tenantId,
        username,
        scope,
        device,
        resource,
        generation,
        jkt,
        expiresAt,
      ] = JSON.parse(text) as SealedFields;
      return {
        grantId,
        clientId,
        redirectUri,
        challenge,
        tenantId,
        username,
        scope,
        ...(device ? { deviceId: device } : {}),
        ...(resource ? { resource } : {}),
        ...(jkt ? { jkt } : {}),
        generation,
        expiresAt,
      };
    } catch {
      return undefined;
    }
  }
}
