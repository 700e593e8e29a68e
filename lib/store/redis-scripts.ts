// Lua scripts, one per atomic RedisStore operation; each touches keys of a single hash tag.
// Twin rule (see store.ts): each script has a twin method in memory-store.ts; change one, change the other.
//
// Grant hash fields: the GrantRecord (GRANT_HASH in grant-hash.ts), rev (revoked), cur/cexp/cjti
// (live refresh token's id, its expiry, access jti issued with it), prev/pat (predecessor's id and
// when it was rotated), gen/fp (the family's generation and proof: see digest() below), aexp
// (latest access-token expiry), x:<jti> (revoked access token), undo (<presented>|<new> ids of an
// abandoned rotation that had taken effect), bn (ids of the successors of abandoned rotations that
// had not, yet: burnt, so that such a rotation, if it still runs, is refused). A family from before
// generations also has a SET of every id issued in it (keys.legacyIssued), read for its old tokens.
// Device-session hash fields, per device: i|<dev> session id, b|<dev> start, c|<dev> absolute end,
// d|<dev> idle deadline, t|<dev> idle seconds, s|<dev> last seen, a|<dev>|<client> app last seen,
// g|<dev>|<grant id> epoch second after which that grant of the session cannot be live (its key's
// expiry): a session ends with the revocation of its last live grant; k|<dev> the thumbprint of the
// DPoP key the session belongs to (RFC 9449), when it was started with one.
import { GRANT_FIELDS, GRANT_HASH, type GrantField, replyLayout } from './grant-hash';
import { defineScript, luaHmget } from './lua-script';

// A refresh token digest (refresh-token.ts): its id, generation and family proof; a legacy digest is
// its id alone. And whether digest `d` is of a token issued in family `g` (fields `f`: cur, prev,
// gen, fp): the current or previous token, an earlier one (generation not past the family's, the
// family's proof: only a holder of a token of the family has it), or a legacy token in the
// family's legacy set `rts` (`g` itself when there is none to read: it is never read then).
const DIGEST = `
local function digest(d)
  local id, gen, proof = string.match(d, '^([^.]+)%.(%d+)%.([^.]+)$')
  if id then return id, tonumber(gen), proof end
  return d, nil, nil
end
`;
const ISSUED_IN = `
local function issuedIn(f, g, rts, d)
  local id, gen, proof = digest(d)
  if id == f.cur or id == f.prev then return true end
  if gen then return proof == f.fp and gen <= (tonumber(f.gen) or 0) end
  return rts ~= g and redis.call('SISMEMBER', rts, id) == 1
end
`;

// Revoke the family of grant `g` (legacy set `rts`, or `g`): keep the hash (marked) until its last access
// token expires. A device-bound grant leaves its device session (`ds`, the user's sessions hash),
// which ends if no other live grant of it is left: returns 1 then, else 0. The session comes first:
// should Redis refuse its key (a cluster slot migrating), the script stops having changed nothing.
const REVOKE_FAMILY = `
local function revoke(g, rts, ds, now)
  local ended = 0
  local f = redis.call('HMGET', g, '${GRANT_HASH.id}', '${GRANT_HASH.deviceId}', '${GRANT_HASH.sessionId}')
  if ds and f[1] and f[2] and f[3] then ended = leaveSession(ds, f[2], f[3], f[1], now) end
  local aexp = tonumber(redis.call('HGET', g, 'aexp')) or 0
  local ttl = aexp - now
  if ttl < 1 then ttl = 1 end
  redis.call('HSET', g, 'rev', '1')
  redis.call('HDEL', g, 'cur', 'prev')
  if rts ~= g then redis.call('EXPIRE', rts, ttl) end
  redis.call('EXPIRE', g, ttl)
  return ended
end
`;

// The live deadline of session `ses` on device `dev` (0 when ended or replaced), and its fields.
const SESSION = `
local function session(ds, dev, ses, now)
  ${luaHmget('s', 'ds', [
    ['id', "'i|' .. dev"],
    ['deadline', "'d|' .. dev"],
    ['cap', "'c|' .. dev"],
    ['idle', "'t|' .. dev"],
  ])}
  if s.id ~= ses then return 0, s end
  local dl = tonumber(s.deadline) or 0
  if dl <= now then return 0, s end
  return dl, s
end
`;

