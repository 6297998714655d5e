-- KEYS: 1 the waiting zset (file path -> when it is checked again).
-- A manifest was recorded: every waiting file is due now (the one it lists among
-- them). Returns how many wait.
local n = 0
for _, path in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  redis.call('ZADD', KEYS[1], 'XX', 0, path)
  n = n + 1
end
return n
