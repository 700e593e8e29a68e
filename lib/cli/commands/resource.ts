// `tokenward resource list|get|set|delete`: resource servers (RFC 8707) and the services they serve.
import type { Command } from 'commander';
import type { ResourceRecord } from '../../index';
import { type Ctx, listOption, stringOption } from '../context';
import { fields, table } from '../format';

const show = (r: ResourceRecord) =>
  fields({ uri: r.uri, services: r.services, name: r.name ?? '' });

const HELP = `
A resource server is registered by its URI, an https URL (http only for localhost) without query
or fragment, compared exactly as written. A token request naming it as \`resource\` (RFC 8707) gets
an access token whose aud is that URI, with only the scopes whose service it serves; the guard of
that resource server uses the same URI as its \`audience\`.

Example:
  tokenward resource set https://print.example --service print --name "Cloud Print"`;

export function registerResource(program: Command, ctx: Ctx): void {
  const resource = program
    .command('resource')
    .description('list, show, create/update and delete resource servers (RFC 8707 audiences)')
    .addHelpText('after', HELP);

  resource
    .command('list')
    .description('list every resource server')
    .action(async () => {
      const resources = await (await ctx.admin()).listResources();
      ctx.print(resources, () =>
        table(
          ['uri', 'services', 'name'],
          resources.map((r) => [r.uri, r.services, r.name]),
          'no resources',
        ),
      );
    });

  resource
    .command('get')
    .description('show one resource server (exit 1 when it does not exist)')
    .argument('<uri>', 'resource URI, exactly as registered')
    .action(async (uri: string) => {
      const r =
        (await (await ctx.admin()).getResource(uri)) ?? ctx.refuse(`resource "${uri}" not found`);
      ctx.print(r, () => show(r));
    });

  resource
    .command('set')
    .description(
      'register a resource server, or update it (options not given keep their value); ' +
        'changes apply to new token requests, issued families keep their audience and scopes',
    )
    .argument('<uri>', 'resource URI: https (http only for localhost), no query or fragment')
    .option(
      '--service <service...>',
      'services it serves, as scope definitions name them (repeatable; required for a new resource)',
    )
    .option('--name <name>', "display name (RFC 9728 resource_name; '' clears it)")
    .action(async (uri: string, opts: { service?: string[]; name?: string }) => {
      const admin = await ctx.admin();
      const current = await admin.getResource(uri);
      const name = stringOption(opts.name, current?.name);
      const saved = await admin.upsertResource({
        uri,
        services: listOption(opts.service) ?? current?.services ?? [],
        ...(name !== undefined ? { name } : {}),
      });
      ctx.print(saved, () => show(saved));
    });

  resource
    .command('delete')
    .description(
      'unregister a resource server: new token requests naming it get invalid_target ' +
        '(exit 1 when it does not exist)',
    )
    .argument('<uri>', 'resource URI, exactly as registered')
    .action(async (uri: string) => {
      if (!(await (await ctx.admin()).deleteResource(uri)))
        ctx.refuse(`resource "${uri}" not found`);
      ctx.print({ deleted: true, uri }, () => `deleted resource ${uri}`);
    });
}
