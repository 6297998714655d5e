#!/usr/bin/env bash
# Redis restarted (twice) in the middle of a stream of 10,000 messages, with AOF on:
# the producer and the consumer wait and reconnect, all 10,000 are consumed, none
# twice beyond the at-least-once repeat of a push whose reply was lost (at most
# one per restart), and each outage is logged once, not once per retry.
. "$(dirname "$0")/lib.sh"

tool=$(bin queue_tool)
start_redis --aof
. "$(dirname "$0")/queue_lib.sh"
N=10000
acked() { grep -c '^ACKED' "$T/consumer" 2>/dev/null || echo 0; }

"$tool" push "$REDIS_URL" alert --alerts "$N" --prefix M --pace-us 300 2>"$T/producer.err" &
producer=$!
on_exit "kill -KILL $producer"
"$tool" consume "$REDIS_URL" alert restart-1 >"$T/consumer" 2>"$T/consumer.err" &
consumer=$!
on_exit "kill -KILL $consumer"

for at in 2500 6000; do
  wait_until 120 bash -c "[ \$(grep -c '^ACKED' $T/consumer) -ge $at ]" ||
    fail "consumer stuck at $(acked) acks: $(tail -3 "$T/consumer.err")"
  pid_alive "$producer" || note "producer already done at $at acks"
  note "restarting Redis at $(acked) acks, $(cli LLEN replay_alert) queued"
  restart_redis
done

wait "$producer" || fail "producer failed: $(cat "$T/producer.err")"
# Everything is in Redis now; the consumer is done when the queue and its
# processing list are empty (an item leaves the list only once acknowledged).
drained() { [ "$(cli LLEN replay_alert)" = 0 ] && [ "$(cli LLEN replay_alert:processing:restart-1)" = 0 ]; }
wait_until 120 drained || fail "not drained: $(cli LLEN replay_alert) queued, $(acked) acks"
kill -TERM "$consumer"
wait "$consumer" || fail "consumer failed: $(cat "$T/consumer.err")"

distinct=$(grep '^ACKED' "$T/consumer" | sort -u | wc -l)
total=$(acked)
assert_eq "$N" "$distinct" "distinct messages consumed"
dups=$((total - distinct))
note "$total acks, $distinct distinct, $dups repeated"
[ "$dups" -le 2 ] || fail "$dups messages consumed twice (at most one per restart allowed)"
missing=$(comm -23 <(seq 0 $((N - 1)) | sed 's/^/M/' | sort) \
  <(grep '^ACKED' "$T/consumer" | cut -d' ' -f2 | sort -u) | head -3)
assert_eq "" "$missing" "missing messages"
assert_eq 0 "$(cli LLEN replay_alert)" "queue drained"
assert_eq 0 "$(cli LLEN replay_alert:processing:restart-1)" "processing list empty"

for f in "$T/consumer.err" "$T/producer.err"; do
  warned=$(grep -c 'No connection to Redis' "$f" || true)
  back=$(grep -c 'Reconnected to Redis' "$f" || true)
  [ "$warned" -le 2 ] || fail "$(basename "$f"): $warned outage warnings for 2 restarts"
  assert_eq "$warned" "$back" "$(basename "$f"): one reconnect line per outage warning"
done
assert_eq 2 "$(grep -c 'No connection to Redis' "$T/consumer.err")" "consumer: one warning per restart"
# The epoch: made once, the same across restarts that keep the data (AOF), a new
# one when the data is lost.
first=$("$tool" epoch "$REDIS_URL")
assert_contains "$first" " created" "first epoch"
again=$("$tool" epoch "$REDIS_URL")
assert_eq "${first% *} found" "$again" "epoch asked again"
restart_redis
assert_eq "${first% *} found" "$("$tool" epoch "$REDIS_URL")" "epoch after a restart with AOF"
cli CONFIG SET appendonly no >/dev/null
restart_redis
lost=$("$tool" epoch "$REDIS_URL")
assert_contains "$lost" " created" "epoch after a restart that lost the data"
[ "${lost% *}" != "${first% *}" ] || fail "the epoch did not change with the data"
echo "queue_redis_restart: ok"
