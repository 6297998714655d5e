-- Consumer script (after queue_prelude.lua). ARGV 4.. acknowledgements.
-- The whole processing list back to the head of the queue, oldest first in the
-- queue. Returns how many items moved.
if again() then return 0 end
touch()
acks(4)
local n = 0
while redis.call('LMOVE', KEYS[2], KEYS[1], 'RIGHT', 'LEFT') do n = n + 1 end
done('n')
return n
