// Lua scripts, one per atomic RedisStore operation; each touches keys of a single hash tag.
// Grant hash fields: id cid tid gty sub scope lu dev cat max (the GrantRecord), rev (revoked),
// cur/cexp/cjti (live refresh hash, its expiry, access jti issued with it), prev/pat (predecessor
// and when it was rotated), aexp (latest access-token expiry), x:<jti> (revoked access token).

/** Fields of the grant hash that make up a GrantRecord, in the order scripts return them. */
export const GRANT_FIELDS = ['id', 'cid', 'tid', 'gty', 'sub', 'scope', 'lu', 'dev', 'cat', 'max'];

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

export const scripts = {
  /** KEYS: grant, issued. ARGV: ttl, refresh hash or '', field, value, ... */
  twCreateGrant: {
    numberOfKeys: 2,
    lua: `
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then
  redis.call('SADD', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
return 1`,
  },

  /**
   * KEYS: grant, issued. ARGV: presented hash, client id, now, leeway, requested scope,
   * new hash, new refresh exp, new jti, new access exp.
   * Returns {'ok', retried, ...GRANT_FIELDS} or {reason}.
   */
  twRotate: {
    numberOfKeys: 2,
    lua: `${REVOKE_FAMILY}
local g, rts = KEYS[1], KEYS[2]
local h, cid, now, leeway, req = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local s = redis.call('HMGET', g, 'rev', 'cid', 'cur', 'cexp', 'prev', 'pat', 'scope', 'max', 'aexp', 'cjti')
if not s[2] then return {'not_found'} end
if s[1] == '1' then return {'revoked'} end
if redis.call('SISMEMBER', rts, h) == 0 then return {'not_found'} end
if s[2] ~= cid then return {'client_mismatch'} end
local isCur = (h == s[3])
local retry = (not isCur) and leeway > 0 and h == s[5] and (now - (tonumber(s[6]) or 0)) <= leeway
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
return {'ok', retry and '1' or '0', unpack(f)}`,
  },

  /** KEYS: grant, issued. ARGV: hash, client id, now. */
  twRevokeRefresh: {
    numberOfKeys: 2,
    lua: `${REVOKE_FAMILY}
local cid = redis.call('HGET', KEYS[1], 'cid')
if not cid or redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return 'not_found' end
if cid ~= ARGV[2] then return 'client_mismatch' end
revoke(KEYS[1], KEYS[2], tonumber(ARGV[3]))
return 'revoked'`,
  },

  /** KEYS: grant, issued. ARGV: now. */
  twRevokeGrant: {
    numberOfKeys: 2,
    lua: `${REVOKE_FAMILY}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
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

  /** KEYS: grant, issued. ARGV: hash. Returns {issued, rev, cur, cexp, ...GRANT_FIELDS}. */
  twRefreshState: {
    numberOfKeys: 2,
    lua: `
local known = redis.call('SISMEMBER', KEYS[2], ARGV[1])
local s = redis.call('HMGET', KEYS[1], 'rev', 'cur', 'cexp', ${GRANT_FIELDS.map((f) => `'${f}'`).join(', ')})
return {known, unpack(s)}`,
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
