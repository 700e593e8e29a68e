// `tokenward token introspect|revoke`: operator actions on any token, whatever client holds it.
import type { Command } from 'commander';
import type { Ctx } from '../context';
import { fields, time } from '../format';

const TOKEN_HELP = "the token, or '-' to read it from stdin (keeps it out of history and ps)";

export function registerToken(program: Command, ctx: Ctx): void {
  const token = program
    .command('token')
    .description('introspect or revoke an access or refresh token')
    .addHelpText(
      'after',
      '\nAccess tokens are checked against --issuer (and --audience): give the values the server uses.\n' +
        'Example:\n  printf %s "$TOKEN" | tokenward token introspect -',
    );

  const read = (value: string) => (value === '-' ? ctx.stdin('token') : Promise.resolve(value));

  token
    .command('introspect')
    .description('show what introspection answers (RFC 7662); exit 1 when the token is not active')
    .argument('<token>', TOKEN_HELP)
    .action(async (value: string) => {
      const t = await read(value);
      const answer = await (await ctx.admin()).introspectToken(t);
      ctx.print(answer, () => {
        const { tokenward, exp, iat, ...rest } = answer;
        return fields({
          ...rest,
          iat: iat === undefined ? undefined : time(iat),
          exp: exp === undefined ? undefined : time(exp),
          ...(tokenward?.roles ? { roles: tokenward.roles } : {}),
          ...(tokenward?.local_user_mode !== undefined
            ? { local_user_mode: tokenward.local_user_mode }
            : {}),
        });
      });
      if (!answer.active) ctx.refuse('token is not active');
    });

  token
    .command('revoke')
    .description(
      'revoke a token: a refresh token revokes its whole family, an access token itself ' +
        '(exit 1 when it is not a token of this server, or has expired)',
    )
    .argument('<token>', TOKEN_HELP)
    .action(async (value: string) => {
      const t = await read(value);
      if (!(await (await ctx.admin()).revokeToken(t)))
        ctx.refuse('not a token of this server, or expired (nothing revoked)');
      ctx.print({ revoked: true }, () => 'revoked');
    });
}
