# Harness for the end-to-end tests of the four services (bash). Source it after
# lib.sh and alsim.sh:
#
#   start_redis; start_alsim --name source --mode upstream
#   write_config "$T/replay.yml" <<YML ... YML   # adds the redis block itself
#   start_service creator "$T/replay.yml"       # replay-creator, log $T/creator.log
#   wait_for 60 "every alert done" check_count source alert 'metadata.replay:done' 200
#   kill_service creator; start_service creator "$T/replay.yml"
#   stop_service creator                        # SIGTERM, waits, fails on a crash
#   services_finish                             # stops all, fails on sanitizer reports
#
# Each service gets its own heartbeat file ($T/<name>.hb) and log ($T/<name>.log,
# text format, appended across restarts). Service names: creator, creator-worker,
# loader, loader-worker; a suffix after '@' names a second instance of the same
# program (creator-worker@2).

_SERVICES=()
# A command start_service runs the service under (e.g. env LOG_LEVEL=DEBUG).
SERVICE_WRAPPER=(env)

# write_config FILE: replay.yml from stdin, plus the redis block of the test's Redis.
write_config() {
  { cat; printf 'redis: {url: "%s", persistent_url: "%s"}\n' "$REDIS_URL" "$REDIS_URL"; } >"$1"
}

# source_client_yaml: the creator's `client:` block for the al-sim named source,
# indented for the creator section.
source_client_yaml() {
  printf '  client:\n    type: api\n    options: {host: "%s", user: "%s", apikey: "%s"}\n' \
    "$ALSIM_SOURCE_URL" "$ALSIM_SOURCE_USER" "$ALSIM_SOURCE_APIKEY"
}

# target_client_yaml: the loader's `client:` block for the al-sim named target,
# indented for the loader section.
target_client_yaml() {
  printf '  client:\n    type: api\n    options: {host: "%s", user: "%s", apikey: "%s"}\n' \
    "$ALSIM_TARGET_URL" "$ALSIM_TARGET_USER" "$ALSIM_TARGET_APIKEY"
}

_svc_var() { printf 'SVC_%s_PID' "$(printf '%s' "$1" | tr -c 'A-Za-z0-9\n' '_')"; }

start_service() { # name config [extra args...]
  local name=$1 config=$2; shift 2
  local prog=${name%@*} v; v=$(_svc_var "$name")
  local exe; exe=$(bin "replay-$prog")
  REPLAY_HEARTBEAT_FILE="$T/$name.hb" "${SERVICE_WRAPPER[@]}" "$exe" --config "$config" \
    --log-format text "$@" \
    >>"$T/$name.log" 2>&1 &
  printf -v "$v" '%s' "$!"
  disown "$!"
  on_exit "kill -KILL $! 2>/dev/null"
  case " ${_SERVICES[*]:-} " in *" $name "*) ;; *) _SERVICES+=("$name") ;; esac
}

service_pid() { local v; v=$(_svc_var "$1"); echo "${!v:-}"; }

kill_service() { # name: SIGKILL, as a crash
  local pid; pid=$(service_pid "$1")
  [ -n "$pid" ] || fail "service $1 was not started"
  kill -KILL "$pid" 2>/dev/null || true
  wait_until 10 bash -c "! kill -0 $pid 2>/dev/null" || fail "service $1 did not die"
}

# stop_service name: SIGTERM, waits up to 60 s; fails if it does not stop or died
# of a signal of its own (a crash), or if its log shows a sanitizer report.
stop_service() {
  local name=$1 pid; pid=$(service_pid "$name")
  [ -n "$pid" ] || return 0
  if pid_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    wait_until 60 bash -c "! kill -0 $pid 2>/dev/null" || {
      kill -KILL "$pid" 2>/dev/null; fail "service $name did not stop within 60 s of SIGTERM"; }
  fi
  _svc_check_log "$name"
}

_svc_check_log() {
  if grep -qE 'Sanitizer|runtime error:' "$T/$1.log" 2>/dev/null; then
    fail "service $1 reported a sanitizer error: $(grep -m3 -E 'Sanitizer|runtime error:|#[0-9] ' "$T/$1.log")"
  fi
}

service_alive() { pid_alive "$(service_pid "$1")"; }

services_finish() {
  local name
  for name in "${_SERVICES[@]:-}"; do
    [ -n "$name" ] && stop_service "$name"
  done
  return 0
}

# wait_for SECONDS WHAT CMD...: polls CMD until it succeeds; fails naming WHAT, with
# the last lines of every service log.
wait_for() {
  local limit=$1 what=$2; shift 2
  wait_until "$limit" "$@" && return 0
  local name
  for name in "${_SERVICES[@]:-}"; do
    [ -n "$name" ] && { echo "--- last lines of $name.log" >&2; tail -5 "$T/$name.log" >&2; }
  done
  fail "after ${limit}s: $what"
}

# check_count NAME INDEX QUERY N: the al-sim instance NAME has exactly N documents
# of INDEX matching QUERY.
check_count() {
  local got
  got=$(search_total "$1" "$2" "$3")
  [ "$got" = "$4" ]
}

search_total() { # name index query
  alsim_curl "$1" "/api/v4/search/$2/" \
    -d "$(jq -cn --arg q "$3" '{query: $q, rows: 0, track_total_hits: true}')" |
    jq -r '.api_response.total'
}

# replay_check ARGS...: tests/integration/replay_check.py with the build's replay-ctl.
replay_check() {
  REPLAY_CTL=$(bin replay-ctl) python3 "$REPLAY_SOURCE_DIR/tests/integration/replay_check.py" "$@"
}
