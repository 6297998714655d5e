-- KEYS: 1 liveness records. ARGV: 1 consumer id.
-- Refreshes the consumer's record with the Redis clock (ms). Returns 1.
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], ARGV[1], t[1] * 1000 + math.floor(t[2] / 1000))
return 1
