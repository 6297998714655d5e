-- Consumer script (after queue_prelude.lua). ARGV 4.. acknowledgements.
-- Returns how many acknowledged items were no longer in the processing list.
if again() then return 0 end
touch()
local missing = acks(4)
done('n')
return missing
