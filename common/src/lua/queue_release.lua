-- Consumer script (after queue_prelude.lua). ARGV 4 the value, 5.. acknowledgements.
-- Gives an item back: processing list -> head of the queue.
-- Returns {moved (0 or 1), acknowledgements missing}.
if again() then return {1, 0} end
touch()
local missing = acks(5)
local n = redis.call('LREM', KEYS[2], -1, ARGV[4])
if n > 0 then redis.call('LPUSH', KEYS[1], ARGV[4]) end
done('n')
return {n, missing}
