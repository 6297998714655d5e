-- Consumer layout (KEYS as in queue_prelude.lua, which it does not need).
-- ARGV 4 items of ours known to be in the processing list, 5 "1" if the tail is
-- an item just received (and not counted in ARGV 4).
-- A BLMOVE whose reply was lost left its item just before that: every such extra
-- goes back to the head of the queue, in order. Idempotent by construction (a
-- second run finds no extra). Returns how many moved.
local got = tonumber(ARGV[5])
local extra = redis.call('LLEN', KEYS[2]) - tonumber(ARGV[4]) - got
local moved = 0
while extra > 0 do
  local v = redis.call('LINDEX', KEYS[2], -1 - got)
  if not v then break end
  redis.call('LREM', KEYS[2], -1, v)
  redis.call('LPUSH', KEYS[1], v)
  extra = extra - 1
  moved = moved + 1
end
return moved
