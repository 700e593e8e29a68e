// Scope parameter handling (RFC 6749 §3.3): syntax, and requested ∩ allowed.
import { SCOPE_TOKEN } from '../core/ids';
import { invalidRequest, OAuthError } from '../errors';

/** Split a scope parameter into distinct tokens; invalid_request on bad syntax. */
export function parseScope(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const tokens = value.split(' ');
  if (value.length > 2048 || !tokens.every((t) => SCOPE_TOKEN.test(t))) {
    throw invalidRequest('malformed scope parameter');
  }
  return [...new Set(tokens)];
}

/** Requested ∩ allowed (all allowed when nothing was requested); invalid_scope when empty. */
export function grantScope(requested: string[] | undefined, allowed: readonly string[]): string {
  if (requested === undefined) return allowed.join(' ');
  const granted = requested.filter((s) => allowed.includes(s));
  if (granted.length === 0)
    throw new OAuthError(
      'invalid_scope',
      'none of the requested scopes is allowed for this client',
    );
  return granted.join(' ');
}