// Activity by app `cid` on session fields `s` (from session()): slide the deadline, at most one
// write per second per session.
const TOUCH = `
local function touch(ds, dev, cid, now, dl, s)
  local nd = math.min(now + tonumber(s.idle), tonumber(s.cap))
  if nd <= dl then return dl end
  redis.call('HSET', ds, 'd|' .. dev, nd, 's|' .. dev, now, 'a|' .. dev .. '|' .. cid, now)
  return nd
end
`;

// Delete every field of device `dev`.
const FORGET = `
local function forget(ds, dev)
  for _, f in ipairs(redis.call('HKEYS', ds)) do
    local kind, tail = string.match(f, '^(%a)|(.*)$')
    if tail == dev or ((kind == 'a' or kind == 'g') and string.sub(tail, 1, #dev + 1) == dev .. '|') then
      redis.call('HDEL', ds, f)
    end
  end
end
`;

// Grant `gid` of live session `ses` on device `dev` is revoked: drop its g| field (and those of
// grants past their horizon); when no live grant of the session is left, end it. Returns 1 when it
// ended. A grant not listed (issued before sessions listed their grants) ends nothing.
const LEAVE_SESSION = `
local function leaveSession(ds, dev, ses, gid, now)
  if session(ds, dev, ses, now) == 0 then return 0 end
  if redis.call('HDEL', ds, 'g|' .. dev .. '|' .. gid) == 0 then return 0 end
  local head, live = 'g|' .. dev .. '|', 0
  local all = redis.call('HGETALL', ds)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, #head) == head then
      if (tonumber(all[i + 1]) or 0) > now then live = live + 1 else redis.call('HDEL', ds, all[i]) end
    end
  end
  if live > 0 then return 0 end
  forget(ds, dev)
  return 1
end
`;

// Grant ledgers (ledger.ts): a ZSET of grant ids scored by the epoch second after which each can no
// longer be live, plus one member '~gen:<generation>' scored +inf, which pruning never reaches.
const LEDGER = `
local function ledgerGeneration(led)
  local m = redis.call('ZRANGEBYSCORE', led, '+inf', '+inf', 'LIMIT', 0, 1)[1]
  return m and string.sub(m, 6) or ''
end
local function ledgerAdd(led, id, untilT, now)
  redis.call('ZREMRANGEBYSCORE', led, '-inf', now)
  redis.call('ZADD', led, untilT, id)
  if redis.call('TTL', led) < untilT - now then redis.call('EXPIRE', led, untilT - now) end
end
`;

/** Successors of abandoned rotations a family remembers as burnt (see twAbandonRotation). */
const BURNT_KEPT = 4;

/**
 * The reply layouts and scripts for grant fields in `fields` order. The store uses
 * `buildScripts()` (GRANT_FIELDS); tests build other orders to prove nothing depends on it.
 */
