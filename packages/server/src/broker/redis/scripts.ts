/**
 * Lua scripts: each broker operation on a channel is one atomic round trip.
 * Keys: stream (XADD, entry id = offset), meta hash (e = epoch, s = top offset),
 * idempotency result key. Every entry stores its own expiry (field x, Redis time)
 * so that history ages per publication, as in the memory broker.
 */

/** Drops entries whose expiry passed from the head of the stream (they expire in order). */
const trimExpired = `
local function trim_expired(stream)
  local t = redis.call('time')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  while true do
    local head = redis.call('xrange', stream, '-', '+', 'COUNT', 64)
    if #head == 0 then return now end
    local keep = nil
    for _, entry in ipairs(head) do
      local fields = entry[2]
      local expires = nil
      for i = 1, #fields, 2 do if fields[i] == 'x' then expires = tonumber(fields[i + 1]) end end
      if expires == nil or expires > now then keep = entry[1]; break end
    end
    if keep ~= nil then
      redis.call('xtrim', stream, 'MINID', keep)
      return now
    end
    local last = head[#head][1]
    local dash = string.find(last, '-', 1, true)
    redis.call('xtrim', stream, 'MINID', string.sub(last, 1, dash - 1) .. '-' .. (tonumber(string.sub(last, dash + 1)) + 1))
  end
end
`;

/**
 * KEYS: stream, meta, result. ARGV: body, size, ttlMs, pubsub channel, metaTtlMs,
 * new epoch, result ttlMs (0: no idempotency).
 * Returns {position ("offset:epoch" or ""), deduplicated (0/1)}.
 */
export const publishScript = `
local stream, meta, result = KEYS[1], KEYS[2], KEYS[3]
local body, size, ttl, channel = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local meta_ttl, new_epoch, result_ttl = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
if result_ttl > 0 then
  local cached = redis.call('get', result)
  if cached then return {cached, 1} end
end
local position = ''
if size > 0 then
  local epoch = redis.call('hget', meta, 'e')
  if not epoch then
    epoch = new_epoch
    redis.call('hset', meta, 'e', epoch)
  end
  local top = redis.call('hincrby', meta, 's', 1)
  if meta_ttl > 0 then redis.call('pexpire', meta, meta_ttl) end
  if top == 1 then redis.call('del', stream) end
  local t = redis.call('time')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('xadd', stream, 'MAXLEN', size, top .. '-0', 'd', body, 'x', now + ttl)
  redis.call('pexpire', stream, ttl)
  position = top .. ':' .. epoch
end
redis.call('publish', channel, position .. '|' .. body)
if result_ttl > 0 then redis.call('set', result, position, 'PX', result_ttl) end
return {position, 0}
`;

/**
 * KEYS: stream, meta. ARGV: since offset ("" for none), limit (-1 all, 0 none),
 * reverse ("1"/"0"), metaTtlMs, new epoch.
 * Returns {top, epoch, id1, body1, id2, body2, ...}; a missing stream gets a position.
 */
export const historyScript = `${trimExpired}
local stream, meta = KEYS[1], KEYS[2]
local since, limit, reverse = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local meta_ttl, new_epoch = tonumber(ARGV[4]), ARGV[5]
local epoch = redis.call('hget', meta, 'e')
local top = 0
if not epoch then
  -- Reading a stream that does not exist gives it a position; only publishing extends it.
  epoch = new_epoch
  redis.call('hset', meta, 'e', epoch, 's', 0)
  if meta_ttl > 0 then redis.call('pexpire', meta, meta_ttl) end
else
  top = tonumber(redis.call('hget', meta, 's') or '0')
end
local out = {top, epoch}
if limit == 0 then return out end
trim_expired(stream)
local entries
local count = {}
if limit > 0 then count = {'COUNT', limit} end
if reverse == '1' then
  local hi = '+'
  if since ~= '' then hi = '(' .. since .. '-0' end
  entries = redis.call('xrevrange', stream, hi, '-', unpack(count))
else
  local lo = '-'
  if since ~= '' then lo = '(' .. since .. '-0' end
  entries = redis.call('xrange', stream, lo, '+', unpack(count))
end
for _, entry in ipairs(entries) do
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'd' then
      table.insert(out, entry[1])
      table.insert(out, fields[i + 1])
    end
  end
end
return out
`;
