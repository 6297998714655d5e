-- luacheck settings for the queue module's Redis scripts (Lua 5.1 inside Redis):
--   luacheck --config common/src/lua/.luacheckrc common/src/lua  (test unit.queue_lua)
std = "lua51"
read_globals = {
  "redis", "cjson", "KEYS", "ARGV",
  -- The consumer scripts run after queue_prelude.lua (queue_scripts.c joins them)
  -- and use its locals.
  "prev", "again", "done", "touch", "acks",
}
-- The prelude's functions are there for the scripts that follow it.
ignore = {"211/again", "211/done", "211/touch", "211/acks"}
