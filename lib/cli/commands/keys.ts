// `tokenward keys rotate`: start signing with a new key; the old public key stays published.
import type { Command } from 'commander';
import type { Ctx } from '../context';

export function registerKeys(program: Command, ctx: Ctx): void {
  const keys = program.command('keys').description('signing keys');
  keys
    .command('rotate')
    .description(
      'generate a new signing key; the previous public key stays in the JWKS until the tokens ' +
        'it signed have expired, and other instances pick the new key up within 60 s',
    )
    .action(async () => {
      const kid = await (await ctx.admin()).rotateKeys();
      ctx.print({ kid }, () => `kid: ${kid}`);
    });
}
