// resolveIdentity(): tenants and local users — who a request acts for, decided by the tenant's
// local-user mode as it is now (changing the mode takes effect on the next request).

import type { RequestHandler } from 'express';
import { isUserGrant } from '../core/grant-type';
import type { Identity } from '../types';
import { fail, type GuardContext, verifiedOf } from './guard-context';

/** The `resolveIdentity()` middleware of a guard: sets `req.auth.identity`. */
export function resolveIdentity(ctx: GuardContext): RequestHandler {
  return async function resolveIdentity(req, res, next) {
    try {
      const v = verifiedOf(ctx, req, 'resolveIdentity');
      const c = v.claims;
      let identity: Identity;
      // The mode matters only for tokens carrying a local user, so only they read it.
      if (c.local_user !== undefined && (await ctx.verifier.localUserMode(v)))
        identity = {
          kind: 'local_user',
          id: c.local_user,
          tenantId: c.tenant_id,
          clientId: c.client_id,
        };
      else if (isUserGrant(c.gty)) identity = { kind: 'user', id: c.sub, tenantId: c.tenant_id };
      else identity = { kind: 'client', id: c.client_id, tenantId: c.tenant_id };
      if (req.auth) req.auth.identity = identity;
    } catch (err) {
      return fail(ctx, res, err);
    }
    next();
  };
}
