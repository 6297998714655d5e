#!/usr/bin/env bash
# Signed manifests at the source (issue 16, stage 2): replay-creator and
# replay-creator-worker against al-sim in its upstream mode and a real Redis,
# creator.manifest on with a key from replay-ctl keygen. Every bundle and export
# is listed, with its size and sha256, by manifests whose signatures OpenSSL
# verifies and whose sequence and hash chain hold across a crash (SIGKILL) and a
# clean stop of the worker. A bad signing key or a missing source name stops the
# worker at start with exit 2 and a message that never quotes the key.
# Then the whole way across: the output, copied into a loader's input directory
# (bundles first, manifests last), imports whole with require_signature on, and
# `replay-ctl audit` finds no gap, nothing missing, nothing unlisted, no failure.
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/alsim.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/services.sh"

export EMPTY_WAIT_TIME=1 REPLAY_EXPORT_QUIET_SECONDS=1
CTL=$(bin replay-ctl)
CHECK=(python3 "$REPLAY_SOURCE_DIR/tests/integration/manifest_check.py")

start_redis
start_alsim --name source --mode upstream
N=40
alsim_seed source submissions=$N alerts=$N files=1 results=1 file_size=4096 badlist=6 \
  submission_state=requested >/dev/null
"$CTL" keygen "$T/key" >"$T/fingerprint"

# config [MANIFEST BLOCK LINES]: the source side with creator.manifest as given.
config() {
  write_config "$T/replay.yml" <<YML
creator:
$(source_client_yaml)
  output_filestore: "file://$T/out"
  working_directory: "$T/work"
  alert_input: {threads: 2}
  submission_input: {threads: 2}
  badlist_input: {threads: 1}
  safelist_input: {enabled: false}
  signature_input: {enabled: false}
  workflow_input: {enabled: false}
  manifest:
$1
YML
}
mkdir -p "$T/out" "$T/work"
GOOD="    interval: 1
    source_name: online-1
    signing_key: $T/key"

note "a bad signing key, or no source name: exit 2 at start, the key never quoted"
body=$(sed -n 2p "$T/key")
chmod 644 "$T/key"
config "$GOOD"
run "$(bin replay-creator-worker)" --config "$T/replay.yml" --log-format text
assert_eq 2 "$rc" "exit with a group-readable key"
assert_contains "$err" "creator.manifest.signing_key"
assert_contains "$err" "readable by its owner only"
assert_not_contains "$err$out" "$body" "output"
chmod 600 "$T/key"
openssl genpkey -algorithm x25519 -out "$T/x25519" 2>/dev/null && chmod 600 "$T/x25519"
config "    interval: 1
    source_name: online-1
    signing_key: $T/x25519"
run "$(bin replay-creator-worker)" --config "$T/replay.yml" --log-format text
assert_eq 2 "$rc" "exit with an X25519 key"
assert_contains "$err" "not an Ed25519 key"
config "    interval: 1"
run "$(bin replay-creator-worker)" --config "$T/replay.yml" --log-format text
assert_eq 2 "$rc" "exit without a source name"
assert_contains "$err" "creator.manifest.source_name: required"
config "    interval: 1
    source_name: 'a/b'"
run "$(bin replay-creator-worker)" --config "$T/replay.yml" --log-format text
assert_eq 2 "$rc" "exit with a bad source name"
[ -z "$(ls -A "$T/out")" ] || fail "a refused start wrote to the output"

# Every data file of the output listed by valid manifests.
all_listed() { "${CHECK[@]}" "$T/out" --pub "$T/key.pub" --listed-all >/dev/null 2>&1; }

note "the worker killed while it works, restarted, stopped cleanly, started again"
config "$GOOD"
start_service creator "$T/replay.yml"
start_service creator-worker "$T/replay.yml"
wait_for 120 "a first manifest" bash -c "ls '$T/out' | grep -q '^replay_manifest_.*_1\.json\$'"
kill_service creator-worker
start_service creator-worker "$T/replay.yml"
wait_for 240 "every alert and submission done" bash -c \
  "$(declare -f check_count search_total alsim_curl _alsim_var); check_count source alert 'metadata.replay:done' $N && check_count source submission 'metadata.replay:done' $N"
