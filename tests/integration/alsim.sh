# al-sim starter for the integration tests (bash). Source it after lib.sh:
#
#   . "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"
#   . "$REPLAY_SOURCE_DIR/tests/integration/alsim.sh"
#   start_alsim --name source                 # any further args go to `al-sim serve`
#   start_alsim --name target --mode upstream
#   alsim_curl source /api/v4/search/alert/ -d '{"query": "*"}'
#
# start_alsim [--name NAME] [al-sim serve options...]
#   Starts al-sim on a free loopback port (it picks the port itself and reports it
#   through --ready-file, so there is no race), with its data in $T/alsim-NAME,
#   waits until it answers, and stops it when the test exits. The default name is
#   "alsim". Unless given, it adds --long-poll 1 (short queue waits for tests).
#   Everything else is upstream's default, the quota too: 10 concurrent calls per
#   user (long polls included); a test that needs more passes --api-quota.
#   Sets and exports, for NAME upper-cased (non-alphanumerics become _):
#     ALSIM_<NAME>_URL   http://127.0.0.1:PORT        ALSIM_<NAME>_PORT
#                        (https:// when started with --tls-cert; the tests' curl then
#                        needs CURL_CA_BUNDLE)
#     ALSIM_<NAME>_USER  account name                 ALSIM_<NAME>_APIKEY  KEYNAME:SECRET
#     ALSIM_<NAME>_DIR   data directory               ALSIM_<NAME>_PID, ALSIM_<NAME>_LOG
#   and the same without <NAME>_ (ALSIM_URL, ...) for the instance started last.
#   The account is the first --user NAME:KEY:SECRET given, else admin / devkey:devpass.
# restart_alsim [NAME]   SIGTERM, wait for the exit, start again: same port, data and
#                        options (shows that data survives a restart).
# stop_alsim [NAME]      SIGTERM and wait (KILL after 10 s); fails if it had to KILL.
# alsim_curl NAME PATH [curl args...]
#                        curl -s against the instance with X-USER, X-APIKEY and
#                        Content-Type: application/json; prints the body.
# alsim_call NAME METHOD PATH [curl args...] / alsim_expect STATUS MESSAGE
#                        one request into $status and $body (envelope checked), and
#                        an assertion on the answer; see their definitions below.
# alsim_finish          stops every instance started and fails if a log shows a
#                        sanitizer report (leaks are reported at exit); call it at
#                        the end of a test.
# alsim_seed NAME [seed options...]
#                        seeds a running instance through POST /_sim/seed (options as
#                        JSON keys: alsim_seed source submissions=5 large_file=1048576
#                        submission_state=requested); prints the JSON summary.

_ALSIM_NAMES=()

_alsim_var() { # NAME → ALSIM_NAME_ prefix
  local n
  n=$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]' | tr -c 'A-Z0-9\n' '_')
  echo "ALSIM_${n}_"
}

_alsim_launch() { # name port args... : starts the process, waits for the ready file
  local name=$1 port=$2; shift 2
  local dir="$T/alsim-$name" ready="$T/alsim-$name.port" log="$T/alsim-$name.log"
  local exe pid i
  exe=$(bin al-sim)
  rm -f "$ready"
  mkdir -p "$dir"
  _ALSIM_SCHEME=http
  case " $* " in *" --tls-cert "*) _ALSIM_SCHEME=https ;; esac
  "$exe" serve --data "$dir" --port "$port" --ready-file "$ready" "$@" >>"$log" 2>&1 &
  pid=$!
  disown "$pid" # a bare `wait` in a test must not wait for the server
  for i in $(seq 1 200); do
    [ -s "$ready" ] && break
    pid_alive "$pid" || fail "al-sim '$name' exited at start: $(tail -5 "$log")"
    sleep 0.1
  done
  [ -s "$ready" ] || { kill -TERM "$pid" 2>/dev/null; fail "al-sim '$name' not ready after 20 s: $(tail -5 "$log")"; }
  _ALSIM_PID=$pid
  _ALSIM_PORT=$(cat "$ready")
}

_alsim_export() { # name: sets the per-name and the plain variables
  local name=$1 v; v=$(_alsim_var "$name")
  local url="$_ALSIM_SCHEME://127.0.0.1:$_ALSIM_PORT"
  printf -v "${v}URL" '%s' "$url"; printf -v "${v}PORT" '%s' "$_ALSIM_PORT"
  printf -v "${v}PID" '%s' "$_ALSIM_PID"; printf -v "${v}DIR" '%s' "$T/alsim-$name"
  printf -v "${v}LOG" '%s' "$T/alsim-$name.log"
  printf -v "${v}USER" '%s' "$_ALSIM_USER"; printf -v "${v}APIKEY" '%s' "$_ALSIM_APIKEY"
  export "${v}URL" "${v}PORT" "${v}PID" "${v}DIR" "${v}LOG" "${v}USER" "${v}APIKEY"
  ALSIM_URL=$url ALSIM_PORT=$_ALSIM_PORT ALSIM_PID=$_ALSIM_PID ALSIM_DIR="$T/alsim-$name"
  ALSIM_LOG="$T/alsim-$name.log" ALSIM_USER=$_ALSIM_USER ALSIM_APIKEY=$_ALSIM_APIKEY
  export ALSIM_URL ALSIM_PORT ALSIM_PID ALSIM_DIR ALSIM_LOG ALSIM_USER ALSIM_APIKEY
}

