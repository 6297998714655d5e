-- KEYS: 1 the :bad list, 2 the queue. ARGV: 1 most entries to move.
-- Moves entries of :bad, oldest first, to the tail of the queue, without their
-- header line. Returns how many moved (0: the list is empty).
local n = 0
while n < tonumber(ARGV[1]) do
  local e = redis.call('LPOP', KEYS[1])
  if not e then break end
  local nl = string.find(e, '\n', 1, true)
  if nl and string.sub(e, 1, 11) == '{"reason": ' then e = string.sub(e, nl + 1) end
  redis.call('RPUSH', KEYS[2], e)
  n = n + 1
end
return n
