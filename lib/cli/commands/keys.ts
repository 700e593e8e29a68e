// `tokenward keys rotate`: start signing with a new key; the old public key stays published.
import type { Command } from 'commander';
import type { SigningKeyRecord } from '../../store/store';
import { KeySealer } from '../../tokens/key-sealing';
import type { Ctx } from '../context';
import { CliError, EXIT } from '../session';

const SECRET = 'TOKENWARD_KEY_SECRET';

/**
 * Why writing a new key would be unsafe, or undefined when it is not. A clear key is never written
 * where sealed ones exist (the servers would find a key anyone reading Redis can use), nor into an
 * empty store unless `--insecure-clear-keys` says so; a secret that does not open the active key
 * is not the servers' one, and a key sealed with it would sign nothing.
 */
function refusal(
  keys: readonly SigningKeyRecord[],
  secret: string | undefined,
  insecureClearKeys: boolean,
): string | undefined {
  const active = keys.find((k) => k.retiredAt === undefined);
  if (secret !== undefined) {
    if (insecureClearKeys)
      return `--insecure-clear-keys and ${SECRET} conflict: with the secret the new key is sealed`;
    if (
      active?.sealedPrivateJwk &&
      !new KeySealer(secret).open(active.sealedPrivateJwk, active.kid)
    )
      return `${SECRET} does not open the active signing key: set it to the servers' keyEncryptionSecret`;
    return undefined;
  }
  if (keys.some((k) => k.sealedPrivateJwk !== undefined))
    return `the signing keys in this store are sealed: set ${SECRET} to the servers' keyEncryptionSecret, so that the new key is sealed too`;
  if (!insecureClearKeys)
    return `set ${SECRET} to the servers' keyEncryptionSecret to seal the new key; --insecure-clear-keys writes it in the clear (development only)`;
  return undefined;
}

export function registerKeys(program: Command, ctx: Ctx): void {
  const keys = program.command('keys').description('signing keys');
  keys
    .command('rotate')
    .description(
      'generate a new signing key; the previous public key stays in the JWKS until the tokens ' +
        'it signed have expired, and other instances pick the new key up within 60 s. The new ' +
        `private key is sealed with ${SECRET} (the servers' keyEncryptionSecret, required)`,
    )
    .option(
      '--insecure-clear-keys',
      `development only: without ${SECRET}, store the new private key in the clear (refused where sealed keys exist)`,
    )
    .action(async (options: { insecureClearKeys?: boolean }) => {
      const secret = ctx.io.env[SECRET] || undefined;
      const stored = await (await ctx.store()).getSigningKeys();
      const why = refusal(stored, secret, options.insecureClearKeys === true);
      if (why) throw new CliError(EXIT.usage, why);
      const kid = await (await ctx.admin()).rotateKeys();
      ctx.print({ kid }, () => `kid: ${kid}`);
    });
}
