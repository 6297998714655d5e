-- KEYS: 1 the manifest state hash of a source, 2 its list of recorded files.
-- ARGV: 1 the pending manifest's name, 2 its sequence, 3 the sha256 of its bytes,
-- 4 how many recorded files it lists.
-- Once the pending manifest is in the output store: its sequence and hash become
-- the chain's head, the files it lists leave the list. Only for the manifest that
-- is pending, so a repeated call (a lost reply) does nothing. Returns 1 when
-- committed, else 0.
if redis.call('HGET', KEYS[1], 'pending_name') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'sequence', ARGV[2], 'previous_sha256', ARGV[3])
redis.call('HDEL', KEYS[1], 'pending_name', 'pending_bytes', 'pending_sig', 'pending_count')
redis.call('LTRIM', KEYS[2], tonumber(ARGV[4]), -1)
return 1
