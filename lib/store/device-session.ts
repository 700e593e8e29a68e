// Device sessions as RedisStore keeps them: one hash per user, read back into DeviceSessionRecords (MemoryStore builds its own).
import type { DeviceSessionRecord } from './store';

/** Live sessions from a user's sessions hash (fields `<kind>|<device>[|<client>]`, see redis-scripts.ts). */
export function parseDeviceSessions(
  hash: Record<string, string>,
  now: number,
): DeviceSessionRecord[] {
  const byDevice = new Map<string, Record<string, string> & { apps?: never }>();
  const apps = new Map<string, { clientId: string; lastSeen: number }[]>();
  for (const [field, value] of Object.entries(hash)) {
    const [kind, device, client] = field.split('|');
    if (!kind || device === undefined) continue;
    if (kind === 'a' && client !== undefined) {
      const list = apps.get(device) ?? [];
      list.push({ clientId: field.slice(device.length + 3), lastSeen: Number(value) });
      apps.set(device, list);
    } else {
      const rec = byDevice.get(device) ?? {};
      rec[kind] = value;
      byDevice.set(device, rec);
    }
  }
  const out: DeviceSessionRecord[] = [];
  for (const [deviceId, f] of byDevice) {
    const deadline = Number(f.d ?? 0);
    const expiresAt = Number(f.c ?? 0);
    if (!f.i || deadline <= now || expiresAt <= now) continue;
    out.push({
      deviceId,
      sessionId: f.i,
      createdAt: Number(f.b ?? 0),
      lastSeen: Number(f.s ?? 0),
      deadline,
      expiresAt,
      apps: (apps.get(deviceId) ?? []).sort((a, b) => a.clientId.localeCompare(b.clientId)),
      ...(f.k ? { jkt: f.k } : {}),
    });
  }
  return out.sort((a, b) => a.deviceId.localeCompare(b.deviceId));
}
