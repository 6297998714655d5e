-- The prelude of every consumer script (queue_scripts.c prepends it). The consumer
-- scripts share one layout:
--   KEYS: 1 queue, 2 processing list, 3 :bad list, 4 liveness records,
--         5 last operations
--   ARGV: 1 consumer id, 2 operation id, 3 "1" to refresh the liveness record,
--         then the script's own arguments, then the values of the
--         acknowledgements not sent yet.
-- Idempotence: each run stores "<kind><op id>" in KEYS[5]; a retry of the same
-- operation (its reply was lost with the connection) finds it and does nothing
-- again. Kind 'i' means "moved an item to the processing list", so a retried pop
-- returns that item (the tail of the processing list) instead of taking another.
local prev = redis.call('HGET', KEYS[5], ARGV[1])
local function again() return prev and string.sub(prev, 2) == ARGV[2] end
local function done(kind) redis.call('HSET', KEYS[5], ARGV[1], kind .. ARGV[2]) end
local function touch()
  if ARGV[3] ~= '1' then return end
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[4], ARGV[1], t[1] * 1000 + math.floor(t[2] / 1000))
end
-- Removes the acknowledged values ARGV[first..]; returns how many were missing.
local function acks(first)
  local missing = 0
  for i = first, #ARGV do
    if redis.call('LREM', KEYS[2], -1, ARGV[i]) == 0 then missing = missing + 1 end
  end
  return missing
end
