#!/usr/bin/env bash
# scripts/demo (issue 13) with this build's executables (--build-dir, no setup, no
# build): a small replay succeeds, with every type arrived, nothing failed, and no
# process or directory left behind; a target that refuses files makes it exit 1,
# naming the files, the reasons and what is missing; bad usage exits 2 before
# anything starts; SIGINT to the script alone, and to its whole process group as a
# terminal's Ctrl-C sends it, stops every process it started and exits 1.
. "$(dirname "$0")/lib.sh"
DEMO="$REPLAY_SOURCE_DIR/scripts/demo"

note "bad usage exits 2 and names the problem"
bad_usage() { # expected message, args...
  local msg=$1; shift
  run "$DEMO" --no-setup --build-dir "$REPLAY_BUILD_DIR" "$@"
  assert_eq 2 "$rc" "exit code of scripts/demo $*"
  assert_contains "$err" "$msg" "stderr of scripts/demo $*"
  assert_eq "" "$out" "stdout of scripts/demo $*"
}
bad_usage "unknown argument '--bogus'" --bogus
bad_usage "--size must be small, medium, large or a number of submissions, not 'huge'" --size huge
bad_usage "--size N must be from 1 to 5000 submissions, not '0'" --size 0
bad_usage "--size N must be from 1 to 5000 submissions, not '5001'" --size 5001
bad_usage "--size needs a value" --size
bad_usage "--timeout must be a whole number of seconds, not '1m'" --timeout 1m
mkdir -p "$T/empty-build"
bad_usage "al-sim is not in $T/empty-build" --build-dir "$T/empty-build"
run "$DEMO" --no-setup --build-dir "$T/missing"
assert_eq 2 "$rc" "exit code with a --build-dir that does not exist"
run "$DEMO" --help
assert_eq 0 "$rc" "exit code of --help"
assert_contains "$out" "--size small|medium|large|N"
assert_contains "$out" "--build-dir DIR"

# demo_dir OUTPUT / demo_redis_port OUTPUT: what the demo printed at start.
demo_dir() { sed -n 's/^demo: working directory //p' <<<"$1"; }
demo_redis_port() { sed -n 's/^demo: redis on 127\.0\.0\.1:\([0-9]*\);.*/\1/p' <<<"$1"; }

# nothing_left DIR PORT: no process mentions the demo's directory in its command
# line (the al-sims and services do) and nothing listens on its Redis port.
nothing_left() {
  local procs
  procs=$(pgrep -af -- "$1" | grep -v pgrep || true)
  [ -z "$procs" ] || fail "processes left behind: $procs"
  ! port_in_use "$2" || fail "redis-server left behind on port $2"
}

note "a small replay: every type arrives, nothing fails"
run "$DEMO" --no-setup --build-dir "$REPLAY_BUILD_DIR" --size small
[ "$rc" = 0 ] || fail "scripts/demo --size small exited $rc: $out $err"
for row in alerts:6 submissions:12 files:48 results:96 badlist:6 safelist:6 signatures:6 workflows:6; do
  grep -qE "^  ${row%%:*} +${row#*:} +${row#*:}  ok\$" <<<"$out" ||
    fail "no summary row '${row%%:*} ${row#*:} ${row#*:} ok' in: $out"
done
assert_contains "$out" "failed                  0 files"
assert_contains "$out" "demo: OK: everything expected arrived and nothing failed"
assert_not_contains "$out" "MISSING"
grep -qE '^ +[0-9]+s queued [0-9?]+, bundled [0-9]+, transferred [0-9]+, imported [0-9]+, failed 0, ' <<<"$out" ||
  fail "no progress line in: $out"
grep -qE '^  wall time +[0-9]+ s \([0-9]+ s replaying' <<<"$out" || fail "no wall time in: $out"
grep -qE '^  throughput +[0-9.]+ MB/s' <<<"$out" || fail "no throughput in: $out"
dir=$(demo_dir "$out")
[ -n "$dir" ] || fail "the demo did not print its directory"
[ ! -e "$dir" ] || fail "the demo left its directory $dir"
nothing_left "$dir" "$(demo_redis_port "$out")"

