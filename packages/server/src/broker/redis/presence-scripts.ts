/**
 * Presence per channel: a hash client → info JSON, a sorted set client → expiry time
 * (Redis time, ms), and a hash user → connection count so that counting users never
 * loads the members. Expired entries are swept by every read.
 */

const now = `
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

const sweep = `
local function forget(data, exp, users, client)
  local info = redis.call('hget', data, client)
  redis.call('hdel', data, client)
  redis.call('zrem', exp, client)
  if info then
    local user = cjson.decode(info)['user']
    if redis.call('hincrby', users, user, -1) <= 0 then redis.call('hdel', users, user) end
  end
end
local function sweep(data, exp, users, now)
  for _, client in ipairs(redis.call('zrangebyscore', exp, '-inf', now)) do forget(data, exp, users, client) end
end
`;

/** KEYS: data, expiry, users. ARGV: client, user, info JSON, ttlMs. */
export const presenceAddScript = `${now}
local data, exp, users = KEYS[1], KEYS[2], KEYS[3]
local client, user, info, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('hexists', data, client) == 0 then redis.call('hincrby', users, user, 1) end
redis.call('hset', data, client, info)
redis.call('zadd', exp, now + ttl, client)
for _, key in ipairs(KEYS) do redis.call('pexpire', key, ttl) end
return 1
`;

/** KEYS: data, expiry, users. ARGV: client. */
export const presenceRemoveScript = `${sweep}
forget(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
return 1
`;

/** KEYS: data, expiry, users. Returns {clients, users}. */
export const presenceStatsScript = `${now}${sweep}
sweep(KEYS[1], KEYS[2], KEYS[3], now)
return {redis.call('zcard', KEYS[2]), redis.call('hlen', KEYS[3])}
`;

/** KEYS: data, expiry, users. ARGV: limit. Returns {total, info1, info2, ...} (at most limit infos). */
export const presenceListScript = `${now}${sweep}
local data, exp = KEYS[1], KEYS[2]
sweep(data, exp, KEYS[3], now)
local out = {redis.call('zcard', exp)}
local limit = tonumber(ARGV[1])
if limit <= 0 then return out end
local clients = redis.call('zrange', exp, 0, limit - 1)
if #clients == 0 then return out end
for _, info in ipairs(redis.call('hmget', data, unpack(clients))) do
  if info then table.insert(out, info) end
end
return out
`;
