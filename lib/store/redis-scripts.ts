// Lua scripts, one per atomic RedisStore operation; each touches keys of a single hash tag.
// Grant hash fields: id cid tid gty sub scope lu dev cat max (the GrantRecord), rev (revoked),
// cur/cexp/cjti (live refresh hash, its expiry, access jti issued with it), prev/pat (predecessor
// and when it was rotated), aexp (latest access-token expiry), x:<jti> (revoked access token),
// ses (device session id, device-bound grants), undo (<presented>|<new> of an abandoned rotation
// that had taken effect). The issued set also holds the successors of abandoned rotations that had
// not (yet) taken effect: burnt, so that such a rotation, if it still runs, is refused.
// Device-session hash fields, per device: i|<dev> session id, b|<dev> start, c|<dev> absolute end,
// d|<dev> idle deadline, t|<dev> idle seconds, s|<dev> last seen, a|<dev>|<client> app last seen.

/** Fields of the grant hash that make up a GrantRecord, in the order scripts return them. */
export const GRANT_FIELDS = [
  'id',
  'cid',
  'tid',
  'gty',
  'sub',
  'scope',
  'lu',
  'dev',
  'cat',
  'max',
  'ses',
];

// Revoke the family in KEYS[1]/KEYS[2]: keep the hash (marked) until its last access token expires.
const REVOKE_FAMILY = `
local function revoke(g, rts, now)
  local aexp = tonumber(redis.call('HGET', g, 'aexp')) or 0
  local ttl = aexp - now
  if ttl < 1 then ttl = 1 end
  redis.call('HSET', g, 'rev', '1')
  redis.call('HDEL', g, 'cur', 'prev')
  redis.call('EXPIRE', rts, ttl)
  redis.call('EXPIRE', g, ttl)
end
`;

// The live deadline of session \`ses\` on device \`dev\` (0 when ended or replaced), and its fields.
const SESSION = `
local function session(ds, dev, ses, now)
  local s = redis.call('HMGET', ds, 'i|' .. dev, 'd|' .. dev, 'c|' .. dev, 't|' .. dev)
  if s[1] ~= ses then return 0, s end
  local dl = tonumber(s[2]) or 0
  if dl <= now then return 0, s end
  return dl, s
end
-- Activity by app \`cid\`: slide the deadline (at most one write per second per session).
local function touch(ds, dev, cid, now, dl, s)
  local nd = math.min(now + tonumber(s[4]), tonumber(s[3]))
  if nd <= dl then return dl end
  redis.call('HSET', ds, 'd|' .. dev, nd, 's|' .. dev, now, 'a|' .. dev .. '|' .. cid, now)
  return nd
end
-- Delete every field of device \`dev\`.
local function forget(ds, dev)
  for _, f in ipairs(redis.call('HKEYS', ds)) do
    local kind, rest = string.match(f, '^(%a)|(.*)$')
    if rest == dev or (kind == 'a' and string.sub(rest, 1, #dev + 1) == dev .. '|') then
      redis.call('HDEL', ds, f)
    end
  end
end
`;

