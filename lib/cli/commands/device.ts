// `tokenward device list|revoke|revoke-all`: a user's device sessions, shared by every app on a device.
import type { Command } from 'commander';
import type { Ctx } from '../context';
import { table, time } from '../format';

export function registerDevice(program: Command, ctx: Ctx): void {
  const device = program
    .command('device')
    .description("list and end a user's device sessions")
    .addHelpText(
      'after',
      '\nEnding a device session refuses every token of it, in every app, from the next request.',
    );

  device
    .command('list')
    .description("list a user's live device sessions (exit 1 when the user does not exist)")
    .argument('<tenant>', 'tenant id')
    .argument('<username>', 'username')
    .action(async (tenant: string, username: string) => {
      const admin = await ctx.admin();
      if (!(await admin.getUser(tenant, username)))
        ctx.refuse(`user "${username}" of tenant "${tenant}" not found`);
      const sessions = await admin.listDeviceSessions(tenant, username);
      ctx.print(sessions, () =>
        table(
          ['device', 'apps', 'key-bound', 'last-seen', 'idle-deadline', 'expires', 'session'],
          sessions.map((s) => [
            s.deviceId,
            s.apps.map((a) => a.clientId),
            // RFC 9449: the session belongs to the DPoP key that started it (its thumbprint).
            s.jkt ?? 'no',
            time(s.lastSeen),
            time(s.deadline),
            time(s.expiresAt),
            s.sessionId,
          ]),
          'no device sessions',
        ),
      );
    });

  device
    .command('revoke')
    .description('end one device session (exit 1 when there is none for the device)')
    .argument('<tenant>', 'tenant id')
    .argument('<username>', 'username')
    .argument('<deviceId>', 'device id (as sent in device_id at sign-in)')
    .action(async (tenant: string, username: string, deviceId: string) => {
      const revoked = await (await ctx.admin()).revokeDeviceSession(tenant, username, deviceId);
      if (!revoked) ctx.refuse(`no device session of "${username}" on device "${deviceId}"`);
      ctx.print({ revoked: true, deviceId }, () => `ended the session on device ${deviceId}`);
    });

  device
    .command('revoke-all')
    .description("end all of a user's device sessions")
    .argument('<tenant>', 'tenant id')
    .argument('<username>', 'username')
    .action(async (tenant: string, username: string) => {
      const count = await (await ctx.admin()).revokeDeviceSessions(tenant, username);
      ctx.print({ revoked: count }, () => `ended ${count} device session(s)`);
    });
}
