// Demo records for `npm start` (and tests): tenants acme/globex, four clients, two users, two scopes.
import type { AuthServer } from '../lib';
import type { HostUser } from './host-login';

export const DEMO = {
  printService: { id: 'print-service', secret: 'print-service-secret' },
  mobileApp: { id: 'mobile-app' },
  /** A second app on the same devices (device sessions): the desktop print manager. */
  printApp: { id: 'print-app' },
  kiosk: { id: 'kiosk', secret: 'kiosk-secret-0123456' },
  alice: { username: 'alice', password: 'alice-password' },
  bob: { username: 'bob', password: 'bob-password' },
} as const;

/** The users of the sample's own login page (sample-app/host-login.ts): the demo users of tenant acme. */
export const HOST_USERS: readonly HostUser[] = [
  { tenantId: 'acme', ...DEMO.alice },
  { tenantId: 'acme', ...DEMO.bob },
];

/** Where the demo page at `origin` has `clientId`'s sign-in come back (its redirect URI). */
export function demoCallback(origin: string, clientId: string): string {
  return `${origin}/demo/callback/${clientId}`;
}

/**
 * Upserts the demo data; safe to run again on a persistent (Redis) store. `pageOrigins`: the
 * origins the demo page is served from, whose callbacks the two apps register as redirect URIs.
 */
export async function seedDemo(auth: AuthServer, pageOrigins: readonly string[]): Promise<void> {
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
  // The demo page's two apps sign in through the sample's login page (authorization code + PKCE).
  // The password grant stays for the scripted client (`npm run demo`) and the README's curl lines,
  // which have no browser; it is legacy, for devices without one.
  for (const app of [DEMO.mobileApp, DEMO.printApp])
    await a.upsertClient({
      ...app,
      public: true,
      tenantId: 'acme',
      grants: ['authorization_code', 'refresh_token', 'password'],
      scopes: ['print', 'scan'],
      redirectUris: pageOrigins.map((origin) => demoCallback(origin, app.id)),
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
