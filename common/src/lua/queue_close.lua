-- Consumer script (after queue_prelude.lua). ARGV 4.. acknowledgements.
-- Sends the last acknowledgements and forgets the consumer (liveness record, last
-- operation) when its processing list is empty. Returns 1 when forgotten, else 0.
acks(4)
if redis.call('LLEN', KEYS[2]) > 0 then done('n') return 0 end
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
return 1
