// Which grant started a grant (the `gty` claim): a user's sign-in, or a client acting for itself.

/** How a grant started: a user signing in (password or authorization code), or client credentials. */
export type GrantOrigin = 'password' | 'authorization_code' | 'client_credentials';

/** Whether a grant speaks for a user (its `sub` is a username), not for the client itself. */
export const isUserGrant = (gty: unknown): boolean =>
  gty === 'password' || gty === 'authorization_code';

/** Whether `gty` is one tokenward issues. */
export const isGrantOrigin = (gty: unknown): gty is GrantOrigin =>
  gty === 'client_credentials' || isUserGrant(gty);
