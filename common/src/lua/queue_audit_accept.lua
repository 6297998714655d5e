-- KEYS: 1 the set of sources, 2 the source's manifests hash, 3 its summary hash,
-- 4 the promised files hash, 5 the names hash, 6 the pending zset, 7 the arrived
-- hash, 8 the unlisted zset.
-- ARGV: 1 the source, 2 the manifest's sequence, 3 the sha256 of its bytes, 4 the
-- sha256 of the previous manifest ('' for none), 5 what the operator reads of it
-- (JSON), 6 its files, a JSON array of [name, sha256, entry JSON], 7 now (epoch s),
-- 8 '1' when its signature was checked, else '0'.
-- Records a verified manifest and what it promises, in one step. Returns 1 when
-- recorded; 2 when this very manifest was recorded before and its input file not
-- yet removed (a crash or a lost reply: finish the work); -1 when the sequence was
-- seen with other bytes or finished already (a replay); -2 when the previous
-- manifest seen names another hash than ARGV[4], or the next one seen names
-- another hash than ARGV[3] (a broken chain).
local seq = tonumber(ARGV[2])
local old = redis.call('HGET', KEYS[2], 'sha:' .. ARGV[2])
if old then
  if old == ARGV[3] and redis.call('HEXISTS', KEYS[2], 'done:' .. ARGV[2]) == 0 then return 2 end
  return -1
end
local before = redis.call('HGET', KEYS[2], 'sha:' .. tostring(seq - 1))
if before and before ~= ARGV[4] then return -2 end
local after = redis.call('HGET', KEYS[2], 'prev:' .. tostring(seq + 1))
if after and after ~= ARGV[3] then return -2 end
local now = tonumber(ARGV[7])
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'sha:' .. ARGV[2], ARGV[3], 'prev:' .. ARGV[2], ARGV[4],
           'info:' .. ARGV[2], ARGV[5])
local low = tonumber(redis.call('HGET', KEYS[3], 'first') or seq)
local high = tonumber(redis.call('HGET', KEYS[3], 'last') or seq)
redis.call('HSET', KEYS[3], 'first', tostring(math.min(low, seq)),
           'last', tostring(math.max(high, seq)), 'last_at', ARGV[7])
redis.call('HINCRBY', KEYS[3], 'count', 1)
if ARGV[8] ~= '1' then redis.call('HINCRBY', KEYS[3], 'unverified', 1) end
for _, f in ipairs(cjson.decode(ARGV[6])) do
  local key = f[1] .. '/' .. f[2]
  redis.call('HSETNX', KEYS[4], key, f[3])
  local shas = redis.call('HGET', KEYS[5], f[1])
  if not shas then
    redis.call('HSET', KEYS[5], f[1], f[2])
  elseif not string.find(' ' .. shas .. ' ', ' ' .. f[2] .. ' ', 1, true) then
    redis.call('HSET', KEYS[5], f[1], shas .. ' ' .. f[2])
  end
  if redis.call('HEXISTS', KEYS[7], key) == 1 then
    redis.call('ZREM', KEYS[8], key)
  else
    redis.call('ZADD', KEYS[6], 'NX', now, key)
  end
end
return 1
