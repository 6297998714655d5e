# Helpers shared by the alclient_*.sh tests (sourced after lib.sh).
#
#   start_bad NAME [badhttp options] SCENARIO   sets BAD_URL, BAD_LOG, BAD_PID
#   requests LOG                                 number of requests badhttp logged
#   tool ARGS...                                 alclient_tool with fast retries; fills
#                                                $rc/$out/$err (lib.sh `run`) and $secs
#   expect_failure CODE HTTP TEXT                checks the last tool run failed so
# The tool's retry policy is bounded (TOOL_ATTEMPTS, default 4) so nothing retries
# forever, and every run is under `timeout` so nothing can hang the suite.

ALCLIENT_TOOL=$(bin alclient_tool)
BADHTTP=$(bin badhttp)
: "${TOOL_ATTEMPTS:=4}"

start_bad() {
  local name=$1; shift
  local dir="$T/bad-$name"
  mkdir -p "$dir"
  "$BADHTTP" --port-file "$dir/port" --log "$dir/log" "$@" >"$dir/out" 2>&1 &
  BAD_PID=$!
  on_exit "kill $BAD_PID"
  wait_until 10 test -s "$dir/port" || fail "badhttp $name did not start: $(cat "$dir/out")"
  BAD_URL="http://127.0.0.1:$(cat "$dir/port")"
  BAD_LOG="$dir/log"
}

requests() { # LOG
  if [ -f "$1" ]; then grep -a -c '^=== request' "$1" || true; else echo 0; fi
}

tool() {
  local start=$SECONDS
  run timeout 120 "$ALCLIENT_TOOL" --attempts "$TOOL_ATTEMPTS" --backoff-base 20 \
    --backoff-cap 100 --connect-timeout 2000 --low-speed-time 3 --bundle-low-speed-time 3 "$@"
  secs=$((SECONDS - start))
  [ "$rc" -ne 124 ] || fail "alclient_tool $* hung (killed by timeout): $err"
}

expect_failure() { # CODE HTTP TEXT
  [ "$rc" -eq 1 ] || fail "expected a failure ($1), got rc=$rc out=$out err=$err"
  assert_contains "$err" "alclient_tool: $1 http=$2:" "stderr"
  assert_contains "$err" "$3" "stderr"
}

expect_success() {
  [ "$rc" -eq 0 ] || fail "expected success, got rc=$rc: $err"
}
