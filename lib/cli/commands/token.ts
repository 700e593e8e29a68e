// `tokenward token introspect|revoke`: operator actions on any token, whatever client holds it.
import type { Command } from 'commander';
import type { Ctx } from '../context';
import { fields, time } from '../format';
import { type Checking, CliError, EXIT } from '../session';

const TOKEN_HELP = "the token, or '-' to read it from stdin (keeps it out of history and ps)";

/** The payload of a JWT, unverified (only to explain a refusal), or undefined. */
function unverifiedClaims(token: string): { iss?: unknown; aud?: unknown } | undefined {
  const payload = token.split('.')[1];
  if (token.split('.').length !== 3 || !payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
    return typeof claims === 'object' && claims !== null ? claims : undefined;
  } catch {
    return undefined;
  }
}

export function registerToken(program: Command, ctx: Ctx): void {
  const token = program
    .command('token')
    .description('introspect or revoke an access or refresh token')
    .addHelpText(
      'after',
      '\nAccess tokens are checked against the issuer and audience the server noted in the store at\n' +
        'start-up; --issuer and --audience override them (needed when several servers share the store).\n' +
        'Example:\n  printf %s "$TOKEN" | tokenward token introspect -',
    );

  const read = (value: string) => (value === '-' ? ctx.stdin('token') : Promise.resolve(value));

  /**
   * Say which issuer tokens are checked against when it is a guess, and refuse to guess between
   * several servers: a wrong issuer makes every valid access token read as inactive.
   */
  const checked = async (): Promise<Checking> => {
    const c = await ctx.checking();
    const known = c.deployments.map((d) => d.issuer);
    if (c.source === 'default' && known.length > 1)
      throw new CliError(
        EXIT.usage,
        `servers with several issuers use this store (${known.join(', ')}): pass --issuer <url>`,
      );
    if (c.source === 'default')
      warn(
        `no server has noted its issuer in this store yet (a server does when auth.router() is built): checking access tokens against ${c.issuer}; pass --issuer if that is not the server's`,
      );
    else if (c.source === 'option' && known.length > 0 && !known.includes(c.issuer))
      warn(
        `--issuer ${c.issuer} is not an issuer the servers on this store noted (${known.join(', ')}): their access tokens will read as not active`,
      );
    return c;
  };
  const warn = (message: string) => ctx.io.stderr.write(`warning: ${message}\n`);

  /** Why an access token may have read as inactive: its iss or aud is not what the CLI checks. */
  const mismatch = async (t: string, c: Checking): Promise<string | undefined> => {
    const claims = unverifiedClaims(t);
    if (!claims) return undefined;
    if (claims.iss !== undefined && claims.iss !== c.issuer)
      return `the token's iss is ${JSON.stringify(claims.iss)}, not ${JSON.stringify(c.issuer)}: pass --issuer ${claims.iss}`;
    // A registered resource's URI is an audience the server issues too (RFC 8707).
    const aud = claims.aud;
    if (typeof aud !== 'string' || aud === c.audience) return undefined;
    if (await (await ctx.admin()).getResource(aud)) return undefined;
    return `the token's aud is ${JSON.stringify(aud)}, neither ${JSON.stringify(c.audience)} nor a registered resource: pass --audience`;
  };

  token
    .command('introspect')
    .description('show what introspection answers (RFC 7662); exit 1 when the token is not active')
    .argument('<token>', TOKEN_HELP)
    .action(async (value: string) => {
      const t = await read(value);
      const c = await checked();
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
      if (!answer.active) {
        const why = await mismatch(t, c);
        ctx.refuse(why ? `token is not active (${why})` : 'token is not active');
      }
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
      const c = await checked();
      if (!(await (await ctx.admin()).revokeToken(t))) {
        const why = await mismatch(t, c);
        ctx.refuse(
          why
            ? `nothing revoked: ${why}`
            : 'not a token of this server, or expired (nothing revoked)',
        );
      }
      ctx.print({ revoked: true }, () => 'revoked');
    });
}
