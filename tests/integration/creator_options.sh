#!/usr/bin/env bash
# The creator's options (issue 11): lookback_time, filter_queries and disabled
# inputs are honoured; a configuration with only list inputs works (upstream
# crash-loops there); a filter query the source refuses (400) is reported clearly
# and backed off, not spun on, while the other inputs go on; a working directory
# or file:// output the worker cannot use stops it at start with exit 2.
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/alsim.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/services.sh"

export EMPTY_WAIT_TIME=1 REPLAY_EXPORT_QUIET_SECONDS=1

start_redis
start_alsim --name source --mode upstream
# Old documents (2020) and recent ones; every list documented.
alsim_seed source submissions=6 alerts=6 files=1 results=1 file_size=256 badlist=4 safelist=4 \
  signatures=4 workflows=4 start=2020-01-01T00:00:00Z submission_state=requested >/dev/null
alsim_seed source submissions=6 alerts=6 files=1 results=1 file_size=256 badlist=0 safelist=0 \
  signatures=0 workflows=0 submission_state=requested >/dev/null
sid_where() { # jq test on times.completed → the first such sid
  curl -s "$ALSIM_SOURCE_URL/_sim/docs/submission" |
    jq -r "[to_entries[] | select(.value.times.completed | $1) | .key] | sort | first"
}
old_sid=$(sid_where 'startswith("2020")')
new_sid=$(sid_where 'startswith("2020") | not')

config() { # extra YAML for the creator section
  write_config "$T/replay.yml" <<YML
creator:
  client:
    type: api
    options: {host: "$ALSIM_SOURCE_URL", user: "$ALSIM_SOURCE_USER", apikey: "$ALSIM_SOURCE_APIKEY"}
  output_filestore: "file://$T/out"
  working_directory: "$T/work"
$1
YML
}
queued() { redis-cli -p "$REDIS_PORT" llen "replay_$1"; }

note "a working directory the worker cannot use: one line naming the key, exit 2"
touch "$T/a-file"
config ""
sed "s|working_directory: \"$T/work\"|working_directory: \"$T/a-file/work\"|" "$T/replay.yml" >"$T/bad.yml"
run "$(bin replay-creator-worker)" --config "$T/bad.yml" --log-format text
assert_eq 2 "$rc" "exit code of the worker with an unusable working directory"
assert_contains "$err" "Bad configuration: creator.working_directory: cannot create $T/a-file/work"
sed "s|output_filestore: \"file://$T/out\"|output_filestore: \"file://$T/a-file/out\"|" "$T/replay.yml" >"$T/bad.yml"
run "$(bin replay-creator-worker)" --config "$T/bad.yml" --log-format text
assert_eq 2 "$rc" "exit code of the worker with an unusable file:// output"
assert_contains "$err" "Bad configuration: creator.output_filestore: cannot create $T/a-file/out"

