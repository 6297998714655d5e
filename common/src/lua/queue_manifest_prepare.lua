-- KEYS: 1 the manifest state hash of a source. ARGV: 1 the sequence the caller
-- read (0 before the first manifest), 2 the new manifest's name, 3 its bytes,
-- 4 its signature ("" when unsigned), 5 how many recorded files it lists.
-- Stores the manifest as pending, unless one is pending already or another writer
-- moved the sequence since the caller read it. Returns 1 when stored, else 0.
if redis.call('HEXISTS', KEYS[1], 'pending_name') == 1 then return 0 end
local cur = tonumber(redis.call('HGET', KEYS[1], 'sequence') or '0') or 0
if cur ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'pending_name', ARGV[2], 'pending_bytes', ARGV[3],
           'pending_sig', ARGV[4], 'pending_count', ARGV[5])
return 1
