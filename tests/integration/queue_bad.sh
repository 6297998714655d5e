#!/usr/bin/env bash
# Bad input on the queues: malformed JSON, wrong types, binary junk and a 64 MiB
# message are moved to replay_<type>:bad with the reason (original bytes kept),
# never dropped and never a crash; the consumer goes on with the next good item.
# A 64 MiB message waiting in the queue is parked without being transferred to the
# consumer (its memory stays small). A producer refuses such a message with a clear error.
. "$(dirname "$0")/lib.sh"

tool=$(bin queue_tool)
start_redis
. "$(dirname "$0")/queue_lib.sh"
# entry INDEX [BYTES]: the first bytes of a :bad entry, cut on the server.
entry() {
  cli --raw EVAL "return string.sub(redis.call('LINDEX', KEYS[1], ARGV[1]), 1, ARGV[2])" \
    1 replay_alert:bad "$1" "${2:-400}"
}

big="$T/big.json"
{ printf '{"alert_id": "big", "pad": "'; head -c $((64 << 20)) /dev/zero | tr '\0' 'a'; printf '"}'; } >"$big"
bigsize=$(stat -c %s "$big")

note "bad messages already queued"
cli RPUSH replay_alert 'not json' '{"alert_id": 5}' '[1, 2]' '"just a string"' \
  '{"alert_id": "x", "reporting_ts": 7}' >/dev/null
printf '\xff\xfe{' | cli -x RPUSH replay_alert >/dev/null
cli -x RPUSH replay_alert <"$big" >/dev/null
cli RPUSH replay_alert '{"alert_id": "good", "reporting_ts": "2024-05-01T12:34:56.123456Z"}' >/dev/null
run "$tool" consume "$REDIS_URL" alert bad-1 --idle-exit 500 --rss
assert_eq 0 "$rc" "consumer exit ($err)"
assert_eq "ACKED good" "$(grep '^ACKED' <<<"$out")" "the good message after the bad ones"
assert_eq 7 "$(grep -c 'Moved a message of [0-9]* bytes from replay_alert to replay_alert:bad' <<<"$err")" \
  "one warning per bad message"
assert_eq 7 "$(cli LLEN replay_alert:bad)" "bad entries"
assert_eq 0 "$(cli LLEN replay_alert)" "queue drained"
assert_eq 0 "$(cli LLEN replay_alert:processing:bad-1)" "processing list empty"
rss=$(grep '^RSS_PEAK_KB' <<<"$out" | cut -d' ' -f2)
note "consumer peak RSS ${rss} KiB with a 64 MiB message in the queue"
[ "$rss" -lt $((48 * 1024)) ] || fail "consumer peak RSS ${rss} KiB: the 64 MiB message was transferred"

note "each entry: one header line with the reason, then the original bytes"
e0=$(entry 0)
assert_contains "$(head -1 <<<"$e0")" '{"reason": "not valid JSON: '
assert_contains "$(head -1 <<<"$e0")" '"consumer": "bad-1", "time": "20'
assert_contains "$(head -1 <<<"$e0")" '"size": 8}'
assert_eq "not json" "$(sed -n 2p <<<"$e0")" "original bytes of entry 0"
assert_contains "$(entry 1)" '"reason": "alert message: \"alert_id\" must be a non-empty string, got an integer"'
assert_contains "$(entry 2)" '"reason": "alert message must be a JSON object, got an array"'
assert_contains "$(entry 3)" '"reason": "alert message must be a JSON object, got a string"'
assert_contains "$(entry 4)" '"reason": "alert message: \"reporting_ts\" must be a string, got an integer"'
assert_contains "$(entry 5)" '"reason": "not valid JSON: '
assert_eq "$(printf '\xff\xfe{\n' | od -An -tx1)" \
  "$(cli --raw EVAL "local e = redis.call('LINDEX', KEYS[1], 5) return string.sub(e, string.find(e, '\\n', 1, true) + 1)" 1 replay_alert:bad | od -An -tx1)" \
  "binary junk kept byte for byte"
e6=$(entry 6 300)
assert_contains "$(head -1 <<<"$e6")" "\"reason\": \"message of $bigsize bytes is larger than the limit of 16777216 bytes\""
assert_contains "$(head -1 <<<"$e6")" "\"size\": $bigsize}"
assert_eq $((bigsize + $(head -1 <<<"$e6" | wc -c))) \
  "$(cli EVAL "return #redis.call('LINDEX', KEYS[1], 6)" 1 replay_alert:bad)" "64 MiB kept whole"

note "a 64 MiB message arriving while the consumer waits (BLMOVE) is parked too"
cli DEL replay_alert:bad >/dev/null
# One long wait: the message must reach the consumer through BLMOVE, not through
# the pop script of a consumer between two waits. Five minutes, because pushing and
# parking 64 MiB under ASan on a loaded machine took over a minute once (the
# consumer then gave up idle before the next message).
"$tool" consume "$REDIS_URL" alert bad-2 --max 1 --idle-exit 300000 --wait-slice 300000 \
  >"$T/wait.out" 2>"$T/wait.err" &
waiter=$!
on_exit "kill -KILL $waiter"
wait_blmove "the waiting consumer"
cli -x RPUSH replay_alert <"$big" >/dev/null
cli RPUSH replay_alert '{"alert_id": "after-big"}' >/dev/null
wait "$waiter" || fail "waiting consumer failed: $(cat "$T/wait.err")"
assert_eq "ACKED after-big" "$(grep '^ACKED' "$T/wait.out")" "consumer went on"
# The BLMOVE path reads the message, then parks it with this reason (the pop
# script parks without reading and logs "...: larger than the limit").
assert_contains "$(cat "$T/wait.err")" \
  "to replay_alert:bad: message of $bigsize bytes is larger than the limit of 16777216 bytes"
assert_eq 1 "$(cli LLEN replay_alert:bad)" "big message parked"
assert_contains "$(entry 0 300)" "larger than the limit of 16777216 bytes"

note "a producer refuses a 64 MiB message with a clear error"
{ printf '"'; head -c $((64 << 20)) /dev/zero | tr '\0' 'p'; printf '"'; } >"$T/bigfile.json"
run "$tool" push "$REDIS_URL" file --stdin <"$T/bigfile.json"
assert_eq 1 "$rc" "push of 64 MiB"
assert_contains "$err" "larger than the limit of 16777216 bytes (REPLAY_ETOOBIG)"
assert_eq 0 "$(cli LLEN replay_file)" "nothing pushed"
echo "queue_bad: ok"
