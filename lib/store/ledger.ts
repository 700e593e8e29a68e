// Grant ledgers, shared by both stores: how long a ledger entry and a revoked-before-created id are kept.
import type { GrantRecord, IssuedTokens, LedgerOwner } from './store';

/**
 * Seconds a ledger outlives a change of generation at least, and a grant revoked before it was
 * created stays revoked: far longer than any request between reading a generation and creating
 * the grant it authorized.
 */
export const LEDGER_GRACE_SECONDS = 3600;

/**
 * The epoch second after which a new grant cannot be live in any form (refresh tokens rotate up to
 * `maxExpiresAt`; the last access token issued then lives one access lifetime more).
 */
export function grantHorizon(grant: GrantRecord, tokens: IssuedTokens): number {
  const accessTtl = tokens.accessExpiresAt - grant.createdAt;
  return tokens.refresh ? grant.maxExpiresAt + accessTtl : tokens.accessExpiresAt;
}

/** Whether the owner is a client (else a tenant's user). */
export function isClientOwner(owner: LedgerOwner): owner is { clientId: string } {
  return 'clientId' in owner;
}
