#!/usr/bin/env bash
# The target goes away for a while in the middle of many imports: everything is
# imported once it is back, nothing goes to the failed directory, no message is
# lost or stuck. LOADER_N bundles (default 60), LOADER_DOWN_SECONDS of outage
# (default 8); the slow run uses 500 and 30.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"
. "$(dirname "$0")/loader_lib.sh"
N=${LOADER_N:-60}
DOWN=${LOADER_DOWN_SECONDS:-8}

start_redis
start_alsim --name target --mode upstream
make_bundles "$N"
loader_config "input_threads: 4"
start_svc loader
start_svc loader-worker
mapfile -t b < <(cd "$T/bundles" && ls)
first=$((N / 10))
(cd "$T/bundles" && cp "${b[@]:0:$first}" "$T/in/")
wait_for 120 "the first tenth imported" imports_at_least "$first"

note "the target stops for ${DOWN}s while the rest arrives"
stop_alsim target
(cd "$T/bundles" && cp "${b[@]:$first}" "$T/in/")
sleep "$DOWN" # the length of the outage is the scenario, not a wait for an event
restart_alsim target
wait_for $((180 + N)) "every bundle imported" target_has_all
wait_for 60 "the input directory emptied" dir_empty "$T/in"
wait_for 60 "no message queued or held" nothing_held
dir_empty "$T/failed" || fail "files in the failed directory: $(ls "$T/failed")"
log_has loader-worker "succeeded after" || fail "the worker never waited for the target"
# An import cut by the outage may have been stored before the answer was lost:
# it is sent again (exist_ok), at most once per worker thread.
extra=$(extra_imports)
[ "$extra" -le 4 ] || fail "$extra imports more than one per bundle"
assert_eq "$N" "$(log_count loader 'Queueing file: ')" "files queued"
loader_finish