note "a target that refuses two bundles: exit 1, the files and the target's reason shown"
run env REPLAY_DEMO_TARGET_ARGS="--fault kind=http,status=400,body=json,message=Refused_by_the_demo,path=/api/v4/bundle/,count=2" \
  "$DEMO" --no-setup --build-dir "$REPLAY_BUILD_DIR" --size 4
assert_eq 1 "$rc" "exit code when two bundles fail"
assert_contains "$out" "failed                  2 files"
assert_eq 2 "$(grep -cE '^    (alert|submission)_[0-9A-Za-z]+\.al_bundle: POST .*HTTP 400: Refused_by_the_demo$' <<<"$out")" \
  "failed files listed with their reason"
# An alert's bundle carries its submission too, so a refused submission bundle may
# still arrive by way of an alert: then nothing is missing, but the demo is NOT OK.
if grep -q 'MISSING$' <<<"$out"; then
  assert_contains "$out" "demo: the replay went idle with items missing"
fi
assert_contains "$out" "demo: NOT OK"
dir=$(demo_dir "$out")
assert_eq 2 "$(find "$dir/failed" -name '*.error.json' | wc -l)" "error files kept in $dir/failed"
nothing_left "$dir" "$(demo_redis_port "$out")"
rm -rf "$dir"

note "a target that refuses everything (read-only): the demo gives up at --timeout"
run env REPLAY_DEMO_TARGET_ARGS=--read-only "$DEMO" --no-setup --build-dir "$REPLAY_BUILD_DIR" \
  --size 4 --timeout 8
assert_eq 1 "$rc" "exit code after the timeout"
assert_contains "$out" "demo: timed out after 8s (--timeout)"
grep -qE '^  submissions +4 +0  MISSING$' <<<"$out" || fail "no missing submissions in: $out"
dir=$(demo_dir "$out")
nothing_left "$dir" "$(demo_redis_port "$out")"
rm -rf "$dir"

# interrupted HOW: runs the demo in its own process group (as a shell with job
# control does), waits until its services run, sends SIGINT to the script alone
# (HOW=script) or to the whole group (HOW=group, a terminal's Ctrl-C), and checks
# that it exits 1 and that every process it had started is gone.
interrupted() {
  local how=$1 pid kids k output
  set -m
  "$DEMO" --no-setup --build-dir "$REPLAY_BUILD_DIR" --size 200 >"$T/int.out" 2>&1 &
  pid=$!
  set +m
  on_exit "kill -KILL -- -$pid 2>/dev/null"
  wait_until 120 grep -q "replay-loader-worker started" "$T/int.out" ||
    fail "the demo did not start its services: $(cat "$T/int.out")"
  descendants() { local p; for p in $(pgrep -P "$1"); do echo "$p"; descendants "$p"; done; }
  kids=$(descendants "$pid")
  [ "$(wc -w <<<"$kids")" -ge 7 ] || fail "expected at least 7 processes under the demo, got: $kids"
  if [ "$how" = group ]; then kill -INT -- "-$pid"; else kill -INT "$pid"; fi
  wait_until 90 bash -c "! kill -0 $pid 2>/dev/null" || fail "the demo did not stop within 90 s of SIGINT"
  set +e; wait "$pid"; rc=$?; set -e
  output=$(cat "$T/int.out")
  assert_eq 1 "$rc" "exit code after SIGINT to the $how"
  assert_contains "$output" "demo: interrupted by SIGINT: stopping everything"
  for k in $kids; do
    ! pid_alive "$k" || fail "process $k ($(ps -o args= -p "$k")) outlived the demo (SIGINT to the $how)"
  done
  dir=$(demo_dir "$output")
  [ ! -e "$dir" ] || fail "the interrupted demo left its directory $dir"
  nothing_left "$dir" "$(demo_redis_port "$output")"
}
note "SIGINT to the script alone"
interrupted script
note "SIGINT to its process group (Ctrl-C in a terminal)"
interrupted group
note "ok"
