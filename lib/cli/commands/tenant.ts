// `tokenward tenant list|get|set|delete`: tenants, to which every client and user belongs.
import type { Command } from 'commander';
import { type TenantRecord, ValidationError } from '../../index';
import { type Ctx, stringOption } from '../context';
import { fields, table } from '../format';

const show = (t: TenantRecord) =>
  fields({ id: t.id, name: t.name ?? '', localUserMode: t.localUserMode });

export function registerTenant(program: Command, ctx: Ctx): void {
  const tenant = program
    .command('tenant')
    .description('list, show, create/update and delete tenants')
    .addHelpText(
      'after',
      '\nExample:\n  tokenward tenant set acme --name "ACME Corp" --local-user-mode',
    );

  tenant
    .command('list')
    .description('list every tenant')
    .action(async () => {
      const tenants = await (await ctx.admin()).listTenants();
      ctx.print(tenants, () =>
        table(
          ['id', 'local-user-mode', 'name'],
          tenants.map((t) => [t.id, t.localUserMode, t.name]),
          'no tenants',
        ),
      );
    });

  tenant
    .command('get')
    .description('show one tenant (exit 1 when it does not exist)')
    .argument('<id>', 'tenant id')
    .action(async (id: string) => {
      const t = (await (await ctx.admin()).getTenant(id)) ?? ctx.refuse(`tenant "${id}" not found`);
      ctx.print(t, () => show(t));
    });

  tenant
    .command('set')
    .description('create a tenant, or update it (options not given keep their current value)')
    .argument('<id>', 'tenant id: [A-Za-z0-9._-]{1,64}')
    .option('--name <name>', "display name ('' clears it)")
    .option(
      '--local-user-mode',
      "turn local-user mode on: tokens' local_user becomes the request identity",
    )
    .option('--no-local-user-mode', 'turn it off (the default for a new tenant)')
    .action(async (id: string, opts: { name?: string; localUserMode?: boolean }) => {
      const admin = await ctx.admin();
      const current = await admin.getTenant(id);
      const saved = await admin.upsertTenant({
        id,
        name: stringOption(opts.name, current?.name),
        localUserMode: opts.localUserMode ?? current?.localUserMode ?? false,
      });
      ctx.print(saved, () => show(saved));
    });

  tenant
    .command('delete')
    .description('delete a tenant (refused, exit 1, while it has clients or users)')
    .argument('<id>', 'tenant id')
    .action(async (id: string) => {
      let deleted: boolean;
      try {
        deleted = await (await ctx.admin()).deleteTenant(id);
      } catch (err) {
        if (err instanceof ValidationError) ctx.refuse(err.message);
        throw err;
      }
      if (!deleted) ctx.refuse(`tenant "${id}" not found`);
      ctx.print({ deleted: true, id }, () => `deleted tenant ${id}`);
    });
}
