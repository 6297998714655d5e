#!/usr/bin/env bash
# The four services as real processes: command line, configuration errors, the
# heartbeat (healthy, withheld on a hang, as the Helm liveness command sees it),
# thread restarts, SIGTERM drain within and past the deadline, a second signal.
. "$(dirname "$0")/lib.sh"
grep -q '^REPLAY_TEST_HOOKS:BOOL=ON' "$REPLAY_BUILD_DIR/CMakeCache.txt" ||
  fail "this test needs a build with -DREPLAY_TEST_HOOKS=ON (the fault hooks)"

cat >"$T/api.yml" <<'YML'
creator:
  client: {type: api, options: {host: "http://127.0.0.1:9", apikey: "reader:creator-key-secret"}}
loader:
  client: {type: api, options: {host: "http://127.0.0.1:9", apikey: "writer:loader-key-secret"}}
YML
export REPLAY_AL_CONFIG_PATH=$T/no-config.yml
unset REPLAY_CONFIG_PATH REPLAY_REDIS_URL REPLAY_REDIS_PERSISTENT_URL LOG_LEVEL AL_LOG_LEVEL

# The Helm chart's liveness command, pointed at our heartbeat file.
live() { [ -n "$(find "$1" -newermt "-${2:-30} seconds" 2>/dev/null)" ]; }
stale() { ! live "$@"; }
mtime_ns() { date -r "$1" +%s%N; }
touched_since() { [ "$(mtime_ns "$1")" != "$2" ]; } # file, mtime_ns seen before
now_ms() { date +%s%3N; }
# Every wait below is on something observable (a file, a log line, an exit); the
# bounds are generous for a loaded machine and still far below what a broken
# feature would take.

note "every service: --help, --version, bad option, default (direct) config"
for svc in replay-creator replay-creator-worker replay-loader replay-loader-worker; do
  b=$(bin "$svc")
  run "$b" --help; assert_eq 0 "$rc" "$svc --help exit"; assert_contains "$out" "--config PATH"
  run "$b" --version; assert_eq 0 "$rc" "$svc --version exit"; assert_contains "$out" "$svc "
  run "$b" --bogus; assert_eq 2 "$rc" "$svc --bogus exit"; assert_contains "$err" "unknown option --bogus"
  run env REPLAY_CONFIG_PATH="$T/absent.yml" REPLAY_HEARTBEAT_FILE="$T/hb-$svc" "$b"
  assert_eq 2 "$rc" "$svc with the default config"
  assert_contains "$err" '\"direct\" (database access without the REST API) is not built yet'
  [ ! -e "$T/hb-$svc" ] || fail "$svc wrote a heartbeat although its configuration was refused"
done

note "a bad configuration is one message naming the key and line, exit 2"
printf 'loader:\n  input_threads: six\n' >"$T/bad.yml"
run "$(bin replay-loader-worker)" --config "$T/bad.yml" --log-format text
assert_eq 2 "$rc" "bad config exit"
assert_contains "$err" 'loader.input_threads: expected an integer from 1 to 256, got "six" (line 2)'
assert_eq 1 "$(printf '%s\n' "$err" | grep -c .)" "number of lines printed for a bad config"
run "$(bin replay-loader)" --config "$T/missing.yml"
assert_eq 2 "$rc" "missing explicit config exit"; assert_contains "$err" "missing.yml: no such file"

note "heartbeat fresh while healthy, withheld after a hang (as the liveness command sees it)"
hb=$T/heartbeat
REPLAY_HEARTBEAT_FILE=$hb REPLAY_STALL_SECONDS=2 REPLAY_TEST_FAULT=hang-after:3 \
  "$(bin replay-loader)" --config "$T/api.yml" --log-format text 2>"$T/hang.log" &
pid=$!
on_exit "kill -9 $pid"
wait_until 30 test -e "$hb" || fail "no heartbeat file after 30 s"
first=$(mtime_ns "$hb")
# Healthy until the hang at 3 s: the supervisor touches the file again (every 3 s).
wait_until 30 touched_since "$hb" "$first" ||
  fail "heartbeat not refreshed while healthy"
# Hang at 3 s, stall limit 2 s: the supervisor says so, then the file goes stale.
wait_until 60 grep -q "Thread Test fault hook made no progress" "$T/hang.log" ||
  fail "the hang was not noticed: $(cat "$T/hang.log")"
wait_until 30 stale "$hb" 4 ||
  fail "heartbeat still fresh 30 s after the hang was noticed"
pid_alive "$pid" || fail "process died instead of hanging"
kill -TERM "$pid"; wait "$pid" || fail "exit code $? after SIGTERM of a hung (but cancelable) thread"

