#!/usr/bin/env bash
# Liveness of the four services as the Helm chart probes it: the chart's default
# liveness command (replayLivenessCommand), pointed at each process's heartbeat
# file, passes while the service runs (also past the probe's 30 s window, so the
# file is refreshed, not just created), fails within the probe window once a
# worker thread hangs (test-only fault hook REPLAY_TEST_FAULT=hang-after:N) while
# the process stays up, and fails within the window after the process is
# stopped (SIGTERM, clean exit 0).
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"

FIX=$REPLAY_SOURCE_DIR/tests/integration/packaging
SERVICES=(replay-creator replay-creator-worker replay-loader replay-loader-worker)
WINDOW=30    # seconds in the chart's default command (find -newermt '-30 seconds')
STALL=4      # REPLAY_STALL_SECONDS
HANG=5       # the faulty thread hangs after this many seconds
BEAT=3       # heartbeat interval of the supervisor
SLACK=8      # scheduling slack on this shared machine

/usr/bin/python3 -c 'import yaml' 2>/dev/null || fail "/usr/bin/python3 with python3-yaml is needed (run scripts/setup)"
grep -q '^REPLAY_TEST_HOOKS:BOOL=ON' "$REPLAY_BUILD_DIR/CMakeCache.txt" ||
  fail "this test needs a build with -DREPLAY_TEST_HOOKS=ON (the hang fault hook)"
probe_cmd=$(/usr/bin/python3 "$FIX/yamlq.py" get replayLivenessCommand \
  <"$REPLAY_SOURCE_DIR/helm/assemblyline-replay/values.yaml")
assert_contains "$probe_cmd" "/tmp/heartbeat" "chart default liveness command"
assert_contains "$probe_cmd" "-$WINDOW seconds" "chart default liveness command"
# healthy HEARTBEAT_FILE: the chart's probe, run as the kubelet runs it.
healthy() { bash -c "${probe_cmd//\/tmp\/heartbeat/$1}" >/dev/null 2>&1; }

for s in "${SERVICES[@]}"; do
  run "$(bin "$s")" --help
  [ "$rc" -eq 0 ] || fail "$s --help: exit $rc: $err"
done

start_redis
dead_port=$(free_port)   # nothing listens: the services keep retrying the API
mkdir -p "$T/out" "$T/cwork" "$T/in" "$T/failed" "$T/lwork"
cat >"$T/replay.yml" <<YML
creator:
  client:
    type: api
    options: {host: "http://127.0.0.1:$dead_port", user: admin, apikey: "test:key", verify: true}
  output_filestore: file://$T/out
  working_directory: $T/cwork
loader:
  client:
    type: api
    options: {host: "http://127.0.0.1:$dead_port", user: admin, apikey: "test:key", verify: true}
  input_directory: $T/in
  failed_directory: $T/failed
  working_directory: $T/lwork
YML

# Two instances per service: "ok" runs normally and is stopped later; "hang"
# gets a thread that hangs after $HANG s.
declare -A pid=()
start() { # NAME SERVICE [ENV...]
  local name=$1 svc=$2; shift 2
  env REPLAY_REDIS_URL="$REDIS_URL" REPLAY_REDIS_PERSISTENT_URL="$REDIS_URL" \
    REPLAY_HEARTBEAT_FILE="$T/hb.$name" REPLAY_STALL_SECONDS=$STALL REPLAY_LOG_FORMAT=text \
    "$@" "$(bin "$svc")" --config "$T/replay.yml" >"$T/log.$name" 2>&1 &
  pid[$name]=$!
  on_exit "kill -KILL ${pid[$name]}"
}
t0=$(date +%s)
for s in "${SERVICES[@]}"; do
  start "ok.$s" "$s"
  start "hang.$s" "$s" REPLAY_TEST_FAULT=hang-after:$HANG REPLAY_DRAIN_SECONDS=2
done
alive_or_fail() { pid_alive "${pid[$1]}" || fail "$1 exited early: $(tail -5 "$T/log.$1")"; }

note "healthy once started"
for n in "${!pid[@]}"; do
  wait_until 15 healthy "$T/hb.$n" || { alive_or_fail "$n"; fail "$n: probe never passed: $(tail -5 "$T/log.$n")"; }
done

note "hung thread: probe fails while the process runs; others stay healthy past the window"
declare -A down=()
stop_at=$((t0 + WINDOW + BEAT + 3))
while [ "$(date +%s)" -lt "$stop_at" ]; do
  for s in "${SERVICES[@]}"; do
    alive_or_fail "ok.$s"
    healthy "$T/hb.ok.$s" || fail "ok.$s: probe failed at t+$(($(date +%s) - t0))s: $(tail -5 "$T/log.ok.$s")"
    if [ -z "${down[hang.$s]:-}" ] && ! healthy "$T/hb.hang.$s"; then
      alive_or_fail "hang.$s"
      down[hang.$s]=$(date +%s)
    fi
  done
  sleep 1
done

note "stop the healthy instances (SIGTERM)"
stopped=$(date +%s)
for s in "${SERVICES[@]}"; do kill -TERM "${pid[ok.$s]}"; done
for s in "${SERVICES[@]}"; do
  set +e; wait "${pid[ok.$s]}"; st=$?; set -e
  [ "$st" -eq 0 ] || fail "ok.$s exited $st after SIGTERM: $(tail -5 "$T/log.ok.$s")"
done

deadline=$((stopped + WINDOW + SLACK))
hang_deadline=$((t0 + HANG + STALL + BEAT + WINDOW + SLACK))
[ "$hang_deadline" -gt "$deadline" ] && deadline=$hang_deadline
while [ "$(date +%s)" -le "$deadline" ]; do
  for n in "${!pid[@]}"; do
    [ -n "${down[$n]:-}" ] && continue
    if ! healthy "$T/hb.$n"; then
      case "$n" in hang.*) alive_or_fail "$n" ;; esac
      down[$n]=$(date +%s)
    fi
  done
  [ "${#down[@]}" -eq "${#pid[@]}" ] && break
  sleep 1
done

for s in "${SERVICES[@]}"; do
  h=${down[hang.$s]:-}
  [ -n "$h" ] || fail "hang.$s: probe still passes $(( $(date +%s) - t0 ))s after start (thread hung at ${HANG}s): $(tail -5 "$T/log.hang.$s")"
  [ "$h" -le "$hang_deadline" ] || fail "hang.$s: probe failed only at t+$((h - t0))s"
  [ "$h" -ge $((t0 + HANG + WINDOW - BEAT - 1)) ] ||
    fail "hang.$s: probe failed at t+$((h - t0))s, before the heartbeat could have aged ${WINDOW}s"
  o=${down[ok.$s]:-}
  [ -n "$o" ] || fail "ok.$s: probe still passes $(( $(date +%s) - stopped ))s after the process stopped"
  [ "$o" -le $((stopped + WINDOW + SLACK)) ] || fail "ok.$s: probe failed $((o - stopped))s after stop"
  [ "$o" -ge $((stopped + WINDOW - BEAT - 2)) ] ||
    fail "ok.$s: probe failed $((o - stopped))s after stop: the heartbeat was not fresh while it ran"
  note "$s: hung thread detected at t+$((h - t0))s; stopped process detected $((o - stopped))s after SIGTERM"
done

for s in "${SERVICES[@]}"; do stop_pid "${pid[hang.$s]}" 15; done
note "liveness OK"
