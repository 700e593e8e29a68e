// Demo records for `npm start` (and tests): tenants acme/globex, four clients, two users, two scopes.
import type { AuthServer } from '../lib';

export const DEMO = {
  printService: { id: 'print-service', secret: 'print-service-secret' },
  mobileApp: { id: 'mobile-app' },
  /** A second app on the same devices (device sessions): the desktop print manager. */
  printApp: { id: 'print-app' },
  kiosk: { id: 'kiosk', secret: 'kiosk-secret-0123456' },
  alice: { username: 'alice', password: 'alice-password' },
  bob: { username: 'bob', password: 'bob-password' },
} as const;

/** Upserts the demo data; safe to run again on a persistent (Redis) store. */
export async function seedDemo(auth: AuthServer): Promise<void> {
  const a = auth.admin;
  await a.upsertTenant({ id: 'acme', localUserMode: true });
  await a.upsertTenant({ id: 'globex' });
  await a.upsertScope({ name: 'print', service: 'print', roleCheck: true, roles: ['printer'] });
  await a.upsertScope({ name: 'scan', service: 'scan', roleCheck: false });
  await a.upsertClient({
    ...DEMO.printService,
    tenantId: 'acme',
    grants: ['client_credentials'],
    scopes: ['print', 'scan'],
    localUsers: true,
    introspect: true,
    // The print API serves every tenant (globex's kiosk too): its introspection sees them all.
    introspectAllTenants: true,
  });
  await a.upsertClient({
    ...DEMO.mobileApp,
    public: true,
    tenantId: 'acme',
    grants: ['password', 'refresh_token'],
    scopes: ['print', 'scan'],
  });
  await a.upsertClient({
    ...DEMO.printApp,
    public: true,
    tenantId: 'acme',
    grants: ['password', 'refresh_token'],
    scopes: ['print', 'scan'],
  });
  // refresh_token grant too, so the refresh token issued by clientCredentialsRefresh can be used.
  // globex keeps localUserMode off: its kiosk's local users are not identities there.
  await a.upsertClient({
    ...DEMO.kiosk,
    tenantId: 'globex',
    grants: ['client_credentials', 'refresh_token'],
    scopes: ['print'],
    localUsers: true,
    clientCredentialsRefresh: true,
  });
  await a.upsertUser({ tenantId: 'acme', ...DEMO.alice, roles: ['printer'] });
  await a.upsertUser({ tenantId: 'acme', ...DEMO.bob });
}