note "lookback_time, filter_queries and disabled inputs"
config "  lookback_time: \"2024-01-01T00:00:00Z\"
  submission_input: {filter_queries: [\"metadata.replay:requested\", \"sid:$old_sid OR sid:$new_sid\"]}
  badlist_input: {enabled: false}
  signature_input: {enabled: false}"
start_service creator "$T/replay.yml"
wait_for 30 "the recent alerts queued" bash -c "[ \$(redis-cli -p $REDIS_PORT llen replay_alert) -eq 6 ]"
wait_for 30 "the lists queued" bash -c "[ \$(redis-cli -p $REDIS_PORT llen replay_workflow) -eq 4 ]"
# Several idle passes later, nothing more comes.
wait_for 30 "idle passes" bash -c "[ \$(grep -c 'Load Workflows' '$T/creator.log') -ge 1 ]"
before=$(stat -c %Y "$T/creator.log")
wait_for 30 "a quiet log" bash -c "[ \$(date +%s) -ge \$(( $before + 4 )) ]"
assert_eq 6 "$(queued alert)" "alerts queued (only those after lookback_time)"
# Of the two submissions the filter lets through, only the recent one is after lookback_time.
assert_eq 1 "$(queued submission)" "submissions queued"
assert_contains "$(redis-cli -p "$REDIS_PORT" lrange replay_submission 0 -1)" "$new_sid"
assert_eq 0 "$(queued badlist)" "badlist (disabled) queued"
assert_eq 0 "$(queued signature)" "signature (disabled) queued"
assert_eq 4 "$(queued safelist)" "safelist queued"
stop_service creator
grep -q "Load Badlists" "$T/creator.log" && fail "a thread was started for the disabled badlist input"

note "a restart queues again only the pending documents whose message is gone"
# Of the 6 alerts left pending and queued: one message lost, one held by a worker.
lost=$(redis-cli -p "$REDIS_PORT" rpop replay_alert)
held=$(redis-cli -p "$REDIS_PORT" lmove replay_alert replay_alert:processing:test-worker RIGHT LEFT)
[ -n "$lost" ] && [ -n "$held" ] || fail "no alert messages to lose and hold"
# Messages without a usable id do not stop the reading (a consumer sets them aside).
redis-cli -p "$REDIS_PORT" lpush replay_alert 'not json' '{"alert_id": 7}' '[1]' >/dev/null
start_service creator "$T/replay.yml"
wait_for 30 "the alert recovery logged" grep -q "Queued again 1 alert(s) left pending by an earlier run (5 still queued left alone)" "$T/creator.log"
wait_for 30 "the submission recovery logged" grep -q "Queued again 0 submission(s) left pending by an earlier run (1 still queued left alone)" "$T/creator.log"
stop_service creator
assert_eq 8 "$(queued alert)" "alert messages queued after the restart (3 unusable)"
assert_eq "$lost" "$(redis-cli -p "$REDIS_PORT" lindex replay_alert -1)" "the lost alert queued again (at the tail)"
assert_eq 1 "$(queued submission)" "submissions queued after the restart"
assert_eq 1 "$(redis-cli -p "$REDIS_PORT" llen replay_alert:processing:test-worker)" "the held alert"

note "only list inputs enabled: both services run and export"
redis-cli -p "$REDIS_PORT" flushall >/dev/null
mkdir -p "$T/out"
config "  alert_input: {enabled: false}
  submission_input: {enabled: false}"
: >"$T/creator.log"
start_service creator "$T/replay.yml"
start_service creator-worker "$T/replay.yml"
lists_done() {
  for c in badlist safelist signature workflow; do
    replay_check batches "$T/out" "$ALSIM_SOURCE_URL" "$c" >/dev/null 2>&1 || return 1
  done
}
wait_for 60 "every list document exported" lists_done
ls "$T/out" | grep -q al_bundle && fail "bundles made with alert and submission inputs disabled"
services_finish

note "a filter query the source refuses is reported and backed off"
redis-cli -p "$REDIS_PORT" flushall >/dev/null
config "  alert_input: {filter_queries: [\"reporting_ts:[broken\"]}"
: >"$T/creator.log"
curl -s -X DELETE "$ALSIM_SOURCE_URL/_sim/requests" >/dev/null
start_service creator "$T/replay.yml"
wait_for 30 "the refusal logged" grep -q "The source refused the alert search" "$T/creator.log"
assert_file_contains "$T/creator.log" "creator.alert_input.filter_queries"
# The submissions go on meanwhile.
wait_for 30 "submissions queued" bash -c "[ \$(redis-cli -p $REDIS_PORT llen replay_submission) -ge 6 ]"
first=$(date +%s)
wait_for 30 "ten seconds" bash -c "[ \$(date +%s) -ge \$(( $first + 10 )) ]"
searches=$(curl -s "$ALSIM_SOURCE_URL/_sim/requests" |
  jq '[.[] | select(.method == "POST" and (.uri | startswith("/api/v4/search/alert/")))] | length')
note "$searches alert searches in about 10 s"
[ "$searches" -le 8 ] || fail "the refused search was retried $searches times: it spins"
service_alive creator || fail "the creator died"
stop_service creator
alsim_finish
note "ok"
