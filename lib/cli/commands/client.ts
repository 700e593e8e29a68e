// `tokenward client list|get|set|delete|revoke`: registered clients, their grants, scopes and secret.
import { type Command, Option } from 'commander';
import type { ClientView, GrantType } from '../../index';
import { type Ctx, listOption, stringOption } from '../context';
import { fields, table } from '../format';
import { CliError, EXIT } from '../session';

interface SetOptions {
  tenant?: string;
  name?: string;
  secret?: string;
  secretStdin?: boolean;
  public?: boolean;
  grant?: string[];
  scope?: string[];
  localUsers?: boolean;
  introspect?: boolean;
  introspectAllTenants?: boolean;
  ccRefresh?: boolean;
  redirectUri?: string[];
  dpop?: 'allowed' | 'required';
}

const flags = (c: ClientView) =>
  [
    c.localUsers && 'local-users',
    c.introspect && 'introspect',
    c.introspectAllTenants && 'introspect-all-tenants',
    c.clientCredentialsRefresh && 'cc-refresh',
    c.dpop === 'required' && 'dpop-required',
  ].filter(Boolean);

const show = (c: ClientView) =>
  fields({
    id: c.id,
    tenantId: c.tenantId,
    name: c.name ?? '',
    type: c.public ? 'public' : 'confidential',
    grants: c.grants,
    scopes: c.scopes,
    localUsers: c.localUsers,
    introspect: c.introspect,
    introspectAllTenants: c.introspectAllTenants === true,
    clientCredentialsRefresh: c.clientCredentialsRefresh,
    redirectUris: c.redirectUris ?? [],
    dpop: c.dpop ?? 'allowed',
  });

const SECRET_HELP = `
The secret is stored as a scrypt hash and never shown; an update that gives none keeps it.
--secret puts the secret in shell history and in the process list (ps): prefer --secret-stdin.`;

const EXAMPLES = `
Examples:
  printf %s "$SVC_SECRET" | tokenward client set svc --tenant acme --secret-stdin \\
    --grant client_credentials --scope print scan --local-users
  tokenward client set web-app --tenant acme --public --grant authorization_code refresh_token \
    --redirect-uri https://app.example.com/callback --scope print`;

export function registerClient(program: Command, ctx: Ctx): void {
  const client = program
    .command('client')
    .description('list, show, create/update and delete clients')
    .addHelpText('after', EXAMPLES);

  client
    .command('list')
    .description('list every client')
    .action(async () => {
      const clients = await (await ctx.admin()).listClients();
      ctx.print(clients, () =>
        table(
          ['id', 'tenant', 'type', 'grants', 'scopes', 'flags'],
          clients.map((c) => [
            c.id,
            c.tenantId,
            c.public ? 'public' : 'confidential',
            c.grants,
            c.scopes,
            flags(c),
          ]),
          'no clients',
        ),
      );
    });

  client
    .command('get')
    .description('show one client, never its secret (exit 1 when it does not exist)')
    .argument('<id>', 'client id')
    .action(async (id: string) => {
      const c = (await (await ctx.admin()).getClient(id)) ?? ctx.refuse(`client "${id}" not found`);
      ctx.print(c, () => show(c));
    });

  client
    .command('set')
    .description('create a client, or update it (options not given keep their current value)')
    .argument('<id>', 'client id: [A-Za-z0-9._:-]{1,128}')
    .option('--tenant <tenant>', 'tenant id (required for a new client)')
    .option('--name <name>', "display name ('' clears it)")
    .addOption(
      new Option(
        '--secret <secret>',
        'client secret, 16+ characters (visible in ps and history!)',
      ).conflicts(['secretStdin', 'public']),
    )
    .addOption(
      new Option('--secret-stdin', 'read the client secret from stdin').conflicts('public'),
    )
    .option(
      '--public',
      'a public client: no secret; authorization_code, password and refresh_token grants only',
    )
    .option(
      '--grant <grant...>',
      'grant types: authorization_code, client_credentials, password (legacy), refresh_token (repeatable)',
    )
    .option(
      '--redirect-uri <uri...>',
      "with authorization_code: where codes may be sent, matched exactly (repeatable; '' clears them)",
    )
    .option('--scope <scope...>', "scopes the client may be issued (repeatable; '' clears them)")
    .option(
      '--local-users',
      'may send local_user with client_credentials (tenants and local users)',
    )
    .option('--no-local-users', 'may not (the default for a new client)')
    .option('--introspect', 'may call the introspection endpoint (RFC 7662)')
    .option('--no-introspect', 'may not (the default for a new client)')
    .option(
      '--introspect-all-tenants',
      "with --introspect: may introspect access tokens of every tenant, not only the client's own",
    )
    .option('--no-introspect-all-tenants', "only its own tenant's (the default for a new client)")
    .option('--cc-refresh', 'client_credentials also issues a refresh token')
    .option('--no-cc-refresh', 'it does not (the default for a new client)')
    .addOption(
      new Option(
        '--dpop <mode>',
        'required: every token request must carry a DPoP proof (RFC 9449), so all its tokens are bound to its key; allowed (the default): optional',
      ).choices(['allowed', 'required']),
    )
    .addHelpText('after', SECRET_HELP + EXAMPLES)
    .action(async (id: string, opts: SetOptions) => {
      const secret = opts.secretStdin ? await ctx.stdin('client secret') : opts.secret;
      const admin = await ctx.admin();
      const current = await admin.getClient(id);
      const tenantId = opts.tenant ?? current?.tenantId;
      if (tenantId === undefined)
        throw new CliError(EXIT.usage, `--tenant is required for a new client ("${id}")`);
      const isPublic = opts.public ?? (secret === undefined && (current?.public ?? false));
      const saved = await admin.upsertClient({
        id,
        tenantId,
        name: stringOption(opts.name, current?.name),
        ...(secret !== undefined ? { secret } : {}),
        public: isPublic,
        grants: (listOption(opts.grant) ?? current?.grants ?? []) as GrantType[],
        scopes: listOption(opts.scope, /\s+/) ?? current?.scopes ?? [],
        localUsers: opts.localUsers ?? current?.localUsers ?? false,
        introspect: opts.introspect ?? current?.introspect ?? false,
        introspectAllTenants: opts.introspectAllTenants ?? current?.introspectAllTenants ?? false,
        clientCredentialsRefresh: opts.ccRefresh ?? current?.clientCredentialsRefresh ?? false,
        redirectUris: listOption(opts.redirectUri, /\s+/) ?? current?.redirectUris ?? [],
        dpop: opts.dpop ?? current?.dpop ?? 'allowed',
      });
      ctx.print(saved, () => show(saved));
    });

  client
    .command('delete')
    .description('delete a client and end every grant it holds (exit 1 when it does not exist)')
    .argument('<id>', 'client id')
    .action(async (id: string) => {
      if (!(await (await ctx.admin()).deleteClient(id))) ctx.refuse(`client "${id}" not found`);
      ctx.print({ deleted: true, id }, () => `deleted client ${id}`);
    });

  client
    .command('revoke')
    .description(
      "end every grant of a client, its own and its users': refresh tokens stop working and guards refuse its access tokens at once",
    )
    .argument('<id>', 'client id')
    .action(async (id: string) => {
      const ended = await (await ctx.admin()).revokeClientGrants(id);
      ctx.print(
        { id, grantsEnded: ended },
        () => `ended ${ended} grant${ended === 1 ? '' : 's'} of client ${id}`,
      );
    });
}
