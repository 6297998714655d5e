#!/usr/bin/env bash
# The source side end to end (issue 11): replay-creator and replay-creator-worker
# against al-sim in its upstream mode (what a real Assemblyline answers), real
# Redis, file:// output. 200 alerts, 200 submissions and 50 documents of each list:
# exactly the expected files appear, each a valid bundle or batch checked against
# what the source holds, every source document ends `done`, the list checkpoints
# are the newest dates, and the working directory is left empty. Then the same with
# an sftp:// output for a smaller set.
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/alsim.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/servers.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/services.sh"

export EMPTY_WAIT_TIME=1 REPLAY_EXPORT_QUIET_SECONDS=1

start_redis
start_alsim --name source --mode upstream
alsim_seed source submissions=200 alerts=200 files=1 results=1 file_size=512 badlist=50 \
  safelist=50 signatures=50 workflows=50 submission_state=requested >/dev/null

# creator_config OUTPUT_URL: default threads (six per input), as an operator would.
creator_config() {
  write_config "$T/replay.yml" <<YML
creator:
  client:
    type: api
    options: {host: "$ALSIM_SOURCE_URL", user: "$ALSIM_SOURCE_USER", apikey: "$ALSIM_SOURCE_APIKEY"}
  output_filestore: "$1"
  working_directory: "$T/work"
YML
}

all_replayed() { # OUTDIR: every document done, every list document in a batch
  check_count source alert 'metadata.replay:done' 200 &&
    check_count source submission 'metadata.replay:done' 200 &&
    for c in badlist safelist signature workflow; do
      replay_check batches "$1" "$ALSIM_SOURCE_URL" "$c" >/dev/null 2>&1 || return 1
    done
}

mkdir -p "$T/out"
creator_config "file://$T/out"
start_service creator "$T/replay.yml"
start_service creator-worker "$T/replay.yml"
wait_for 240 "every alert and submission done, every list document exported" all_replayed "$T/out"
services_finish

note "checking the output against the source"
replay_check bundles "$T/out" "$ALSIM_SOURCE_URL" alert --exact
replay_check bundles "$T/out" "$ALSIM_SOURCE_URL" submission --exact
for c in badlist safelist signature workflow; do
  replay_check batches "$T/out" "$ALSIM_SOURCE_URL" "$c" --once
done
assert_eq 0 "$(search_total source alert 'metadata.replay:pending')" "alerts left pending"
assert_eq 0 "$(search_total source submission 'metadata.replay:pending')" "submissions left pending"
assert_eq "" "$(ls -A "$T/work")" "files left in the working directory"
assert_eq 400 "$(ls "$T/out" | grep -c '\.al_bundle$')" "bundles in the output"
assert_eq "" "$(find "$T/out" -type f ! -perm 0640 -printf '%m %p\n')" "output files not 0640"
assert_eq 750 "$(stat -c %a "$T/work")" "mode of the working directory"
assert_eq 0 "$(ls "$T/out" | grep -c '^replay_manifest_' || true)" "manifests without creator.manifest"

note "the checkpoints are the newest date of each collection"
for c in badlist:updated safelist:updated signature:last_modified workflow:last_edit; do
  coll=${c%%:*} field=${c#*:}
  newest=$(curl -s "$ALSIM_SOURCE_URL/_sim/docs/$coll" | jq -r "[.[].$field] | max")
  stored=$(redis-cli -p "$REDIS_PORT" hget replay_checkpoints "$coll")
  assert_eq "\"$newest\"" "$stored" "$coll checkpoint"
done

note "a second pass finds nothing more to do"
: >"$T/creator.log"
start_service creator "$T/replay.yml"
wait_for 30 "the creator rests" grep -q "Exporting workflow documents changed after" "$T/creator.log"
# Three heartbeats (several idle passes with EMPTY_WAIT_TIME=1): nothing is
# queued again (upstream re-queues list documents endlessly).
wait_for 30 "a heartbeat" test -f "$T/creator.hb"
for i in 1 2 3; do
  before=$(stat -c %Y "$T/creator.hb")
  wait_for 30 "heartbeat $i" bash -c "[ \$(stat -c %Y '$T/creator.hb') -gt $before ]"
done
if grep -q "Replaying" "$T/creator.log"; then
  fail "the creator queued something again: $(grep -m3 Replaying "$T/creator.log")"
fi
for q in alert submission badlist safelist signature workflow; do
  assert_eq 0 "$(redis-cli -p "$REDIS_PORT" llen "replay_$q")" "replay_$q after an idle pass"
done
stop_service creator

note "sftp:// output, from another source"
start_sshd
redis-cli -p "$REDIS_PORT" flushall >/dev/null
start_alsim --name source2 --mode upstream
alsim_seed source2 submissions=20 alerts=10 files=1 results=1 file_size=512 badlist=5 \
  submission_state=requested >/dev/null
ALSIM_SOURCE_URL=$ALSIM_SOURCE2_URL
creator_config "sftp://$SSH_USER@127.0.0.1:$SSH_PORT/$SSH_HOME/out?private_key=$SSH_KEY"
start_service creator@sftp "$T/replay.yml"
start_service creator-worker@sftp "$T/replay.yml"
sftp_done() {
  check_count source2 alert 'metadata.replay:done' 10 &&
    check_count source2 submission 'metadata.replay:done' 20 &&
    replay_check batches "$SSH_HOME/out" "$ALSIM_SOURCE2_URL" badlist >/dev/null 2>&1
}
wait_for 120 "every document of the second source replayed over sftp" sftp_done
services_finish
replay_check bundles "$SSH_HOME/out" "$ALSIM_SOURCE2_URL" alert --exact
replay_check bundles "$SSH_HOME/out" "$ALSIM_SOURCE2_URL" submission --exact
replay_check batches "$SSH_HOME/out" "$ALSIM_SOURCE2_URL" badlist --once
alsim_finish
note "ok"
