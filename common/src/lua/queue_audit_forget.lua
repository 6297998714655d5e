-- KEYS: 1 the arrived hash, 2 the promised hash, 3 the names hash, 4 the unlisted
-- zset. ARGV: 1 an HSCAN cursor of the arrived hash, 2 the cutoff (epoch s), 3 how
-- many fields to look at.
-- Forgets the files that arrived before the cutoff: their arrival, their promise,
-- their hash among those promised under their name, their place among the
-- unlisted. A file forgotten and sent again is then one no manifest lists.
-- Returns {next cursor, how many were forgotten}.
local page = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', tonumber(ARGV[3]))
local cutoff = tonumber(ARGV[2])
local fields = page[2]
local forgotten = 0
for i = 1, #fields, 2 do
  local key, at = fields[i], tonumber(fields[i + 1])
  if at and at < cutoff then
    redis.call('HDEL', KEYS[1], key)
    redis.call('HDEL', KEYS[2], key)
    redis.call('ZREM', KEYS[4], key)
    local slash = string.find(key, '/[^/]*$')
    if slash then
      local name, sha = string.sub(key, 1, slash - 1), string.sub(key, slash + 1)
      local shas = redis.call('HGET', KEYS[3], name)
      if shas then
        local kept = {}
        for s in string.gmatch(shas, '%S+') do
          if s ~= sha then kept[#kept + 1] = s end
        end
        if #kept == 0 then
          redis.call('HDEL', KEYS[3], name)
        else
          redis.call('HSET', KEYS[3], name, table.concat(kept, ' '))
        end
      end
    end
    forgotten = forgotten + 1
  end
end
return {page[1], forgotten}
