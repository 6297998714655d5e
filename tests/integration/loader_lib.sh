# Harness for the tests of the target side (replay-loader, replay-loader-worker).
# Source it after lib.sh and alsim.sh:
#
#   start_redis; start_alsim --name target --mode upstream
#   make_bundles 20                       # $T/bundles/submission_<sid>.al_bundle, $T/sids
#   loader_config "input_threads: 2"      # $T/replay.yml, dirs $T/in $T/failed $T/work
#   start_svc loader; start_svc loader-worker
#   wait_for 60 "the input directory is empty" dir_empty "$T/in"
#   stop_svc loader; stop_svc loader-worker   # SIGTERM; fails on a crash or sanitizer report
#
# Service logs are $T/<name>.log (text format, appended across restarts).

# make_bundles N [seed options...]: N small submissions seeded on an al-sim
# "source" (started here if needed), their bundles downloaded (4 at a time) into
# $T/bundles; their sids in $T/sids, one per line.
make_bundles() {
  local n=$1; shift
  [ -n "${ALSIM_SOURCE_URL:-}" ] || start_alsim --name source --mode upstream
  local summary
  summary=$(alsim_seed source submissions="$n" files=1 results=1 errors=0 file_size=64 "$@")
  mkdir -p "$T/bundles"
  jq -r '.submissions[]' <<<"$summary" >"$T/sids"
  local sid
  while read -r sid; do
    printf 'url = "%s/api/v4/bundle/%s/"\noutput = "%s/bundles/submission_%s.al_bundle"\n' \
      "$ALSIM_SOURCE_URL" "$sid" "$T" "$sid"
  done <"$T/sids" >"$T/bundles.curl"
  curl -sS --no-progress-meter -f --parallel --parallel-max 4 -H "X-USER: $ALSIM_SOURCE_USER" \
    -H "X-APIKEY: $ALSIM_SOURCE_APIKEY" -K "$T/bundles.curl" || fail "downloading $n bundles failed"
  [ "$(find "$T/bundles" -name '*.al_bundle' | wc -l)" -ge "$n" ] || fail "fewer than $n bundles made"
}

# loader_config [YAML lines for the loader section...]: $T/replay.yml for the
# target al-sim and the test's Redis, short settle and scan times ($LOADER_SETTLE,
# default 1 s: 0 for a test that only renames complete files in). The directories
# are $LOADER_IN, $LOADER_FAILED, $LOADER_WORK (default $T/in, $T/failed, $T/work).
loader_config() {
  local in=${LOADER_IN:-$T/in} failed=${LOADER_FAILED:-$T/failed} work=${LOADER_WORK:-$T/work}
  mkdir -p "$in"
  {
    printf 'loader:\n'
    printf '  client:\n    type: api\n'
    printf '    options: {host: "%s", user: "%s", apikey: "%s"}\n' \
      "$ALSIM_TARGET_URL" "$ALSIM_TARGET_USER" "$ALSIM_TARGET_APIKEY"
    printf '  input_directory: "%s"\n  failed_directory: "%s"\n  working_directory: "%s"\n' \
      "$in" "$failed" "$work"
    printf '  settle_time: %s\n  scan_interval: 1\n  input_threads: 2\n' "${LOADER_SETTLE:-1}"
    local line
    for line in "$@"; do printf '  %s\n' "$line"; done
    printf 'redis: {url: "%s", persistent_url: "%s"}\n' "$REDIS_URL" "$REDIS_URL"
  } >"$T/replay.yml"
}

# The service harness (services.sh) with the target side's names: one config,
# $T/replay.yml, and an optional wrapper command.
. "$(dirname "${BASH_SOURCE[0]}")/services.sh"
svc_pid() { service_pid "$1"; }
kill_svc() { kill_service "$1"; }
svc_alive() { service_alive "$1"; }

# start_svc loader|loader-worker [wrapper command...]: runs replay-<name> on
# $T/replay.yml, its heartbeat $T/<name>.hb, its log $T/<name>.log.
start_svc() {
  local name=$1; shift
  [ $# -gt 0 ] && SERVICE_WRAPPER=("$@")
  start_service "$name" "$T/replay.yml"
  SERVICE_WRAPPER=(env)
}

# stop_svc name: SIGTERM, waits up to 60 s; fails if it was dead already (a
# crash), does not stop, or logged a sanitizer report.
stop_svc() {
  service_alive "$1" || fail "$1 is not running (crashed?): $(tail -5 "$T/$1.log")"
  stop_service "$1"
}

dir_empty() { [ -z "$(ls -A "$1" 2>/dev/null)" ]; }
log_has() { grep -qF -- "$2" "$T/$1.log"; }
log_count() { grep -cF -- "$2" "$T/$1.log" || true; }

# The target's import records: `imports_ok SID` counts the successful imports of
# a submission; `imports_total` counts every import attempt.
_imports() { alsim_curl target /_sim/imports >"$T/.imports"; }
imports_ok() { _imports; jq --arg s "$1" '[.[] | select(.sid == $s and .status == 200)] | length' "$T/.imports"; }
imports_total() { _imports; jq 'length' "$T/.imports"; }
# Submissions of $T/sids the target holds.
target_has_all() {
  local sid missing=0
  alsim_curl target /_sim/docs/submission >"$T/.subs"
  while read -r sid; do
    jq -e --arg s "$sid" 'has($s)' "$T/.subs" >/dev/null || missing=$((missing + 1))
  done <"$T/sids"
  [ "$missing" -eq 0 ]
}
queue_len() { redis-cli -p "$REDIS_PORT" llen "${1:-replay_file}"; }

# copy_slowly SRC DST [CHUNK] [DELAY]: writes SRC to DST in place, CHUNK bytes
# (default 2048) every DELAY seconds (default 0.1), as a slow network copy does.
copy_slowly() {
  local src=$1 dst=$2 chunk=${3:-2048} delay=${4:-0.1}
  local size off=0
  size=$(stat -c %s "$src")
  : >"$dst"
  while [ "$off" -lt "$size" ]; do
    dd if="$src" of="$dst" bs="$chunk" skip=$((off / chunk)) seek=$((off / chunk)) count=1 \
      conv=notrunc status=none
    off=$((off + chunk))
    sleep "$delay"
  done
}

# loader_finish: stops the services still running (failing on crashes and
# sanitizer reports) and the al-sims.
loader_finish() {
  services_finish
  alsim_finish
}

# Messages held in processing lists of replay_file (0 when nothing is stuck).
processing_len() {
  local k n=0
  for k in $(redis-cli -p "$REDIS_PORT" --scan --pattern 'replay_file:processing:*'); do
    n=$((n + $(redis-cli -p "$REDIS_PORT" llen "$k")))
  done
  echo "$n"
}
nothing_held() { [ "$(queue_len)" = 0 ] && [ "$(processing_len)" = 0 ]; }
imports_at_least() { [ "$(imports_total)" -ge "$1" ]; }
# Successful imports beyond one per submission of $T/sids.
extra_imports() {
  _imports
  jq '[.[] | select(.status == 200)] | length' "$T/.imports" | { read -r ok; echo $((ok - $(wc -l <"$T/sids"))); }
}
