#!/usr/bin/env bash
# The source side survives crashes (issue 11): while 200 alerts, 200 submissions
# and 50 documents of each list are replayed, replay-creator and
# replay-creator-worker are SIGKILLed at random moments and started again. In the
# end: exactly the expected files, each valid, none missing, no document left
# pending, nothing left in the working directory.
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/alsim.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/services.sh"

export EMPTY_WAIT_TIME=1 REPLAY_EXPORT_QUIET_SECONDS=1
KILLS=${REPLAY_TEST_KILLS:-12}

start_redis
# Each bundle takes 200 ms to start: the replay lasts long enough, on a fast
# machine too, for the kills and outages to land in its middle.
start_alsim --name source --mode upstream --fault kind=stall,ms=200,count=0,path=/api/v4/bundle/
alsim_seed source submissions=200 alerts=200 files=3 results=2 file_size=65536 badlist=50 \
  safelist=50 signatures=50 workflows=50 submission_state=requested >/dev/null
mkdir -p "$T/out"
write_config "$T/replay.yml" <<YML
creator:
  client:
    type: api
    options: {host: "$ALSIM_SOURCE_URL", user: "$ALSIM_SOURCE_USER", apikey: "$ALSIM_SOURCE_APIKEY"}
  output_filestore: "file://$T/out"
  working_directory: "$T/work"
YML

all_replayed() {
  check_count source alert 'metadata.replay:done' 200 &&
    check_count source submission 'metadata.replay:done' 200 &&
    for c in badlist safelist signature workflow; do
      replay_check batches "$T/out" "$ALSIM_SOURCE_URL" "$c" >/dev/null 2>&1 || return 1
    done
}

start_service creator "$T/replay.yml"
start_service creator-worker "$T/replay.yml"
mid_run=0
for i in $(seq 1 "$KILLS"); do
  # 0.1 to 0.8 s apart, in the middle of whatever they are doing.
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.1 + (r % 70) / 100 }')"
  victim=creator-worker
  [ $((RANDOM % 3)) -eq 0 ] && victim=creator
  out=$(ls "$T/out" | wc -l)
  [ "$out" -lt 400 ] && mid_run=$((mid_run + 1))
  note "kill $i: $victim ($out files out)"
  kill_service "$victim"
  start_service "$victim" "$T/replay.yml"
done
[ "$mid_run" -ge $((KILLS / 2)) ] || fail "only $mid_run of $KILLS kills hit a running replay"
wait_for 300 "every document replayed after $KILLS kills" all_replayed
services_finish

replay_check bundles "$T/out" "$ALSIM_SOURCE_URL" alert --exact
replay_check bundles "$T/out" "$ALSIM_SOURCE_URL" submission --exact
for c in badlist safelist signature workflow; do
  replay_check batches "$T/out" "$ALSIM_SOURCE_URL" "$c"
done
assert_eq 0 "$(search_total source alert 'metadata.replay:pending')" "alerts left pending"
assert_eq 0 "$(search_total source submission 'metadata.replay:pending')" "submissions left pending"
assert_eq "" "$(ls -A "$T/work")" "files left in the working directory"
for q in alert submission badlist safelist signature workflow; do
  assert_eq 0 "$(redis-cli -p "$REDIS_PORT" llen "replay_$q:bad")" "replay_$q:bad"
done
alsim_finish
note "ok: $KILLS kills"
