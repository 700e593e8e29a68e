// Deployment records: each server serving HTTP on a store notes its issuer and audience there, so
// that the CLI, which reads the same store, checks tokens as that server does.

import type { DeploymentRecord } from './store';

/** Most recently seen first. */
export function byRecency(records: DeploymentRecord[]): DeploymentRecord[] {
  return records.sort((a, b) => b.seenAt - a.seenAt);
}
