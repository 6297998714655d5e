#!/usr/bin/env bash
# The source side through outages (issue 11): while 200 alerts, 200 submissions and
# 50 documents of each list are replayed, the source goes away for 20 s, then the
# queue Redis (no persistence, as Assemblyline's redis-volatile) restarts and loses
# every queued message and processing list. In the end: exactly the expected files,
# each valid, none missing, no document left pending (upstream loses the queued
# work until its creator restarts).
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/alsim.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/services.sh"

export EMPTY_WAIT_TIME=1 REPLAY_EXPORT_QUIET_SECONDS=1
DOWN=${REPLAY_TEST_SOURCE_DOWN:-20}

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
bundles() { ls "$T/out" | grep -c '\.al_bundle$' || true; }
all_replayed() {
  check_count source alert 'metadata.replay:done' 200 &&
    check_count source submission 'metadata.replay:done' 200 &&
    for c in badlist safelist signature workflow; do
      replay_check batches "$T/out" "$ALSIM_SOURCE_URL" "$c" >/dev/null 2>&1 || return 1
    done
}

start_service creator "$T/replay.yml"
start_service creator-worker "$T/replay.yml"
wait_for 120 "a first part bundled" bash -c "[ \$(ls '$T/out' | grep -c al_bundle) -ge 60 ]"
note "source down for ${DOWN}s at $(bundles) bundles"
stop_alsim source
before=$(bundles)
start=$(date +%s)
wait_for $((DOWN + 30)) "the outage lasted" bash -c "[ \$(date +%s) -ge $((start + DOWN)) ]"
service_alive creator && service_alive creator-worker || fail "a service died in the outage"
restart_alsim source
note "source back after $(($(date +%s) - start))s; $before then $(bundles) bundles"

wait_for 120 "more bundled" bash -c "[ \$(ls '$T/out' | grep -c al_bundle) -ge $((before + 60)) ]"
queued=$(redis-cli -p "$REDIS_PORT" llen replay_alert)
note "queue Redis restarted (data lost) at $(bundles) bundles, $queued alerts queued"
restart_redis

wait_for 300 "every document replayed after the outages" all_replayed
services_finish
replay_check bundles "$T/out" "$ALSIM_SOURCE_URL" alert --exact
replay_check bundles "$T/out" "$ALSIM_SOURCE_URL" submission --exact
for c in badlist safelist signature workflow; do
  replay_check batches "$T/out" "$ALSIM_SOURCE_URL" "$c"
done
assert_eq 0 "$(search_total source alert 'metadata.replay:pending')" "alerts left pending"
assert_eq 0 "$(search_total source submission 'metadata.replay:pending')" "submissions left pending"
assert_eq "" "$(ls -A "$T/work")" "files left in the working directory"
assert_file_contains "$T/creator.log" "The queue Redis lost its data"
alsim_finish
note "ok"