note "a thread that keeps failing is restarted with growing back-off"
REPLAY_HEARTBEAT_FILE=$T/hb2 REPLAY_TEST_FAULT=crash-loop \
  "$(bin replay-creator-worker)" --config "$T/api.yml" --log-format text 2>"$T/crash.log" &
pid=$!
on_exit "kill -9 $pid"
wait_until 60 grep -q "restarting in 4000 ms" "$T/crash.log" || fail "no back-off growth: $(cat "$T/crash.log")"
assert_file_contains "$T/crash.log" "Crash in thread Test fault hook: input/output error (REPLAY_EIO); restarting in 1000 ms"
assert_file_contains "$T/crash.log" "restarting in 2000 ms"
assert_file_contains "$T/crash.log" "Restarting thread: Test fault hook (start 3)"
kill -TERM "$pid"; wait "$pid" || fail "crash-loop process did not stop cleanly"

note "SIGTERM: work in hand finishes within the deadline, exit 0"
REPLAY_HEARTBEAT_FILE=$T/hb3 REPLAY_DRAIN_SECONDS=10 REPLAY_TEST_FAULT=slow-drain:2 \
  "$(bin replay-loader-worker)" --config "$T/api.yml" 2>"$T/drain.log" &
pid=$!
wait_until 30 grep -q "Starting thread" "$T/drain.log" || fail "thread did not start"
start=$(now_ms)
kill -TERM "$pid"
set +e; wait "$pid"; code=$?; set -e
assert_eq 0 "$code" "exit code after a drain within the deadline"
# The hook works 2 s after the signal: a lower bound, which load only lengthens.
[ $(($(now_ms) - start)) -ge 1900 ] || fail "did not wait for the work in hand"
assert_file_contains "$T/drain.log" '"message": "Instance caught signal SIGTERM. Coming down..."'
assert_file_contains "$T/drain.log" '"message": "Terminated"'

note "SIGTERM: work still busy at the deadline, exit 1 at the deadline"
REPLAY_HEARTBEAT_FILE=$T/hb4 REPLAY_DRAIN_SECONDS=1 REPLAY_TEST_FAULT=slow-drain:30 \
  "$(bin replay-creator)" --config "$T/api.yml" 2>"$T/deadline.log" &
pid=$!
wait_until 30 grep -q "Starting thread" "$T/deadline.log" || fail "thread did not start"
start=$SECONDS
kill -TERM "$pid"
set +e; wait "$pid"; code=$?; set -e
assert_eq 1 "$code" "exit code when the drain deadline passes"
# Without the deadline it would take the hook's 30 s.
[ $((SECONDS - start)) -le 20 ] || fail "took $((SECONDS - start)) s for a 1 s deadline"
assert_file_contains "$T/deadline.log" "did not finish within the 1 s drain deadline"

note "a second signal exits at once"
REPLAY_HEARTBEAT_FILE=$T/hb5 REPLAY_DRAIN_SECONDS=60 REPLAY_TEST_FAULT=slow-drain:60 \
  "$(bin replay-loader)" --config "$T/api.yml" 2>"$T/twice.log" &
pid=$!
wait_until 30 grep -q "Starting thread" "$T/twice.log" || fail "thread did not start"
kill -INT "$pid"
wait_until 30 grep -q "Instance caught signal SIGINT" "$T/twice.log" || fail "first signal not seen"
kill -TERM "$pid"
start=$SECONDS
set +e; wait "$pid"; code=$?; set -e
assert_eq 1 "$code" "exit code after a second signal"
# Without it the drain would take the hook's 60 s.
[ $((SECONDS - start)) -le 20 ] || fail "second signal took $((SECONDS - start)) s"
assert_file_contains "$T/twice.log" "Second signal SIGTERM: exiting at once"

note "a Redis URL the queue module cannot use is a configuration error at start (exit 2)"
for url in "rediss://:pw@redis:6380/0" "redis://host:notaport/0" "http://redis:6379"; do
  run env REPLAY_REDIS_URL="$url" REPLAY_HEARTBEAT_FILE="$T/hb-redis" \
    "$(bin replay-creator)" --config "$T/api.yml" --log-format text
  assert_eq 2 "$rc" "exit code for REPLAY_REDIS_URL=$url"
  assert_contains "$err" "Bad configuration: redis.url: "
  assert_not_contains "$err" ":pw@" "message for $url"
  run env REPLAY_REDIS_PERSISTENT_URL="$url" "$(bin replay-ctl)" --config "$T/api.yml" config --check
  assert_eq 2 "$rc" "replay-ctl config --check exit for $url"
  assert_contains "$err" "redis.persistent_url: "
done
run env REPLAY_REDIS_URL="rediss://:pw@redis:6380/0" "$(bin replay-loader)" --config "$T/api.yml"
assert_contains "$err" "hiredis"
