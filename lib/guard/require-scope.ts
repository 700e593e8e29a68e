// requireScope() and requireService(): service scopes and role checks. A scope registered with a role
// check admits only a user holding one of its roles now (read at request time, so removal is immediate).
import type { RequestHandler } from 'express';
import { SCOPE_TOKEN } from '../core/ids';
import { ConfigError } from '../errors';
import { InsufficientScopeError } from './challenge';
import { fail, type GuardContext, verifiedOf } from './guard-context';
import type { VerifiedToken } from './verifier';

const SERVICE = /^[\x21-\x7E]{1,128}$/;

/** Whether the token's user holds one of `roles` now; a token without a user holds none. */
async function holdsRole(ctx: GuardContext, v: VerifiedToken, roles: string[]): Promise<boolean> {
  if (roles.length === 0) return false;
  const held = await ctx.verifier.roles(v);
  return held?.some((r) => roles.includes(r)) === true;
}

/** `requireScope(...scopes)`: every scope held, each passing its role check now. */
export function requireScope(ctx: GuardContext, scopes: string[]): RequestHandler {
  if (scopes.length === 0 || !scopes.every((s) => typeof s === 'string' && SCOPE_TOKEN.test(s)))
    throw new ConfigError('requireScope: give one or more scope names (RFC 6749 §3.3 syntax)');
  const needed = [...new Set(scopes)];
  const scope = needed.join(' ');
  return async function requireScope(req, res, next) {
    try {
      const v = verifiedOf(ctx, req, 'requireScope');
      if (!needed.every((s) => v.scopes.includes(s)))
        throw new InsufficientScopeError(scope, 'the access token lacks a required scope');
      const defs = await ctx.verifier.scopeDefinitions(v);
      for (const def of defs) {
        if (!needed.includes(def.name) || !def.roleCheck) continue;
        if (!(await holdsRole(ctx, v, def.roles)))
          throw new InsufficientScopeError(
            scope,
            `scope ${def.name} requires a role the user does not hold`,
          );
      }
    } catch (err) {
      return fail(ctx, res, err);
    }
    next();
  };
}

/** `requireService(service)`: a held scope naming `service` that admits (no role check, or a role held now). */
export function requireService(ctx: GuardContext, service: string): RequestHandler {
  if (typeof service !== 'string' || !SERVICE.test(service) || service.includes('"'))
    throw new ConfigError('requireService: give a service name (printable, no spaces or quotes)');
  return async function requireService(req, res, next) {
    try {
      const v = verifiedOf(ctx, req, 'requireService');
      const candidates = (await ctx.verifier.scopeDefinitions(v)).filter(
        (d) => d.service === service,
      );
      if (candidates.length === 0) {
        const names = await ctx.verifier.scopesForService(service, v);
        throw new InsufficientScopeError(
          names.length > 0 ? names.join(' ') : service,
          `the access token holds no scope for service ${service}`,
        );
      }
      // Any admitting scope suffices; one without a role check admits with no role lookup.
      if (!candidates.some((d) => !d.roleCheck)) {
        const roles = candidates.flatMap((d) => d.roles);
        if (!(await holdsRole(ctx, v, roles)))
          throw new InsufficientScopeError(
            candidates.map((d) => d.name).join(' '),
            `service ${service} requires a role the user does not hold`,
          );
      }
    } catch (err) {
      return fail(ctx, res, err);
    }
    next();
  };
}
