#!/usr/bin/env bash
# The four services' loops under valgrind memcheck (issue 14): a short replay of
# every type, source to target, with the creator's output as the loader's input,
# signed manifests on both sides (creator.manifest, loader.manifest with
# require_signature), each service started, working and stopped with SIGTERM under
# valgrind. Every
# valgrind log must show 0 errors, definite and indirect leaks counted as errors.
# (Plain build only: scripts/test leaves it out of the sanitized pass, where the
# sanitizers do this work and valgrind cannot run.)
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/alsim.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/services.sh"

command -v valgrind >/dev/null || fail "valgrind is not installed (run scripts/setup)"
grep -q '^REPLAY_SANITIZE:BOOL=ON' "$REPLAY_BUILD_DIR/CMakeCache.txt" &&
  fail "valgrind cannot run a sanitized build: run this test in a plain build"
export EMPTY_WAIT_TIME=1 REPLAY_EXPORT_QUIET_SECONDS=1

start_redis
start_alsim --name source --mode upstream
start_alsim --name target --mode upstream
alsim_seed source submissions=12 alerts=6 files=2 results=2 file_size=4096 badlist=6 safelist=6 \
  signatures=6 workflows=6 submission_state=requested >/dev/null
mkdir -p "$T/drop"
"$(bin replay-ctl)" keygen "$T/key" >/dev/null 2>&1 || fail "replay-ctl keygen"
write_config "$T/replay.yml" <<YML
creator:
$(source_client_yaml)
  output_filestore: "file://$T/drop"
  working_directory: "$T/creator-work"
  manifest: {interval: 1, source_name: online-1, signing_key: "$T/key"}
loader:
$(target_client_yaml)
  input_directory: "$T/drop"
  failed_directory: "$T/failed"
  working_directory: "$T/loader-work"
  settle_time: 1
  scan_interval: 1
  manifest: {require_signature: true, trusted_keys: ["$T/key.pub"], wait: 600}
YML

SERVICE_WRAPPER=(valgrind --leak-check=full --show-leak-kinds=definite,indirect
  --errors-for-leak-kinds=definite,indirect --num-callers=30 --log-file="$T/valgrind.%p.log")
for s in creator creator-worker loader loader-worker; do
  start_service "$s" "$T/replay.yml"
done
arrived() {
  check_count target submission '*' 12 && check_count target alert '*' 6 &&
    check_count target badlist '*' 6 && check_count target safelist '*' 6 &&
    check_count target signature '*' 6 && check_count target workflow '*' 6
}
wait_for 600 "every item on the target" arrived
"$(bin replay-ctl)" --config "$T/replay.yml" audit --json >"$T/audit.json" || fail "replay-ctl audit"
jq -e '.sources["online-1"].manifests > 0 and .unlisted_count == 0 and .failures == {}' \
  "$T/audit.json" >/dev/null || fail "audit: $(jq -c . "$T/audit.json")"
services_finish
[ -z "$(ls -A "$T/failed" 2>/dev/null)" ] || fail "files failed: $(ls "$T/failed")"

logs=("$T"/valgrind.*.log)
[ "${#logs[@]}" -eq 4 ] || fail "expected 4 valgrind logs, got ${#logs[@]}: ${logs[*]}"
for log in "${logs[@]}"; do
  prog=$(sed -n 's/^==[0-9]*== Command: \([^ ]*\).*/\1/p' "$log")
  grep -q "ERROR SUMMARY: 0 errors" "$log" ||
    fail "valgrind found errors in $prog: $(grep -m1 -A25 -E 'Invalid|uninitialised|definitely lost|indirectly lost|ERROR SUMMARY' "$log")"
  note "$(basename "$prog"): $(grep -m1 'total heap usage' "$log" | sed 's/^==[0-9]*== *//')"
done
alsim_finish
note "ok"
