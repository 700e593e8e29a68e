// `tokenward user list|get|set|delete|revoke`: users of a tenant: their roles, and a password for the legacy password grant.
import type { Command } from 'commander';
import type { UserView } from '../../index';
import { type Ctx, listOption } from '../context';
import { fields, table } from '../format';

const show = (u: UserView) =>
  fields({ tenantId: u.tenantId, username: u.username, roles: u.roles });

export function registerUser(program: Command, ctx: Ctx): void {
  const user = program
    .command('user')
    .description('list, show, create/update and delete users of a tenant')
    .addHelpText(
      'after',
      '\nThe password is read from stdin only, never from the command line:\n' +
        '  printf %s "$ALICE_PASSWORD" | tokenward user set acme alice --password-stdin --role printer',
    );

  user
    .command('list')
    .description("list a tenant's users")
    .requiredOption('--tenant <tenant>', 'tenant id')
    .action(async (opts: { tenant: string }) => {
      const admin = await ctx.admin();
      if (!(await admin.getTenant(opts.tenant))) ctx.refuse(`tenant "${opts.tenant}" not found`);
      const users = await admin.listUsers(opts.tenant);
      ctx.print(users, () =>
        table(
          ['username', 'roles'],
          users.map((u) => [u.username, u.roles]),
          'no users',
        ),
      );
    });

  user
    .command('get')
    .description('show one user (exit 1 when it does not exist)')
    .argument('<tenant>', 'tenant id')
    .argument('<username>', 'username')
    .action(async (tenant: string, username: string) => {
      const u =
        (await (await ctx.admin()).getUser(tenant, username)) ??
        ctx.refuse(`user "${username}" of tenant "${tenant}" not found`);
      ctx.print(u, () => show(u));
    });

  user
    .command('set')
    .description('create a user, or update it (options not given keep their current value)')
    .argument('<tenant>', 'tenant id (must exist)')
    .argument('<username>', 'username: 1-256 printable characters')
    .option(
      '--password-stdin',
      'read the password from stdin (for the legacy password grant; users who sign in through your login need none)',
    )
    .option('--role <role...>', "the user's roles (repeatable; '' clears them)")
    .action(
      async (
        tenant: string,
        username: string,
        opts: { passwordStdin?: boolean; role?: string[] },
      ) => {
        const password = opts.passwordStdin ? await ctx.stdin('password') : undefined;
        const admin = await ctx.admin();
        const current = await admin.getUser(tenant, username);
        const saved = await admin.upsertUser({
          tenantId: tenant,
          username,
          ...(password !== undefined ? { password } : {}),
          roles: listOption(opts.role) ?? current?.roles ?? [],
        });
        ctx.print(saved, () => show(saved));
      },
    );

  user
    .command('delete')
    .description(
      'delete a user and end every grant and device session of theirs (exit 1 when not found)',
    )
    .argument('<tenant>', 'tenant id')
    .argument('<username>', 'username')
    .action(async (tenant: string, username: string) => {
      if (!(await (await ctx.admin()).deleteUser(tenant, username)))
        ctx.refuse(`user "${username}" of tenant "${tenant}" not found`);
      ctx.print({ deleted: true, tenantId: tenant, username }, () => `deleted user ${username}`);
    });

  user
    .command('revoke')
    .description(
      "end every grant of a user, in every app, device-bound or not: refresh tokens stop working and guards refuse the user's access tokens at once (the user can sign in again)",
    )
    .argument('<tenant>', 'tenant id')
    .argument('<username>', 'username')
    .action(async (tenant: string, username: string) => {
      const ended = await (await ctx.admin()).revokeUserGrants(tenant, username);
      ctx.print(
        { tenantId: tenant, username, grantsEnded: ended },
        () => `ended ${ended} grant${ended === 1 ? '' : 's'} of ${username}`,
      );
    });
}
