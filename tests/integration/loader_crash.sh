#!/usr/bin/env bash
# SIGKILL of the loader, of the worker, of both, in the middle of a run: every
# bundle is imported, no file is left in the input directory, nothing is held in
# a queue, nothing is in the failed directory. A worker killed between an import
# and its acknowledgement imports that file again (exist_ok makes it harmless):
# at most once per thread and kill.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"
. "$(dirname "$0")/loader_lib.sh"
N=${LOADER_N:-120}
THREADS=3

start_redis
start_alsim --name target --mode upstream
make_bundles "$N"
loader_config "input_threads: $THREADS"
start_svc loader
start_svc loader-worker
cp "$T/bundles"/* "$T/in/"

wait_for 120 "a quarter imported" imports_at_least $((N / 4))
note "SIGKILL of the worker"
kill_svc loader-worker
start_svc loader-worker
wait_for 120 "half imported" imports_at_least $((N / 2))
note "SIGKILL of the loader"
kill_svc loader
start_svc loader
wait_for 120 "three quarters imported" imports_at_least $((3 * N / 4))
note "SIGKILL of both"
kill_svc loader
kill_svc loader-worker
start_svc loader-worker
start_svc loader

wait_for $((120 + N)) "every bundle imported" target_has_all
wait_for 60 "the input directory emptied" dir_empty "$T/in"
wait_for 60 "no message queued or held" nothing_held
dir_empty "$T/failed" || fail "files in the failed directory: $(ls "$T/failed")"
extra=$(extra_imports)
[ "$extra" -le $((2 * THREADS)) ] || fail "$extra imports more than one per bundle"
note "$extra bundle(s) imported twice after the kills"
loader_finish