start_alsim() {
  local name=alsim
  if [ "${1:-}" = --name ]; then name=$2; shift 2; fi
  local args=("$@") a user="" poll=no
  for a in "${args[@]}"; do
    case "$a" in --long-poll|--long-poll=*) poll=yes ;; esac
  done
  [ "$poll" = yes ] || args+=(--long-poll 1)
  for ((a = 0; a < ${#args[@]}; a++)); do
    if [ "${args[$a]}" = --user ] && [ -z "$user" ]; then user=${args[$((a + 1))]}; fi
  done
  if [ -n "$user" ]; then
    _ALSIM_USER=${user%%:*}
    local rest=${user#*:}
    _ALSIM_APIKEY=$(printf '%s' "$rest" | cut -d: -f1-2)
  else
    _ALSIM_USER=admin _ALSIM_APIKEY=devkey:devpass
  fi
  _alsim_launch "$name" 0 "${args[@]}"
  _ALSIM_NAMES+=("$name")
  local v; v=$(_alsim_var "$name")
  printf -v "${v}ARGS" '%q ' "${args[@]}"
  on_exit "stop_pid $_ALSIM_PID 10"
  _alsim_export "$name"
}

stop_alsim() {
  local name=${1:-alsim} v pid i; v=$(_alsim_var "$name")
  pid=$(eval echo "\${${v}PID:-}")
  [ -n "$pid" ] || fail "al-sim '$name' was not started"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do pid_alive "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  fail "al-sim '$name' did not stop within 10 s of SIGTERM"
}

restart_alsim() {
  local name=${1:-alsim} v port args; v=$(_alsim_var "$name")
  port=$(eval echo "\${${v}PORT}")
  args=$(eval echo "\${${v}ARGS}")
  _ALSIM_USER=$(eval echo "\${${v}USER}") _ALSIM_APIKEY=$(eval echo "\${${v}APIKEY}")
  stop_alsim "$name"
  eval "_alsim_launch \"\$name\" \"\$port\" $args"
  on_exit "stop_pid $_ALSIM_PID 10"
  _alsim_export "$name"
}

alsim_curl() {
  local name=$1 path=$2 v; shift 2; v=$(_alsim_var "$name")
  local url user key
  url=$(eval echo "\${${v}URL}"); user=$(eval echo "\${${v}USER}"); key=$(eval echo "\${${v}APIKEY}")
  curl -s -H "X-USER: $user" -H "X-APIKEY: $key" -H "Content-Type: application/json" \
    "$@" "$url$path"
}

alsim_seed() {
  local name=$1 v url kv body=""; shift; v=$(_alsim_var "$name")
  url=$(eval echo "\${${v}URL}")
  for kv in "$@"; do
    local k=${kv%%=*} val=${kv#*=}
    case "$val" in
      ''|*[!0-9]*) val=$(jq -Rn --arg s "$val" '$s') ;;
    esac
    body="$body${body:+,}\"$k\":$val"
  done
  curl -s -f -X POST -H 'Content-Type: application/json' -d "{$body}" "$url/_sim/seed" ||
    fail "seeding al-sim '$name' failed"
}

# alsim_call NAME METHOD PATH [curl args...]
#   One authenticated request; sets $status (HTTP code, 000 when no answer) and
#   $body (the response body), and checks that a JSON answer is an envelope whose
#   api_status_code equals the HTTP status.
alsim_call() {
  local name=$1 method=$2 path=$3; shift 3
  set +e
  status=$(alsim_curl "$name" "$path" -X "$method" -o "$T/.alsim_body" -w '%{http_code}' "$@")
  set -e
  body=$(cat "$T/.alsim_body" 2>/dev/null || true)
  if [ "${body:0:1}" = "{" ] && jq -e 'has("api_status_code")' >/dev/null 2>&1 <<<"$body"; then
    local code
    code=$(jq -r .api_status_code <<<"$body")
    [ "$code" = "$status" ] || fail "$method $path: api_status_code $code but HTTP $status"
  fi
}

# alsim_expect STATUS MESSAGE: the last alsim_call answered STATUS with exactly
# that api_error_message ("" for none).
alsim_expect() {
  [ "$status" = "$1" ] || fail "expected HTTP $1, got $status: $body"
  local msg
  msg=$(jq -r .api_error_message <<<"$body")
  [ "$msg" = "$2" ] || fail "expected message '$2', got '$msg'"
}

alsim_finish() {
  local name v pid log
  for name in "${_ALSIM_NAMES[@]}"; do
    v=$(_alsim_var "$name")
    pid=$(eval echo "\${${v}PID}")
    log=$(eval echo "\${${v}LOG}")
    pid_alive "$pid" && stop_alsim "$name"
    if grep -qE 'Sanitizer|runtime error:' "$log"; then
      fail "al-sim '$name' reported a sanitizer error: $(grep -m3 -E 'Sanitizer|runtime error:|#[0-9] ' "$log")"
    fi
  done
}
