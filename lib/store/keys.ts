// Redis key builders: every key of one grant shares a hash tag ({g:<id>}, or its user's {du:<tag>}) so each script touches one slot.
import { isDeviceGrant, tagOfGrant } from '../core/grant-id';

/** Builds the keys RedisStore uses under `prefix` (which must not contain braces). */
export function redisKeys(prefix: string) {
  const reg = `${prefix}{reg}`;
  // Users' grants (`<user tag>~<random>`, `<user tag>.<random>`) share their user's tag with the
  // user's device sessions and grant ledger.
  const grant = (id: string) => {
    const tag = tagOfGrant(id);
    return tag === undefined ? `${prefix}{g:${id}}` : `${prefix}{du:${tag}}:g:${id}`;
  };
  const sessions = (tag: string) => `${prefix}{du:${tag}}:ds`;
  const userLedger = (tag: string) => `${prefix}{du:${tag}}:led`;
  return {
    grant,
    /**
     * A DPoP proof spent with the grant's tokens: set once, gone when the proof could no longer be
     * accepted anyway. A script given it meets it missing, so during a slot migration such a call
     * answers TRYAGAIN (503, retried) until the slot has moved; only DPoP-bound tokens pay that.
     */
    proof: (grantId: string, proofId: string) => `${grant(grantId)}:p:${proofId}`,
    /** A DPoP proof spent with key `jkt` (a remote guard's replayStore), as `proof`. */
    proofOfKey: (jkt: string, proofId: string) => `${prefix}{dp:${jkt}}:${proofId}`,
    /**
     * Where a family keeps what reuse detection needs: its grant hash (the current and previous
     * token, the generation and the family proof; see refresh-token.ts). O(1) at any age.
     */
    issued: (id: string) => grant(id),
    /**
     * SET of the hashes of every refresh token a family from before generations issued in the old
     * format: read (and kept alive) only when such a token is presented; nothing is added to it.
     * Scripts are given it only then, so that they never name a key that does not exist.
     */
    legacyIssued: (id: string) => `${grant(id)}:rts`,
    /** HASH of a user's device sessions (fields `<kind>|<device>[|<client>]`). */
    sessions,
    /**
     * The sessions hash of a device-bound grant's user. Other grants have none and the scripts
     * never touch it for them: they get their own grant key, so that every key a script is given
     * exists. (A key never written would make each call on the grant's slot answer TRYAGAIN for
     * the whole of a slot migration: Redis serves a multi-key command there only when it holds
     * all its keys.)
     */
    sessionsOfGrant: (id: string) => {
      const tag = tagOfGrant(id);
      return tag === undefined || !isDeviceGrant(id) ? grant(id) : sessions(tag);
    },
    /**
     * ZSET ledger of a user's grants (see ledger.ts); `ledgerOfGrant` gives a client's own grant its
     * grant key instead, which the scripts never touch as a ledger (same reason as sessionsOfGrant).
     */
    userLedger,
    ledgerOfGrant: (id: string) => {
      const tag = tagOfGrant(id);
      return tag === undefined ? grant(id) : userLedger(tag);
    },
    /** ZSET ledger of a client's grants, in the client's own slot. */
    clientLedger: (id: string) => `${prefix}{c:${id}}:led`,
    tenant: (id: string) => `${reg}:tenant:${id}`,
    tenants: `${reg}:tenants`,
    client: (id: string) => `${reg}:client:${id}`,
    clients: `${reg}:clients`,
    scope: (name: string) => `${reg}:scope:${name}`,
    scopes: `${reg}:scopes`,
    /** A registered resource server, by its URI (the `{reg}` tag comes first, so braces in it are inert). */
    resource: (uri: string) => `${reg}:resource:${uri}`,
    resources: `${reg}:resources`,
    /** Users are tagged per tenant so one tenant's users share a slot, not the whole registry. */
    user: (tenantId: string, username: string) => `${prefix}{u:${tenantId}}:user:${username}`,
    users: (tenantId: string) => `${prefix}{u:${tenantId}}:users`,
    signingKeys: `${prefix}{keys}`,
    /** HASH issuer → JSON deployment record (the CLI reads it to check tokens as the server does). */
    deployments: `${prefix}{deployments}`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
