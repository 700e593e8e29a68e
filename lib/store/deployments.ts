// Deployment records: each server serving HTTP on a store notes its issuer and audience there, so
// that the CLI, which reads the same store, checks tokens as that server does.

import type { DeploymentRecord } from './store';

/**
 * Whether `next` says something `stored` does not: a server starting again as it was writes
 * nothing (another instance with a wrong key secret, say, must leave the store as it found it).
 */
export function changedDeployment(stored: DeploymentRecord, next: DeploymentRecord): boolean {
  return stored.audience !== next.audience;
}

/** Most recently changed first. */
export function byRecency(records: DeploymentRecord[]): DeploymentRecord[] {
  return records.sort((a, b) => b.seenAt - a.seenAt);
}
