#!/usr/bin/env bash
# Reliable consumption (decisions.md §3) with real processes: a consumer killed with
# SIGKILL between pop and ack gets the item again after restart, exactly once more;
# the lists of consumers not seen for a while are recovered by another consumer,
# those of live consumers are not; release puts an item back at the head; SIGTERM
# stops a waiting consumer promptly.
. "$(dirname "$0")/lib.sh"

tool=$(bin queue_tool)
start_redis --aof
. "$(dirname "$0")/queue_lib.sh"

# consume_bg OUT ARGS...: starts a consumer in the background, sets $bgpid.
consume_bg() {
  local out=$1; shift
  "$tool" consume "$REDIS_URL" "$@" >"$out" 2>"$out.err" &
  bgpid=$!
  on_exit "kill -KILL $bgpid"
}
holding() { grep -q '^HOLDING' "$1"; }

note "SIGKILL between pop and ack: delivered exactly once more after restart"
"$tool" push "$REDIS_URL" alert --alerts 5 --prefix A
consume_bg "$T/run1" alert slot-1 --hold
wait_until 20 holding "$T/run1" || fail "consumer did not pop: $(cat "$T/run1.err")"
kill -KILL "$bgpid"
wait "$bgpid" 2>/dev/null || true
assert_eq "DELIVERED A0" "$(head -1 "$T/run1")" "first delivery"
assert_eq 1 "$(cli LLEN replay_alert:processing:slot-1)" "item parked in the processing list"
assert_eq 4 "$(cli LLEN replay_alert)" "the rest still queued"
run "$tool" consume "$REDIS_URL" alert slot-1 --idle-exit 500
assert_eq 0 "$rc" "restart exit ($err)"
assert_contains "$err" "Returned 1 unacknowledged item(s) of consumer slot-1 to replay_alert"
assert_eq "A0 A1 A2 A3 A4" "$(grep '^ACKED' <<<"$out" | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')" \
  "second run acks each item once, the returned one first"
assert_eq 1 "$(grep -c '^DELIVERED A0' <<<"$out")" "A0 delivered exactly once more"
assert_eq 0 "$(cli LLEN replay_alert:processing:slot-1)" "processing list empty"
assert_eq 0 "$(cli EXISTS replay_alert:consumers)" "liveness record removed at a clean close"

note "a consumer holds a batch (as a list exporter until its upload): killed, all come back"
for i in 1 2 3; do "$tool" push "$REDIS_URL" badlist --json "{\"id\": \"L$i\"}"; done
consume_bg "$T/batch" badlist slot-b --batch 3 --hold
wait_until 20 holding "$T/batch" || fail "batch consumer did not fill its batch: $(cat "$T/batch.err")"
kill -KILL "$bgpid"
assert_eq 3 "$(cli LLEN replay_badlist:processing:slot-b)" "three held items in the processing list"
run "$tool" consume "$REDIS_URL" badlist slot-b --batch 100 --idle-exit 300
assert_eq "L1 L2 L3" "$(grep '^ACKED' <<<"$out" | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')" \
  "the batch delivered again, in order"
assert_contains "$err" "Returned 3 unacknowledged item(s) of consumer slot-b"

note "batches larger than one acknowledgement round (64): every item acked once"
"$tool" push "$REDIS_URL" alert --alerts 150 --prefix K
run "$tool" consume "$REDIS_URL" alert slot-k --batch 100 --idle-exit 300
assert_eq 150 "$(grep -c '^ACKED K' <<<"$out")" "acks"
assert_eq 150 "$(grep '^ACKED K' <<<"$out" | sort -u | wc -l)" "distinct acks"
assert_eq 0 "$(cli LLEN replay_alert:processing:slot-k)" "processing list empty"
assert_eq 0 "$(cli LLEN replay_alert)" "queue empty"

