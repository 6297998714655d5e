-- Consumer script (after queue_prelude.lua). ARGV 4 largest message in bytes,
-- 5 the time for a :bad header, 6.. acknowledgements.
-- Takes the head of the queue without blocking into the processing list, or parks
-- it in :bad when it is too big (without sending it over the network).
-- Returns {kind, value or size, acknowledgements missing, items left in the queue}:
-- kind 0 empty (value nil), 1 parked (its size), 2 item (the item; nil when a
-- retried pop finds it gone).
if again() then
  local left = redis.call('LLEN', KEYS[1])
  if string.sub(prev, 1, 1) == 'i' then
    return {2, redis.call('LINDEX', KEYS[2], -1), 0, left}
  end
  return {1, 0, 0, left}
end
touch()
local missing = acks(6)
local v = redis.call('LPOP', KEYS[1])
if not v then done('n') return {0, false, missing, 0} end
local max = tonumber(ARGV[4])
if #v > max then
  redis.call('RPUSH', KEYS[3], '{"reason": "message of ' .. #v .. ' bytes is larger than the limit of '
    .. max .. ' bytes", "consumer": "' .. ARGV[1] .. '", "time": "' .. ARGV[5] .. '", "size": '
    .. #v .. '}\n' .. v)
  done('n')
  return {1, #v, missing, redis.call('LLEN', KEYS[1])}
end
redis.call('RPUSH', KEYS[2], v)
done('i')
return {2, v, missing, redis.call('LLEN', KEYS[1])}
