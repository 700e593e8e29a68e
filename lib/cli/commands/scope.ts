// `tokenward scope list|get|set|delete`: scope definitions, their service and role check.
import type { Command } from 'commander';
import type { ScopeRecord } from '../../index';
import { type Ctx, listOption, stringOption } from '../context';
import { fields, table } from '../format';

const show = (s: ScopeRecord) =>
  fields({ name: s.name, service: s.service ?? '', roleCheck: s.roleCheck, roles: s.roles });

export function registerScope(program: Command, ctx: Ctx): void {
  const scope = program
    .command('scope')
    .description('list, show, create/update and delete scope definitions')
    .addHelpText(
      'after',
      '\nExample:\n  tokenward scope set print --service print --role-check --role printer --role admin',
    );

  scope
    .command('list')
    .description('list every scope definition')
    .action(async () => {
      const scopes = await (await ctx.admin()).listScopes();
      ctx.print(scopes, () =>
        table(
          ['name', 'service', 'role-check', 'roles'],
          scopes.map((s) => [s.name, s.service, s.roleCheck, s.roles]),
          'no scopes',
        ),
      );
    });

  scope
    .command('get')
    .description('show one scope definition (exit 1 when it does not exist)')
    .argument('<name>', 'scope name')
    .action(async (name: string) => {
      const s =
        (await (await ctx.admin()).getScope(name)) ?? ctx.refuse(`scope "${name}" not found`);
      ctx.print(s, () => show(s));
    });

  scope
    .command('set')
    .description('create a scope definition, or update it (options not given keep their value)')
    .argument('<name>', 'scope token (RFC 6749 §3.3)')
    .option('--service <service>', "cloud service the scope grants use of ('' clears it)")
    .option('--role-check', "the token's user must hold one of --role now")
    .option('--no-role-check', 'no role check (the default for a new scope)')
    .option('--role <role...>', "roles admitted by the role check (repeatable; '' clears)")
    .action(
      async (name: string, opts: { service?: string; roleCheck?: boolean; role?: string[] }) => {
        const admin = await ctx.admin();
        const current = await admin.getScope(name);
        const saved = await admin.upsertScope({
          name,
          service: stringOption(opts.service, current?.service),
          roleCheck: opts.roleCheck ?? current?.roleCheck ?? false,
          roles: listOption(opts.role) ?? current?.roles ?? [],
        });
        ctx.print(saved, () => show(saved));
      },
    );

  scope
    .command('delete')
    .description('delete a scope definition (exit 1 when it does not exist)')
    .argument('<name>', 'scope name')
    .action(async (name: string) => {
      if (!(await (await ctx.admin()).deleteScope(name))) ctx.refuse(`scope "${name}" not found`);
      ctx.print({ deleted: true, name }, () => `deleted scope ${name}`);
    });
}