wait_for 120 "every output file listed in a verified manifest" all_listed
stop_service creator-worker
"${CHECK[@]}" "$T/out" --pub "$T/key.pub" --listed-all || fail "manifests after the stop"
n1=$(ls "$T/out" | grep -c '^replay_manifest_.*\.json$')
seq=$(redis-cli -p "$REDIS_PORT" hget replay_manifest:online-1:state sequence)
assert_eq "$n1" "$seq" "the sequence kept in the persistent Redis"
assert_eq 0 "$(redis-cli -p "$REDIS_PORT" llen replay_manifest:online-1:files)" "records left"
assert_eq $((2 * N)) "$(ls "$T/out" | grep -c '\.al_bundle$')" "bundles"
writers=$(grep "Wrote manifest" "$T/creator-worker.log" | awk '{print $5}' | sort -u | wc -l)
[ "$writers" -ge 2 ] || fail "manifests written by $writers worker process(es), expected both"

note "a record left in Redis by a stopped worker goes into the next run's first manifest"
name=$(ls "$T/out" | grep -m1 '\.al_bundle$')
cp "$T/out/$name" "$T/out/extra_$name"
entry=$(jq -cn --arg n "extra_$name" --argjson s "$(stat -c %s "$T/out/$name")" \
  --arg h "$(sha256sum "$T/out/$name" | cut -d' ' -f1)" \
  '{name: $n, size: $s, sha256: $h, type: "alert", ids: ["x"]}')
redis-cli -p "$REDIS_PORT" rpush replay_manifest:online-1:files "$entry" >/dev/null
start_service creator-worker "$T/replay.yml"
wait_for 60 "the record listed" bash -c "grep -l 'extra_$name' '$T'/out/replay_manifest_*.json"
services_finish
"${CHECK[@]}" "$T/out" --pub "$T/key.pub" || fail "manifests after the restart"
n2=$(ls "$T/out" | grep -c '^replay_manifest_.*\.json$')
assert_eq $((n1 + 1)) "$n2" "manifests after the restart"
assert_not_contains "$(cat "$T/creator-worker.log")" "$body" "worker log"

note "across the gap: every file imports with require_signature on; the audit is clean"
start_alsim --name target --mode upstream
mkdir -p "$T/in" "$T/failed" "$T/lwork"
write_config "$T/loader.yml" <<YML
loader:
$(target_client_yaml)
  input_directory: "$T/in"
  failed_directory: "$T/failed"
  working_directory: "$T/lwork"
  settle_time: 1
  scan_interval: 1
  input_threads: 4
  manifest: {require_signature: true, trusted_keys: ["$T/key.pub"], wait: 600}
YML
start_service loader "$T/loader.yml"
start_service loader-worker "$T/loader.yml"
files=$(ls "$T/out" | grep -vc '^replay_manifest_')
for f in $(ls "$T/out" | grep -v '^replay_manifest_' | shuf) $(ls "$T/out" | grep '^replay_manifest_'); do
  cp "$T/out/$f" "$T/in/.$f.part" && mv "$T/in/.$f.part" "$T/in/$f"
done
wait_for 300 "the input directory empty" bash -c "[ -z \"\$(ls -A '$T/in')\" ]"
[ -z "$(ls -A "$T/failed")" ] || fail "files failed: $(ls "$T/failed")"
"$CTL" --config "$T/loader.yml" audit --json >"$T/audit.json" || fail "replay-ctl audit"
jq -e --argjson n "$n2" '.sources["online-1"] | .manifests == $n and .first == 1 and .last == $n
  and .gap_count == 0 and .unverified == 0 and .missing == [] and .failures == {}' "$T/audit.json" \
  >/dev/null || fail "audit of the source: $(jq -c '.sources' "$T/audit.json")"
jq -e '.missing_count == 0 and .awaiting_count == 0 and .unlisted_count == 0 and .failures == {}' \
  "$T/audit.json" >/dev/null || fail "audit: $(jq -c 'del(.sources)' "$T/audit.json")"
# Every alert and submission bundle, and the extra copy listed above.
assert_eq "$((2 * N + 1))" "$(alsim_curl target /_sim/imports | jq '[.[] | select(.status == 200)] | length')" \
  "bundles imported by the target"
services_finish
echo "creator manifests: ok ($n2 manifests, $files files across)"
