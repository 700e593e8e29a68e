// Signing keys sealed at rest: AES-256-GCM under a key derived from `keyEncryptionSecret`, so a store dump yields no signing key.
import {
  createCipheriv,
  createDecipheriv,
  hkdfSync,
  type JsonWebKey,
  randomBytes,
} from 'node:crypto';

const VERSION = 'v1';

/**
 * Seals and opens private JWKs kept in the store. The key id is bound in as additional data, so a
 * sealed key cannot be passed off under another kid. Every instance (and the CLI) sharing the
 * store needs the same secret.
 *
 * @example
 * const sealer = new KeySealer(process.env.TOKENWARD_KEY_SECRET!);
 * const sealed = sealer.seal(jwk, kid); // 'v1.<iv>.<ciphertext>.<tag>'
 */
export class KeySealer {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(
      hkdfSync('sha256', secret, 'tokenward/signing-keys', 'aes-256-gcm key', 32),
    );
  }

  seal(jwk: JsonWebKey, kid: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv).setAAD(Buffer.from(kid));
    const ct = Buffer.concat([cipher.update(JSON.stringify(jwk), 'utf8'), cipher.final()]);
    return [VERSION, iv, ct, cipher.getAuthTag()]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join('.');
  }

  /** The private JWK, or undefined when the secret is not the one it was sealed with. */
  open(sealed: string, kid: string): JsonWebKey | undefined {
    const [version, iv, ct, tag] = sealed.split('.');
    if (version !== VERSION || !iv || !ct || !tag) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'))
        .setAAD(Buffer.from(kid))
        .setAuthTag(Buffer.from(tag, 'base64url'));
      const text = Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]);
      return JSON.parse(text.toString('utf8')) as JsonWebKey;
    } catch {
      return undefined;
    }
  }
}