export const scripts = {
  /**
   * KEYS: grant, issued, sessions. ARGV: ttl, refresh hash or '', device or '', now, idle ttl,
   * max age, candidate session id, client id, field, value, ...
   * Returns the device session's deadline, or '' for grants without a device.
   */
  twCreateGrant: {
    numberOfKeys: 3,
    lua: `${SESSION}
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 9))
redis.call('EXPIRE', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then
  redis.call('SADD', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
local dev = ARGV[3]
if dev == '' then return '' end
local ds, now, idle, cid = KEYS[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[8]
local s = redis.call('HMGET', ds, 'i|' .. dev, 'd|' .. dev, 'c|' .. dev)
local sid, cap = s[1], tonumber(s[3]) or 0
if not sid or (tonumber(s[2]) or 0) <= now or cap <= now then
  -- A new session; tokens of the ended one stay refused (they carry its id).
  forget(ds, dev)
  sid, cap = ARGV[7], now + tonumber(ARGV[6])
  redis.call('HSET', ds, 'i|' .. dev, sid, 'c|' .. dev, cap, 'b|' .. dev, now)
end
local dl = math.min(now + idle, cap)
redis.call('HSET', ds, 'd|' .. dev, dl, 't|' .. dev, idle, 's|' .. dev, now, 'a|' .. dev .. '|' .. cid, now)
if redis.call('TTL', ds) < cap - now then redis.call('EXPIRE', ds, cap - now) end
redis.call('HSET', KEYS[1], 'ses', sid)
return tostring(dl)`,
  },

  /**
   * KEYS: grant, sessions. ARGV: jti, now. Returns {rev, x, deadline or '', ...GRANT_FIELDS}; a live
   * device-bound token postpones its session's deadline (SPEC B3).
   */
  twAccessState: {
    numberOfKeys: 2,
    lua: `${SESSION}
local f = redis.call('HMGET', KEYS[1], 'rev', 'x:' .. ARGV[1], 'ses', ${GRANT_FIELDS.map((f) => `'${f}'`).join(', ')})
local dl = ''
local ses, cid, dev = f[3], f[5], f[11]
if f[4] and ses and dev then
  local now = tonumber(ARGV[2])
  local s
  dl, s = session(KEYS[2], dev, ses, now)
  if dl > 0 and f[1] ~= '1' and f[2] ~= '1' then dl = touch(KEYS[2], dev, cid, now, dl, s) end
  dl = tostring(dl)
end
return {f[1], f[2], dl, unpack(f, 4)}`,
  },

  /**
   * KEYS: grant, issued, sessions. ARGV: presented hash, client id, now, leeway, requested scope,
   * new hash, new refresh exp, new jti, new access exp.
   * Returns {'ok', retried, device deadline or '', ...GRANT_FIELDS} or {reason} ('abandoned': the
   * rotation must not run, see twAbandonRotation).
   */
  twRotate: {
    numberOfKeys: 3,
    lua: `${REVOKE_FAMILY}${SESSION}
local g, rts = KEYS[1], KEYS[2]
local h, cid, now, leeway, req = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local s = redis.call('HMGET', g, 'rev', 'cid', 'cur', 'cexp', 'prev', 'pat', 'scope', 'max', 'aexp', 'cjti', 'undo')
if not s[2] then return {'not_found'} end
if s[1] == '1' then return {'revoked'} end
-- Its successor is already known: the rotation was abandoned before it ran (its caller answered
-- 503 and burnt it), or it already ran (a resent command). It must not take effect (again).
if redis.call('SISMEMBER', rts, ARGV[6]) == 1 then return {'abandoned'} end
if redis.call('SISMEMBER', rts, h) == 0 then return {'not_found'} end
if s[2] ~= cid then return {'client_mismatch'} end
local isCur = (h == s[3])
-- An abandoned rotation (its caller answered 503) lets its presented token rotate once more.
local undone = (not isCur) and s[11] == h .. '|' .. (s[3] or '')
local retry = (not isCur) and (undone or (leeway > 0 and h == s[5] and (now - (tonumber(s[6]) or 0)) <= leeway))
if not isCur and not retry then
  revoke(g, rts, now)
  return {'reused'}
end
if (isCur and tonumber(s[4]) <= now) or tonumber(s[8]) <= now then return {'expired'} end
if req ~= '' then
  local have = ' ' .. s[7] .. ' '
  for w in string.gmatch(req, '%S+') do
    if not string.find(have, ' ' .. w .. ' ', 1, true) then return {'invalid_scope'} end
  end
end
-- A device-bound family lives only as long as its device session (SPEC B3); a refresh is activity.
local dl = ''
local d = redis.call('HMGET', g, 'ses', 'dev')
if d[1] and d[2] then
  local live, fields = session(KEYS[3], d[2], d[1], now)
  if live == 0 then return {'expired'} end
  dl = tostring(touch(KEYS[3], d[2], cid, now, live, fields))
end
redis.call('HDEL', g, 'undo')
if retry then
  redis.call('HSET', g, 'x:' .. s[10], '1')
else
  redis.call('HSET', g, 'prev', h, 'pat', now)
end
local nexp, naexp = tonumber(ARGV[7]), tonumber(ARGV[9])
local aexp = tonumber(s[9]) or 0
if naexp > aexp then aexp = naexp end
redis.call('HSET', g, 'cur', ARGV[6], 'cexp', nexp, 'cjti', ARGV[8], 'aexp', aexp)
redis.call('SADD', rts, ARGV[6])
local ttl = math.max(aexp, nexp) - now
redis.call('EXPIRE', g, ttl)
redis.call('EXPIRE', rts, ttl)
local f = redis.call('HMGET', g, ${GRANT_FIELDS.map((f) => `'${f}'`).join(', ')})
return {'ok', retry and '1' or '0', dl, unpack(f)}`,
  },

  /**
   * KEYS: grant, issued. ARGV: presented hash, new hash. The caller of a rotation gave up waiting
   * for it. If it took effect, the presented token may rotate once more (killing the successor
   * nobody received): returns 1. If not, the successor is burnt so that the rotation, should it
   * still run (a timed-out command may), is refused: the presented token stays current. Returns 0.
   * Either way nothing but this rotation is affected, whatever order abandonments land in.
   */
  twAbandonRotation: {
    numberOfKeys: 2,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'cur') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'undo', ARGV[1] .. '|' .. ARGV[2])
  return 1