note "a dead consumer's list is recovered by another; a live one's is not"
"$tool" push "$REDIS_URL" submission --json '{"sid": "S-dead"}'
consume_bg "$T/dead" submission slot-dead --hold
wait_until 20 holding "$T/dead" || fail "consumer did not pop"
kill -KILL "$bgpid"
"$tool" push "$REDIS_URL" submission --json '{"sid": "S-live"}'
consume_bg "$T/live" submission slot-live --hold
wait_until 20 holding "$T/live" || fail "consumer did not pop"
livepid=$bgpid
# slot-live holds its item and touches its record (long work); slot-dead was killed.
run "$tool" consume "$REDIS_URL" submission slot-other --idle-exit 300 --dead-after 600000
assert_not_contains "$out" "S-dead" "a consumer seen recently is not taken for dead"
assert_eq 1 "$(cli LLEN replay_submission:processing:slot-dead)" "dead list untouched so far"
wait_until 60 unseen_over replay_submission slot-dead 3000 || fail "slot-dead's record stays fresh"
run "$tool" consume "$REDIS_URL" submission slot-other --idle-exit 300 --dead-after 3000
assert_eq 0 "$rc" "recovering consumer exit ($err)"
assert_contains "$out" "ACKED S-dead"
assert_contains "$err" "of replay_submission not seen for 3 s to the queue"
assert_eq 0 "$(cli EXISTS replay_submission:processing:slot-dead)" "dead list emptied"
assert_eq 0 "$(cli HEXISTS replay_submission:consumers slot-dead)" "dead record removed"
assert_not_contains "$out" "S-live" "a live consumer's item"
assert_eq 1 "$(cli LLEN replay_submission:processing:slot-live)" "live list untouched"
kill -KILL "$livepid"

note "release puts the item back at the head of the queue"
cli DEL replay_submission replay_submission:consumers 'replay_submission:processing:slot-live' >/dev/null
"$tool" push "$REDIS_URL" submission --json '{"sid": "R1"}'
"$tool" push "$REDIS_URL" submission --json '{"sid": "R2"}'
run "$tool" consume "$REDIS_URL" submission slot-r --release-first
assert_contains "$out" "RELEASED R1"
assert_eq '{"sid": "R1"}' "$(cli --raw LINDEX replay_submission 0)" "released item at the head"
assert_eq 2 "$(cli LLEN replay_submission)" "nothing lost or doubled"

note "an item left in the processing list by a cut connection goes back to the queue"
consume_bg "$T/cut" safelist slot-cut --max 2
wait_blmove "consumer slot-cut"
# What a BLMOVE whose reply was lost leaves behind: an item nobody was handed.
cli RPUSH replay_safelist:processing:slot-cut '{"id": "stray"}' >/dev/null
cli CLIENT KILL TYPE normal >/dev/null
cli RPUSH replay_safelist '{"id": "after"}' >/dev/null
wait_until 60 bash -c "! kill -0 $bgpid" || fail "consumer did not get both items: $(cat "$T/cut")"
wait "$bgpid" || fail "consumer failed: $(cat "$T/cut.err")"
assert_eq "ACKED after ACKED stray" "$(grep '^ACKED' "$T/cut" | sort | tr '\n' ' ' | sed 's/ $//')" \
  "both delivered once"
assert_contains "$(cat "$T/cut.err")" "Returned 1 item(s) whose delivery to slot-cut was cut by a reconnect"
assert_eq 0 "$(cli LLEN replay_safelist:processing:slot-cut)" "processing list empty"

note "SIGTERM stops a consumer waiting on an empty queue promptly (not after a 30 s BLPOP)"
consume_bg "$T/term" workflow slot-t
wait_blmove "consumer slot-t"
start=$(date +%s%N)
kill -TERM "$bgpid"
wait "$bgpid"
code=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
assert_eq 0 "$code" "exit code after SIGTERM"
[ "$elapsed_ms" -lt 10000 ] || fail "SIGTERM took ${elapsed_ms} ms (wait slices are 500 ms; upstream waits up to 30 s)"
echo "queue_crash: ok"
