-- KEYS: 1 the checkpoints hash. ARGV: 1 field, 2 the value JSON-encoded, 3 the
-- value itself.
-- Stores the value only if it is later than the stored one: ISO-8601 "...Z" dates
-- compare as times whatever their fraction digits; "*", empty and absent are the
-- earliest; a stored value that is not a JSON string is replaced. Returns 1 when
-- stored, else 0.
local function key(s)
  if s == nil or s == '' or s == '*' then return '' end
  local d, f = string.match(s, '^(%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d)%.?(%d*)Z$')
  if not d then return s end
  return d .. '.' .. f .. string.rep('0', 9 - #f)
end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cur ~= '' then
  local ok, dec = pcall(cjson.decode, cur)
  if ok and type(dec) == 'string' and key(ARGV[3]) <= key(dec) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