end
-- (No issued set, no rotation can run: nothing to burn, and no key created without a TTL.)
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('SADD', KEYS[2], ARGV[2]) end
return 0`,
  },

  /** KEYS: grant, issued. ARGV: hash, client id, now. */
  twRevokeRefresh: {
    numberOfKeys: 2,
    lua: `${REVOKE_FAMILY}
local cid = redis.call('HGET', KEYS[1], 'cid')
if not cid or redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return 'not_found' end
if cid ~= ARGV[2] then return 'client_mismatch' end
if redis.call('HGET', KEYS[1], 'rev') == '1' then return 'already_revoked' end
revoke(KEYS[1], KEYS[2], tonumber(ARGV[3]))
return 'revoked'`,
  },

  /** KEYS: grant, issued. ARGV: now. */
  twRevokeGrant: {
    numberOfKeys: 2,
    lua: `${REVOKE_FAMILY}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'rev') == '1' then return 2 end
revoke(KEYS[1], KEYS[2], tonumber(ARGV[1]))
return 1`,
  },

  /** KEYS: grant. ARGV: jti. Marks one access token revoked; the mark lives as long as the grant. */
  twRevokeAccess: {
    numberOfKeys: 1,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'x:' .. ARGV[1], '1') end
return 1`,
  },

  /**
   * KEYS: grant, issued, sessions. ARGV: hash, now.
   * Returns {issued, device deadline or '', rev, cur, cexp, ...GRANT_FIELDS}; reads only.
   */
  twRefreshState: {
    numberOfKeys: 3,
    lua: `${SESSION}
local known = redis.call('SISMEMBER', KEYS[2], ARGV[1])
local s = redis.call('HMGET', KEYS[1], 'rev', 'cur', 'cexp', ${GRANT_FIELDS.map((f) => `'${f}'`).join(', ')})
local d = redis.call('HMGET', KEYS[1], 'ses', 'dev')
local dl = ''
if d[1] and d[2] then dl = tostring((session(KEYS[3], d[2], d[1], tonumber(ARGV[2])))) end
return {known, dl, unpack(s)}`,
  },

  /** KEYS: sessions. ARGV: device. Ends one device session; returns 1 when it existed. */
  twRevokeDevice: {
    numberOfKeys: 1,
    lua: `${SESSION}
local existed = redis.call('HEXISTS', KEYS[1], 'i|' .. ARGV[1])
forget(KEYS[1], ARGV[1])
return existed`,
  },

  /** KEYS: sessions. Ends every device session of the user; returns how many there were. */
  twRevokeDevices: {
    numberOfKeys: 1,
    lua: `
local n = 0
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 2) == 'i|' then n = n + 1 end
end
redis.call('DEL', KEYS[1])
return n`,
  },

  /** KEYS: record, index. ARGV: json, member. */
  twPutRecord: {
    numberOfKeys: 2,
    lua: `
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return 1`,
  },

  /** KEYS: record, index. ARGV: member. */
  twDeleteRecord: {
    numberOfKeys: 2,
    lua: `
redis.call('SREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])`,
  },

  /** KEYS: signing keys. ARGV: json array holding the candidate. */
  twInitKeys: {
    numberOfKeys: 1,
    lua: `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])`,
  },

  /** KEYS: signing keys. ARGV: next key json, now, retain seconds. Mirrors rotateKeySet(). */
  twRotateKeys: {
    numberOfKeys: 1,
    lua: `
local cur = redis.call('GET', KEYS[1])
local keys = cur and cjson.decode(cur) or {}
local now, retain = tonumber(ARGV[2]), tonumber(ARGV[3])
local out = { cjson.decode(ARGV[1]) }
for _, k in ipairs(keys) do
  if k.retiredAt == nil then
    k.retiredAt = now
    k.expiresAt = now + retain
  end
  if k.expiresAt == nil or k.expiresAt > now then table.insert(out, k) end
end
local enc = cjson.encode(out)
redis.call('SET', KEYS[1], enc)
return enc`,
  },
} as const;

export type ScriptName = keyof typeof scripts;
