-- KEYS: 1 queue, 2 liveness records, 3 last operations.
-- ARGV: 1 own consumer id, 2 dead after (ms), 3 prefix of the processing lists.
-- Returns the processing lists of consumers not seen for ARGV[2] ms to the head of
-- the queue and forgets those consumers. The lists are named from the records (a
-- single Redis, not a cluster). Returns {consumers, items}.
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local all = redis.call('HGETALL', KEYS[2])
local dead, items = 0, 0
for i = 1, #all, 2 do
  local seen = tonumber(all[i + 1])
  if all[i] ~= ARGV[1] and (seen == nil or now - seen > tonumber(ARGV[2])) then
    while redis.call('LMOVE', ARGV[3] .. all[i], KEYS[1], 'RIGHT', 'LEFT') do
      items = items + 1
    end
    redis.call('HDEL', KEYS[2], all[i])
    redis.call('HDEL', KEYS[3], all[i])
    dead = dead + 1
  end
end
return {dead, items}