export function buildScripts(fields: readonly GrantField[] = GRANT_FIELDS) {
  const replies = {
    /** getAccessTokenState: revocation flags and the device session's deadline ('' without one). */
    access: replyLayout(['rev', 'x', 'deadline', 'replayed'], fields),
    /** rotateRefreshToken: `status` 'ok' (with the rest) or why not. */
    rotate: replyLayout(['status', 'retried', 'deadline'], fields),
    /** getRefreshTokenState: whether the hash was issued in the family, and the family's state. */
    refresh: replyLayout(['known', 'deadline', 'rev', 'cur', 'cexp'], fields),
  };
  /** Read the grant hash fields `extra` and every GrantRecord field into table `name`. */
  const readGrant = (name: string, key: string, extra: (string | [string, string])[] = []) =>
    luaHmget(name, key, [...extra, ...fields]);
  const ses = GRANT_HASH.sessionId;

  const scripts = {
    /**
     * Store a grant (`rest`: its hash as name/value pairs) and its refresh root; a device-bound
     * grant joins or starts its device session, which lists it until its key expires. Returns the
     * session's deadline, or '' without one.
     */
    twCreateGrant: defineScript({
      keys: ['grantKey', 'issuedKey', 'sessionsKey', 'ledgerKey'],
      args: [
        'ttl',
        'refreshHash',
        'device',
        '#now',
        '#idleTtl',
        '#maxAge',
        'candidateId',
        'clientId',
        'grantId',
        'generation',
        '#horizon',
        '#code',
        'jkt',
      ],
      rest: true,
      functions: [DIGEST, SESSION, FORGET, LEAVE_SESSION, REVOKE_FAMILY, LEDGER],
      body: `
-- A user's grant: listed in the user's ledger, unless their grants were ended since it was authorized.
if ledgerKey ~= grantKey then
  if ledgerGeneration(ledgerKey) ~= generation then return 'stale' end
end
-- An existing key is a grant revoked (with its owner's grants) before it could be created, or,
-- for a grant an authorization code names, that code redeemed before: the code is replayed, and
-- what it issued is revoked (RFC 6749 §4.1.2).
if redis.call('EXISTS', grantKey) == 1 then
  if code == 1 and redis.call('HEXISTS', grantKey, 'cid') == 1 then
    if redis.call('HGET', grantKey, 'rev') ~= '1' then revoke(grantKey, issuedKey, sessionsKey, now) end
    return 'replayed'
  end
  return 'revoked'
end
-- A live device session started with a DPoP key is joined only with that key (RFC 9449).
if device ~= '' then
  local k = redis.call('HMGET', sessionsKey, 'i|' .. device, 'd|' .. device, 'c|' .. device, 'k|' .. device)
  if k[1] and (tonumber(k[2]) or 0) > now and (tonumber(k[3]) or 0) > now and k[4] and k[4] ~= jkt then
    return 'device_key'
  end
end
if ledgerKey ~= grantKey then ledgerAdd(ledgerKey, grantId, horizon, now) end
redis.call('HSET', grantKey, unpack(rest))
redis.call('EXPIRE', grantKey, ttl)
-- The root refresh token: the family keeps its id and proof (generation 0 is no field).
if refreshHash ~= '' then
  local id, _, proof = digest(refreshHash)
  redis.call('HSET', grantKey, 'cur', id)
  if proof then redis.call('HSET', grantKey, 'fp', proof) end
end
if device == '' then return '' end
${luaHmget('s', 'sessionsKey', [
  ['id', "'i|' .. device"],
  ['deadline', "'d|' .. device"],
  ['cap', "'c|' .. device"],
])}
local sid, cap = s.id, tonumber(s.cap) or 0
if not sid or (tonumber(s.deadline) or 0) <= now or cap <= now then
  -- A new session; tokens of the ended one stay refused (they carry its id).
  forget(sessionsKey, device)
  sid, cap = candidateId, now + maxAge
  redis.call('HSET', sessionsKey, 'i|' .. device, sid, 'c|' .. device, cap, 'b|' .. device, now)
  if jkt ~= '' then redis.call('HSET', sessionsKey, 'k|' .. device, jkt) end
end
local dl = math.min(now + idleTtl, cap)
redis.call('HSET', sessionsKey, 'd|' .. device, dl, 't|' .. device, idleTtl, 's|' .. device, now,
  'a|' .. device .. '|' .. clientId, now, 'g|' .. device .. '|' .. grantId, now + ttl)
if redis.call('TTL', sessionsKey) < cap - now then redis.call('EXPIRE', sessionsKey, cap - now) end
redis.call('HSET', grantKey, '${ses}', sid)
return tostring(dl)`,
    }),

    /**
     * The grant, its revocation flags and (device-bound grants) the session deadline; a live
     * device-bound token is activity and postpones its device session's deadline. With a DPoP
     * proof, `proofKey` (the proof's own key, `proofTtl` seconds) is set unless it exists:
     * `replayed` '1' when it did. Without one, `proofKey` is the grant key, which it never touches.
     */
    twAccessState: defineScript({
      keys: ['grantKey', 'sessionsKey', 'proofKey'],
      args: ['jti', '#now', '#proofTtl'],
      functions: [SESSION, TOUCH],
      body: `
${readGrant('f', 'grantKey', ['rev', ['x', "'x:' .. jti"]])}
local replayed = false
if f.id and proofKey ~= grantKey then
  replayed = redis.call('SET', proofKey, '1', 'NX', 'EX', proofTtl) and '0' or '1'
end
local dl = ''
if f.id and f.${ses} and f.dev then
  local s
  dl, s = session(sessionsKey, f.dev, f.${ses}, now)
  if dl > 0 and f.rev ~= '1' and f.x ~= '1' then dl = touch(sessionsKey, f.dev, f.cid, now, dl, s) end
  dl = tostring(dl)
end
return ${replies.access.lua({ rev: 'f.rev', x: 'f.x', deadline: 'dl', replayed: 'replayed' }, 'f')}`,
    }),

    /**
     * Rotate a refresh token (RFC 6749 §6, RFC 9700 §4.14.2). Replies `status` 'ok' with the grant,
     * or the reason it did not ('abandoned': the rotation must not run, see twAbandonRotation).
     */
    twRotate: defineScript({
      keys: ['grantKey', 'issuedKey', 'sessionsKey'],
      args: [
        'presentedHash',
        'clientId',
        '#now',
        '#leeway',
        'requestedScope',
        'nextHash',
        '#nextRefreshExp',
        'nextJti',
        '#nextAccessExp',
        'clientScope',
        'resource',
        'jkt',
      ],
      functions: [DIGEST, ISSUED_IN, SESSION, TOUCH, FORGET, LEAVE_SESSION, REVOKE_FAMILY],
      body: `
local function fail(reason) return ${replies.rotate.lua({ status: 'reason' })} end
${luaHmget('s', 'grantKey', ['rev', 'cid', 'cur', 'cexp', 'prev', 'pat', 'gen', 'fp', 'scope', 'max', 'aexp', 'cjti', 'undo', 'bn', ['res', `'${GRANT_HASH.resource}'`], ['jkt', `'${GRANT_HASH.jkt}'`]])}
if not s.cid then return fail('not_found') end
if s.rev == '1' then return fail('revoked') end
local presented, pgen = digest(presentedHash)
local nextId, _, nextProof = digest(nextHash)
-- Its successor is already known: the rotation was abandoned before it ran (its caller answered
-- 503 and burnt it), or it already ran (a resent command). It must not take effect (again).
if nextId == s.cur or nextId == s.prev or string.find(' ' .. (s.bn or '') .. ' ', ' ' .. nextId .. ' ', 1, true) then
  return fail('abandoned')
end
if not issuedIn(s, grantKey, issuedKey, presentedHash) then return fail('not_found') end
if s.cid ~= clientId then return fail('client_mismatch') end
-- A family bound to a DPoP key (RFC 9449 §5): without that key the token is inert, so it changes
-- nothing, not even reuse detection (its holder proves nothing).
if s.jkt and s.jkt ~= jkt then return fail('key_mismatch') end
local isCur = (presented == s.cur)
-- An abandoned rotation (its caller answered 503) lets its presented token rotate once more.
local undone = (not isCur) and s.undo == presented .. '|' .. (s.cur or '')
local retry = (not isCur) and (undone or (leeway > 0 and presented == s.prev
  and (now - (tonumber(s.pat) or 0)) <= leeway))
if not isCur and not retry then
  revoke(grantKey, issuedKey, sessionsKey, now)
  return fail('reused')
end
if (isCur and tonumber(s.cexp) <= now) or tonumber(s.max) <= now then return fail('expired') end
-- A family's audience never changes: a refresh may name its resource, or none ('' = none named).
if resource ~= '' and resource ~= (s.res or '') then return fail('invalid_target') end
-- The client's scopes were narrowed since: so is the family, for good ('-' = no narrowing).
if clientScope ~= '-' then
  local allowed, kept = ' ' .. clientScope .. ' ', {}
  for w in string.gmatch(s.scope, '%S+') do
    if string.find(allowed, ' ' .. w .. ' ', 1, true) then table.insert(kept, w) end
  end
  local narrowed = table.concat(kept, ' ')
  if narrowed ~= s.scope then
    s.scope = narrowed
    redis.call('HSET', grantKey, 'scope', narrowed)
  end
end
if requestedScope ~= '' then
  local have = ' ' .. s.scope .. ' '
  for w in string.gmatch(requestedScope, '%S+') do
    if not string.find(have, ' ' .. w .. ' ', 1, true) then return fail('invalid_scope') end
  end
end
-- A device-bound family lives only as long as its device session; a refresh is activity.
local dl = ''
${luaHmget('d', 'grantKey', [ses, 'dev', 'id'])}
if d.${ses} and d.dev then
  local live, fields = session(sessionsKey, d.dev, d.${ses}, now)
  if live == 0 then return fail('expired') end
  dl = tostring(touch(sessionsKey, d.dev, clientId, now, live, fields))
end
redis.call('HDEL', grantKey, 'undo')
-- The generation counts rotations; a retry replaces the current token at its generation. (The
-- refresh grant writes the same count into the token: the presented generation + 1.)
local gen = tonumber(s.gen) or 0
if retry then
  redis.call('HSET', grantKey, 'x:' .. s.cjti, '1')
else
  gen = gen + 1
  redis.call('HSET', grantKey, 'prev', presented, 'pat', now)
end
-- A legacy token's successor is generation 1 (a retry's too) and starts the family's proof.
if not pgen and gen < 1 then gen = 1 end
if nextProof and (not pgen or not s.fp) then redis.call('HSET', grantKey, 'fp', nextProof) end
local aexp = tonumber(s.aexp) or 0
if nextAccessExp > aexp then aexp = nextAccessExp end
redis.call('HSET', grantKey, 'cur', nextId, 'gen', gen, 'cexp', nextRefreshExp, 'cjti', nextJti, 'aexp', aexp)
local ttl = math.max(aexp, nextRefreshExp) - now
redis.call('EXPIRE', grantKey, ttl)
-- A legacy set (given only with a legacy token) lives as long as its tokens could be replayed.
if issuedKey ~= grantKey then redis.call('EXPIRE', issuedKey, math.max(ttl, tonumber(s.max) - now)) end
-- The session lists the grant as live as long as its key lives (a grant it never listed stays so).
if dl ~= '' then
  local listed = 'g|' .. d.dev .. '|' .. d.id
  if redis.call('HEXISTS', sessionsKey, listed) == 1 then redis.call('HSET', sessionsKey, listed, now + ttl) end
end
${readGrant('f', 'grantKey')}
return ${replies.rotate.lua({ status: "'ok'", retried: "retry and '1' or '0'", deadline: 'dl' }, 'f')}`,
    }),

    /**
     * The caller of a rotation gave up waiting for it. If it took effect, the presented token may
     * rotate once more (killing the successor nobody received): returns 1. If not, the successor
     * is burnt so that the rotation, should it still run (a timed-out command may), is refused:
     * the presented token stays current. Returns 0. Either way nothing but this rotation is
     * affected, whatever order abandonments land in.
     */
    twAbandonRotation: defineScript({
      keys: ['grantKey'],
      args: ['presentedHash', 'nextHash'],
      functions: [DIGEST],
      body: `
if redis.call('EXISTS', grantKey) == 0 then return 0 end
local presented = digest(presentedHash)
local nextId = digest(nextHash)
if redis.call('HGET', grantKey, 'cur') == nextId then
  redis.call('HSET', grantKey, 'undo', presented .. '|' .. nextId)
  return 1
end
-- Burnt: the last few successors are remembered (a family rarely has more than one rotation
-- abandoned at once), with the grant, so the family's footprint stays bounded.
local burnt = {}
for id in string.gmatch(redis.call('HGET', grantKey, 'bn') or '', '%S+') do table.insert(burnt, id) end
table.insert(burnt, nextId)
while #burnt > ${BURNT_KEPT} do table.remove(burnt, 1) end
redis.call('HSET', grantKey, 'bn', table.concat(burnt, ' '))
return 0`,
    }),

    /**
     * Revoke the family of refresh token `refreshHash` (RFC 7009 §2.1): 'revoked', or
     * 'revoked_session_ended' when it was the last live grant of its device session.
     */
    twRevokeRefresh: defineScript({
      keys: ['grantKey', 'issuedKey', 'sessionsKey'],
      args: ['refreshHash', 'clientId', '#now'],
      functions: [DIGEST, ISSUED_IN, SESSION, FORGET, LEAVE_SESSION, REVOKE_FAMILY],
      body: `
${luaHmget('s', 'grantKey', ['cid', 'rev', 'cur', 'prev', 'gen', 'fp'])}
if not s.cid or not issuedIn(s, grantKey, issuedKey, refreshHash) then return 'not_found' end
if s.cid ~= clientId then return 'client_mismatch' end
if s.rev == '1' then return 'already_revoked' end
if revoke(grantKey, issuedKey, sessionsKey, now) == 1 then return 'revoked_session_ended' end
return 'revoked'`,
    }),

    /**
     * Revoke a grant: 1 revoked now (its device session ended with it if it was the session's last
     * live grant), 2 revoked already, 0 not found. With `tombstone` seconds, an id not found is
     * kept revoked that long, so that a creation still on its way is refused.
     */
    twRevokeGrant: defineScript({
      keys: ['grantKey', 'issuedKey', 'sessionsKey'],
      args: ['#now', '#tombstone'],
      functions: [SESSION, FORGET, LEAVE_SESSION, REVOKE_FAMILY],
      body: `
if redis.call('EXISTS', grantKey) == 0 then
  if tombstone > 0 then
    redis.call('HSET', grantKey, 'rev', '1')
    redis.call('EXPIRE', grantKey, tombstone)
  end
  return 0
end
if redis.call('HGET', grantKey, 'rev') == '1' then return 2 end
revoke(grantKey, issuedKey, sessionsKey, now)
return 1`,
    }),

    /** Mark one access token revoked; the mark lives as long as the grant. */
    twRevokeAccess: defineScript({
      keys: ['grantKey'],
      args: ['jti'],
      body: `
if redis.call('EXISTS', grantKey) == 1 then redis.call('HSET', grantKey, 'x:' .. jti, '1') end
return 1`,
    }),

    /** A refresh token's family state (for introspection, RFC 7662 §2.2); reads only. */
    twRefreshState: defineScript({
      keys: ['grantKey', 'issuedKey', 'sessionsKey'],
      args: ['refreshHash', '#now'],
      functions: [DIGEST, ISSUED_IN, SESSION],
      body: `
${readGrant('s', 'grantKey', ['rev', 'cur', 'cexp', 'prev', 'gen', 'fp'])}
local known = issuedIn(s, grantKey, issuedKey, refreshHash) and 1 or 0
-- 'cur' answers in the caller's terms: the digest it gave, when that is the current token.
if known == 1 and digest(refreshHash) == s.cur then s.cur = refreshHash end
local dl = ''
if s.${ses} and s.dev then dl = tostring((session(sessionsKey, s.dev, s.${ses}, now))) end
return ${replies.refresh.lua({ known: 'known', deadline: 'dl', rev: 's.rev', cur: 's.cur', cexp: 's.cexp' }, 's')}`,
    }),

    /** List a client's grant in its ledger if the ledger is at `generation`: 1, else 0. */
    twAddClientGrant: defineScript({
      keys: ['ledgerKey'],
      args: ['grantId', 'generation', '#horizon', '#now'],
      functions: [LEDGER],
      body: `
if ledgerGeneration(ledgerKey) ~= generation then return 0 end
ledgerAdd(ledgerKey, grantId, horizon, now)
return 1`,
    }),

    /**
     * Move a ledger to `generation`; with `endGrants` '1', forget the grants it lists and return
     * their ids (the caller revokes them). The ledger lives at least `minTtl` seconds more, so
     * that a reader of the old generation is refused.
     */
    twRenewLedger: defineScript({
      keys: ['ledgerKey'],
      args: ['generation', 'endGrants', '#now', '#minTtl'],
      body: `
local ids = {}
if endGrants == '1' then
  ids = redis.call('ZRANGEBYSCORE', ledgerKey, '(' .. now, '(+inf')
  redis.call('ZREMRANGEBYSCORE', ledgerKey, '-inf', '(+inf')
end
redis.call('ZREMRANGEBYSCORE', ledgerKey, '+inf', '+inf')
redis.call('ZADD', ledgerKey, '+inf', '~gen:' .. generation)
if redis.call('TTL', ledgerKey) < minTtl then redis.call('EXPIRE', ledgerKey, minTtl) end
return ids`,
    }),

    /** End one device session; returns 1 when it existed. */
    twRevokeDevice: defineScript({
      keys: ['sessionsKey'],
      args: ['device'],
      functions: [FORGET],
      body: `
local existed = redis.call('HEXISTS', sessionsKey, 'i|' .. device)
forget(sessionsKey, device)
return existed`,
    }),

    /** End every device session of the user; returns how many there were. */
    twRevokeDevices: defineScript({
      keys: ['sessionsKey'],
      body: `
local n = 0
for _, f in ipairs(redis.call('HKEYS', sessionsKey)) do
  if string.sub(f, 1, 2) == 'i|' then n = n + 1 end
end
redis.call('DEL', sessionsKey)
return n`,
    }),

    /** Store a registry record and add it to its index. */
    twPutRecord: defineScript({
      keys: ['recordKey', 'indexKey'],
      args: ['json', 'member'],
      body: `
redis.call('SET', recordKey, json)
redis.call('SADD', indexKey, member)
return 1`,
    }),

    // Password-hash upgrade --------------------------------------------------------------
    /**
     * Compare-and-set a user's passwordHash: replaced by `newHash` only while it is still
     * `expectedHash`; 1 when replaced. The JSON record is edited in place (no cjson re-encoding,
     * which would turn an empty roles array into an object); hashes hold no JSON-escaped character.
     */
    twUpgradePasswordHash: defineScript({
      keys: ['recordKey'],
      args: ['expectedHash', 'newHash'],
      body: `
local raw = redis.call('GET', recordKey)
if not raw then return 0 end
local ok, rec = pcall(cjson.decode, raw)
if not ok or type(rec) ~= 'table' or rec.passwordHash ~= expectedHash then return 0 end
local field = '"passwordHash":"' .. expectedHash .. '"'
local at = string.find(raw, field, 1, true)
if not at then return 0 end
local updated = string.sub(raw, 1, at - 1) .. '"passwordHash":"' .. newHash .. '"' .. string.sub(raw, at + #field)
redis.call('SET', recordKey, updated, 'KEEPTTL')
return 1`,
    }),

    /** Delete a registry record and drop it from its index; returns 1 when it existed. */
    twDeleteRecord: defineScript({
      keys: ['recordKey', 'indexKey'],
      args: ['member'],
      body: `
redis.call('SREM', indexKey, member)
return redis.call('DEL', recordKey)`,
    }),

    /** Store a JSON array holding the candidate key unless keys exist; returns the stored set. */
    twInitKeys: defineScript({
      keys: ['keysKey'],
      args: ['json'],
      body: `
redis.call('SET', keysKey, json, 'NX')
return redis.call('GET', keysKey)`,
    }),

    /**
     * Make `nextKey` (JSON) the active signing key; retired keys keep only their public part, and
     * the key `distrust` ('' for none) is dropped at once. Mirrors rotateKeySet() in key-set.ts.
     */
    twRotateKeys: defineScript({
      keys: ['keysKey'],
      args: ['nextKey', '#now', '#retain', 'distrust'],
      body: `
local cur = redis.call('GET', keysKey)
local keys = cur and cjson.decode(cur) or {}
local out = { cjson.decode(nextKey) }
for _, k in ipairs(keys) do
  if k.retiredAt == nil then
    k.retiredAt = now
    k.expiresAt = now + retain
  end
  -- A retired key keeps only its public part.
  k.privateJwk = nil
  k.sealedPrivateJwk = nil
  if (k.expiresAt == nil or k.expiresAt > now) and k.kid ~= distrust then table.insert(out, k) end
end
local enc = cjson.encode(out)
redis.call('SET', keysKey, enc)
return enc`,
    }),
  };
  return { scripts, replies };
}

const built = buildScripts();

/** The RedisStore scripts, registered once per client with ioredis `defineCommand`. */
export const scripts = built.scripts;
/** How the store reads the replies of the scripts that return a grant. */
export const replies = built.replies;

export type Scripts = typeof scripts;
export type ScriptName = keyof Scripts;
