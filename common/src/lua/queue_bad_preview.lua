-- KEYS: 1 the :bad list. ARGV: 1 index of the entry, 2 most bytes of the message.
-- Returns {header line ('' when none), first bytes of the original message, its
-- full length}, or nil past the end, without sending the whole entry.
local e = redis.call('LINDEX', KEYS[1], ARGV[1])
if not e then return false end
local nl = string.find(e, '\n', 1, true)
local h, s = '', 1
if nl and string.sub(e, 1, 11) == '{"reason": ' then h = string.sub(e, 1, nl - 1) s = nl + 1 end
return {h, string.sub(e, s, s + tonumber(ARGV[2]) - 1), #e - s + 1}
