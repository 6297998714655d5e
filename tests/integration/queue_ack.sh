#!/usr/bin/env bash
# Acknowledgements are batched (64 items or 1 MiB travel together): a batch that
# cannot be sent, because Redis is stopped or the consumer is canceled in the
# middle of it, loses no acknowledgement and writes nothing out of bounds. The
# acknowledgement that finds the batch full and unsendable is refused (the item
# stays held, delivered again if never acknowledged); the others go with the
# next call that reaches Redis, or at close.
. "$(dirname "$0")/lib.sh"

tool=$(bin queue_tool)
start_redis --aof
. "$(dirname "$0")/queue_lib.sh"
N=65 # one more than a batch

redis_stop() {
  cli shutdown >/dev/null 2>&1 || true
  wait_until 10 bash -c "! redis-cli -p $REDIS_PORT ping" || fail "redis did not stop"
}
redis_start() { # the same server again, with its AOF
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --save '' \
    --appendonly yes --daemonize yes --pidfile "$REDIS_DIR/pid" --logfile "$REDIS_DIR/log" >/dev/null
  wait_until 10 cli ping || fail "redis did not start again"
}
holding() { grep -q '^HOLDING' "$1"; }
no_sanitizer_report() { # FILE
  if grep -q 'runtime error\|AddressSanitizer' "$1"; then
    fail "sanitizer report: $(grep -m3 'runtime error\|AddressSanitizer\|#[0-9] ' "$1")"
  fi
}

note "Redis stopped while $N held items are acknowledged: none lost, all sent once it is back"
"$tool" push "$REDIS_URL" alert --alerts "$N" --prefix S
"$tool" consume "$REDIS_URL" alert ack-stop --batch "$N" --ack-when "$T/go" --give-up 300 \
  >"$T/stop.out" 2>"$T/stop.err" &
pid=$!
on_exit "kill -KILL $pid"
wait_until 30 holding "$T/stop.out" || fail "consumer did not fill its batch: $(cat "$T/stop.err")"
assert_eq "$N" "$(cli LLEN replay_alert:processing:ack-stop)" "held items in the processing list"
redis_stop
touch "$T/go"
wait_until 60 bash -c "grep -q '^ACK_FAILED' $T/stop.out || ! kill -0 $pid" ||
  fail "no acknowledgement was refused while Redis was down: $(tail -3 "$T/stop.out")"
pid_alive "$pid" || fail "consumer died while Redis was down: $(grep -m3 'runtime error\|Sanitizer\|#[0-9] ' "$T/stop.err")"
redis_start
wait_until 60 bash -c "! kill -0 $pid 2>/dev/null" || fail "consumer did not finish after Redis came back"
wait "$pid" || fail "consumer failed: $(tail -5 "$T/stop.err")"
no_sanitizer_report "$T/stop.err"
assert_eq "$N" "$(grep -c '^ACKED S' "$T/stop.out")" "acknowledgements"
assert_eq "$N" "$(grep '^ACKED S' "$T/stop.out" | sort -u | wc -l)" "distinct acknowledgements"
assert_eq "ACK_FAILED S64" "$(grep '^ACK_FAILED' "$T/stop.out" | cut -d: -f1 | sort -u)" \
  "only the acknowledgement that found the batch full and unsendable is refused"
assert_contains "$(grep -m1 '^ACK_FAILED' "$T/stop.out")" "(REPLAY_ECONN)"
assert_eq 0 "$(cli LLEN replay_alert:processing:ack-stop)" "processing list after the acknowledgements"
assert_eq 0 "$(cli LLEN replay_alert)" "queue"
assert_eq 0 "$(cli HEXISTS replay_alert:consumers ack-stop)" "liveness record removed at close"

note "canceled while $N held items are acknowledged: the batch goes at close, the refused item comes back"
"$tool" push "$REDIS_URL" alert --alerts "$N" --prefix C
"$tool" consume "$REDIS_URL" alert ack-cancel --batch "$N" --ack-when "$T/never" \
  >"$T/cancel.out" 2>"$T/cancel.err" &
pid=$!
on_exit "kill -KILL $pid"
wait_until 30 holding "$T/cancel.out" || fail "consumer did not fill its batch: $(cat "$T/cancel.err")"
kill -TERM "$pid"
wait "$pid" || fail "canceled consumer failed: $(tail -5 "$T/cancel.err")"
no_sanitizer_report "$T/cancel.err"
assert_eq $((N - 1)) "$(grep -c '^ACKED C' "$T/cancel.out")" "acknowledgements taken"
assert_eq "ACK_FAILED C64" "$(grep '^ACK_FAILED' "$T/cancel.out" | cut -d: -f1)" "refused acknowledgement"
assert_contains "$(grep '^ACK_FAILED' "$T/cancel.out")" "(REPLAY_ECANCELED)"
assert_eq 1 "$(cli LLEN replay_alert:processing:ack-cancel)" "left in the processing list"
assert_eq '{"alert_id": "C64", "reporting_ts": "2024-05-01T12:34:56.123456Z"}' \
  "$(cli --raw LINDEX replay_alert:processing:ack-cancel 0)" "the unacknowledged item"
run "$tool" consume "$REDIS_URL" alert ack-cancel --idle-exit 300
assert_eq 0 "$rc" "restart ($err)"
no_sanitizer_report "$T/.err"
assert_eq "ACKED C64" "$(grep '^ACKED' <<<"$out")" "the refused item delivered again, alone"
assert_eq 0 "$(cli LLEN replay_alert:processing:ack-cancel)" "processing list after the restart"
echo "queue_ack: ok"
