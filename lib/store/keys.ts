// Redis key builders: every key of one grant shares the hash tag {g:<id>} so each script touches one slot.

/** Builds the keys RedisStore uses under `prefix` (which must not contain braces). */
export function redisKeys(prefix: string) {
  const reg = `${prefix}{reg}`;
  return {
    grant: (id: string) => `${prefix}{g:${id}}`,
    /** SET of hashes of every refresh token issued in the family (reuse detection). */
    issued: (id: string) => `${prefix}{g:${id}}:rts`,
    tenant: (id: string) => `${reg}:tenant:${id}`,
    tenants: `${reg}:tenants`,
    client: (id: string) => `${reg}:client:${id}`,
    clients: `${reg}:clients`,
    scope: (name: string) => `${reg}:scope:${name}`,
    scopes: `${reg}:scopes`,
    /** Users are tagged per tenant so one tenant's users share a slot, not the whole registry. */
    user: (tenantId: string, username: string) => `${prefix}{u:${tenantId}}:user:${username}`,
    users: (tenantId: string) => `${prefix}{u:${tenantId}}:users`,
    signingKeys: `${prefix}{keys}`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
