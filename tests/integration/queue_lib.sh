# Helpers shared by the queue_*.sh tests. Source it after lib.sh and start_redis.

cli() { redis-cli -p "$REDIS_PORT" "$@"; }

# in_blmove: a client of this Redis is blocked in BLMOVE (a consumer waiting for
# work in the blocking path, not between two waits).
in_blmove() { cli CLIENT LIST | grep -q 'flags=b .*cmd=blmove'; }
wait_blmove() { # [what]
  wait_until 30 in_blmove || fail "${1:-consumer} is not waiting in BLMOVE: $(cli CLIENT LIST)"
}

# unseen_over QUEUE CONSUMER MS: the consumer's liveness record in QUEUE:consumers
# is older than MS by the Redis clock (what dead_after_ms is measured against).
unseen_over() {
  local age
  age=$(cli EVAL "local t = redis.call('TIME') return t[1] * 1000 + math.floor(t[2] / 1000) - \
tonumber(redis.call('HGET', KEYS[1], ARGV[1]))" 1 "$1:consumers" "$2")
  [ "$age" -gt "$3" ]
}
