-- Consumer script (after queue_prelude.lua). ARGV 4 mode, 5 the value (mode
-- "value") or the length of the tail item (mode "tail": too big to send back),
-- 6 the :bad header line, 7.. acknowledgements.
-- Moves a bad message from the processing list to :bad, header first.
-- Returns {moved (0 or 1), acknowledgements missing}.
if again() then return {1, 0} end
touch()
local missing = acks(7)
local v, n = ARGV[5], 0
if ARGV[4] == 'tail' then
  v = redis.call('LINDEX', KEYS[2], -1)
  if v and #v == tonumber(ARGV[5]) then n = 1 redis.call('RPOP', KEYS[2]) end
else
  n = redis.call('LREM', KEYS[2], -1, v)
end
if n > 0 then redis.call('RPUSH', KEYS[3], ARGV[6] .. '\n' .. v) end
done('n')
return {n, missing}
