# Shared harness for the integration tests (bash). Source it first:
#
#   . "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"
#
# It gives each test a temp dir ($T), a cleanup stack run on any exit, free
# loopback ports, waits, assertions, and starters for the real servers the tests
# use. Servers are started on loopback in $T and stopped by the cleanup stack.
# A server that cannot start fails the test with the reason; nothing is skipped.
set -euo pipefail

: "${REPLAY_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${REPLAY_BUILD_DIR:=$REPLAY_SOURCE_DIR/build}"
: "${REPLAY_CACHE_DIR:=$HOME/.cache/assemblyline-replay}"
export REPLAY_SOURCE_DIR REPLAY_BUILD_DIR REPLAY_CACHE_DIR

T=$(mktemp -d "${TMPDIR:-/tmp}/replay-test.XXXXXX")
export T
_cleanups=()

on_exit() { _cleanups+=("$*"); }

_run_cleanups() {
  local rc=$?
  local i
  for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
    eval "${_cleanups[$i]}" >/dev/null 2>&1 || true
  done
  if [ "$rc" -eq 0 ] && [ -z "${REPLAY_KEEP_TMP:-}" ]; then
    rm -rf "$T"
  else
    echo "test files kept in $T" >&2
  fi
  exit "$rc"
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "--- $*" >&2; }

assert_eq() { # expected actual [what]
  [ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"
}
assert_contains() { # haystack needle [what]
  case "$1" in *"$2"*) ;; *) fail "${3:-output} does not contain '$2': $1" ;; esac
}
assert_not_contains() { # haystack needle [what]
  case "$1" in *"$2"*) fail "${3:-output} contains '$2'" ;; *) ;; esac
}
assert_file_contains() { # file needle
  grep -qF -- "$2" "$1" || fail "$1 does not contain '$2'"
}

# Runs "$@", stores its exit code in $rc, stdout in $out, stderr in $err.
run() {
  set +e
  "$@" >"$T/.out" 2>"$T/.err"
  rc=$?
  set -e
  out=$(cat "$T/.out")
  err=$(cat "$T/.err")
}

bin() { # path of a built executable: bin replay-ctl
  local p
  for p in "$REPLAY_BUILD_DIR/services/$1" "$REPLAY_BUILD_DIR/tests/al-sim/$1" \
           "$REPLAY_BUILD_DIR/tests/integration/$1" "$REPLAY_BUILD_DIR/$1"; do
    [ -f "$p" ] && [ -x "$p" ] && { echo "$p"; return 0; }
  done
  fail "executable $1 not found under $REPLAY_BUILD_DIR (build first)"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A loopback TCP port nobody listens on (random, so parallel tests rarely collide).
free_port() {
  local p i
  for i in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  fail "no free port found"
}

# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_until() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.1
  done
}

wait_port() { # port [seconds]
  wait_until "${2:-20}" port_in_use "$1" || fail "nothing listens on 127.0.0.1:$1 after ${2:-20}s"
}

# pid_alive PID
pid_alive() { kill -0 "$1" 2>/dev/null; }

# stop_pid PID [seconds]: TERM, then KILL after the grace period.
stop_pid() {
  local pid=$1 grace=${2:-5}
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_until "$grace" bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
}

# start_redis [--aof] [--name NAME]: sets REDIS_PORT, REDIS_URL, REDIS_DIR.
start_redis() {
  local aof=no name=redis
  while [ $# -gt 0 ]; do
    case "$1" in
      --aof) aof=yes ;;
      --name) name=$2; shift ;;
    esac
    shift
  done
  command -v redis-server >/dev/null || fail "redis-server is not installed (run scripts/setup)"
  REDIS_DIR="$T/$name"
  mkdir -p "$REDIS_DIR"
  local try
  for try in 1 2 3; do
    REDIS_PORT=$(free_port)
    if redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --save '' \
         --appendonly "$aof" --daemonize yes --pidfile "$REDIS_DIR/pid" \
         --logfile "$REDIS_DIR/log" >/dev/null 2>&1 &&
       wait_until 10 redis-cli -p "$REDIS_PORT" ping; then
      REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
      export REDIS_PORT REDIS_URL REDIS_DIR
      on_exit "redis-cli -p $REDIS_PORT shutdown nosave"
      return 0
    fi
  done
  fail "redis-server did not start: $(tail -5 "$REDIS_DIR/log" 2>/dev/null)"
}

# restart_redis: stops the server started by start_redis and starts it again on
# the same port and directory (with its AOF, if it had one).
restart_redis() {
  local aof
  aof=$(redis-cli -p "$REDIS_PORT" config get appendonly | tail -1)
  redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
  wait_until 10 bash -c "! redis-cli -p $REDIS_PORT ping" || fail "redis did not stop"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --save '' \
    --appendonly "$aof" --daemonize yes --pidfile "$REDIS_DIR/pid" \
    --logfile "$REDIS_DIR/log" >/dev/null
  wait_until 10 redis-cli -p "$REDIS_PORT" ping || fail "redis did not restart"
}

# Path of an npm tool installed by scripts/setup (s3rver, azurite-blob) or helm.
npm_tool() {
  local p="$REPLAY_CACHE_DIR/node_modules/.bin/$1"
  [ "$1" = helm ] && p="$REPLAY_CACHE_DIR/bin/helm"
  [ -x "$p" ] || fail "$1 is not installed in $REPLAY_CACHE_DIR (run scripts/setup)"
  echo "$p"
}
