-- KEYS: 1 the promised files hash, 2 the pending zset, 3 the arrived hash, 4 the
-- unlisted zset, 5 the waiting zset, 6 the waiting_since hash.
-- ARGV: 1 the file's "<name>/<sha256>", 2 now (epoch s), 3 its path.
-- A file reached the loader-worker and was decided: it is no longer pending nor
-- waiting; one no manifest lists (yet) is unlisted until a manifest does. In one
-- step, so that a manifest recorded at the same moment never leaves it both
-- listed and unlisted. Returns 1 when a manifest lists it, else 0.
redis.call('ZREM', KEYS[5], ARGV[3])
redis.call('HDEL', KEYS[6], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
redis.call('ZADD', KEYS[4], 'NX', tonumber(ARGV[2]), ARGV[1])
return 0
