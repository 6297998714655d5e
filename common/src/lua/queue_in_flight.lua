-- KEYS: 1 the queue. ARGV: 1 prefix of the processing lists, 2 the id field of a
-- message, 3 most messages to read.
-- Returns {1, messages, id, id, ...}: the ids of the messages waiting in the queue
-- and held in every processing list, read in one step so none moves between lists
-- unseen; {0, messages} when there are more than ARGV[3] (nothing read). Messages
-- that are not JSON objects with a string id are left out: a consumer sets them
-- aside when it pops them.
local lists = {KEYS[1]}
local cursor = '0'
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', ARGV[1] .. '*', 'COUNT', 1000)
  cursor = page[1]
  for _, k in ipairs(page[2]) do lists[#lists + 1] = k end
until cursor == '0'
local total = 0
for _, k in ipairs(lists) do total = total + redis.call('LLEN', k) end
if total > tonumber(ARGV[3]) then return {0, total} end
local out = {1, total}
for _, k in ipairs(lists) do
  for _, m in ipairs(redis.call('LRANGE', k, 0, -1)) do
    local ok, v = pcall(cjson.decode, m)
    if ok and type(v) == 'table' and type(v[ARGV[2]]) == 'string' then
      out[#out + 1] = v[ARGV[2]]
    end
  end
end
return out
