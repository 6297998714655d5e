#!/usr/bin/env bash
# Creator-worker benchmark (issue 11). Not a test: nothing passes or fails.
#  1. Small bundles: BUNDLES submissions of one 8 KiB file (bundles of about
#     10 KiB) on an al-sim source (upstream mode: the quota of 10 calls), queued
#     by replay-creator, then bundled into file:// by replay-creator-worker with
#     1, 2 and 4 submission threads: bundles per second from the worker's start
#     until every submission is done, and where the time goes (the worker's and
#     al-sim's CPU seconds, the mean time per bundle from the worker's
#     `Bundled ...` lines).
#  2. One large bundle (LARGE_MIB, default 1024): the worker's streamed hand-off
#     from al-sim to file:// against `curl -o` of the same bundle URL followed by
#     `cp` into the same directory, in the same run, best of REPEAT, taken in
#     turns; the worker's peak RSS (VmHWM) while it bundled it.
#
#   bench/creator/run.sh RESULTS_FILE   (REPLAY_BUILD_DIR: a Release build with
#                                        the tests, for al-sim)
# Environment: CREATOR_BENCH_BUNDLES (1000), CREATOR_BENCH_THREADS ("1 2 4"),
# LARGE_MIB (1024), REPEAT (3).
set -euo pipefail
results=${1:?usage: run.sh RESULTS_FILE}
: "${REPLAY_BUILD_DIR:?set REPLAY_BUILD_DIR to a Release build (with the tests, for al-sim)}"
BUNDLES=${CREATOR_BENCH_BUNDLES:-1000}
THREADS=${CREATOR_BENCH_THREADS:-1 2 4}
LARGE_MIB=${LARGE_MIB:-1024}
REPEAT=${REPEAT:-3}
here=$(cd "$(dirname "$0")" && pwd)
export REPLAY_SOURCE_DIR=${REPLAY_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
. "$here/../../tests/integration/lib.sh"
. "$here/../../tests/integration/alsim.sh"
. "$here/../../tests/integration/services.sh"
export EMPTY_WAIT_TIME=1
load0=$(cut -d' ' -f1 /proc/loadavg)
out=()
say() { out+=("$*"); echo "$*"; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' "/proc/$1/stat"; }

# config OUT_DIR THREADS: submissions only.
config() {
  write_config "$T/replay.yml" <<YML
creator:
  client:
    type: api
    options: {host: "$ALSIM_SOURCE_URL", user: "$ALSIM_SOURCE_USER", apikey: "$ALSIM_SOURCE_APIKEY"}
  output_filestore: "file://$1"
  working_directory: "$T/work"
  alert_input: {enabled: false}
  badlist_input: {enabled: false}
  safelist_input: {enabled: false}
  signature_input: {enabled: false}
  workflow_input: {enabled: false}
  submission_input: {enabled: true, threads: $2}
YML
}
bundles_in() { find "$1" -maxdepth 1 -name '*.al_bundle' | wc -l; }

start_redis
# ---- 1. small bundles ----
say "== creator-worker, $BUNDLES small bundles into file:// (al-sim upstream mode; load average at start $load0, $(nproc) CPUs)"
say "threads  bundles/s  wall s  worker CPU s  al-sim CPU s  mean s per bundle (worker's log)"
for th in $THREADS; do
  start_alsim --name "s$th" --mode upstream
  ALSIM_SOURCE_URL=$(eval echo "\$ALSIM_S${th}_URL") ALSIM_SOURCE_USER=$(eval echo "\$ALSIM_S${th}_USER")
  ALSIM_SOURCE_APIKEY=$(eval echo "\$ALSIM_S${th}_APIKEY")
  alsim_call "s$th" POST /_sim/seed -d "{\"submissions\": $BUNDLES, \"files\": 1, \"results\": 1, \"errors\": 0, \"file_size\": 8192, \"submission_state\": \"requested\"}" >/dev/null
  out_dir="$T/out$th"; mkdir -p "$out_dir"
  config "$out_dir" "$th"
  redis-cli -p "$REDIS_PORT" flushall >/dev/null
  start_service "creator@$th" "$T/replay.yml"
  wait_until 600 bash -c "[ \$(redis-cli -p $REDIS_PORT llen replay_submission) -ge $BUNDLES ]" ||
    fail "the creator did not queue $BUNDLES submissions"
  stop_service "creator@$th"
  sim_pid=$(eval echo "\$ALSIM_S${th}_PID")
  sim_cpu0=$(cpu_s "$sim_pid")
  t0=$(date +%s%N)
  start_service "creator-worker@$th" "$T/replay.yml"
  wait_until 1200 bash -c "[ \$(find '$out_dir' -maxdepth 1 -name '*.al_bundle' | wc -l) -ge $BUNDLES ]" ||
    fail "the worker did not bundle $BUNDLES submissions"
  wait_until 300 check_count "s$th" submission 'metadata.replay:done' "$BUNDLES" ||
    fail "not every submission marked done"
  wall_ms=$(ms_since "$t0")
  wpid=$(service_pid "creator-worker@$th")
  wcpu=$(cpu_s "$wpid"); scpu=$(awk -v a="$(cpu_s "$sim_pid")" -v b="$sim_cpu0" 'BEGIN {printf "%.1f", a - b}')
  mean=$(grep -o 'in [0-9.]* s (' "$T/creator-worker@$th.log" | awk '{s += $2; n++} END {printf "%.4f", n ? s / n : 0}')
  stop_service "creator-worker@$th"
  stop_alsim "s$th"
  say "$(printf '%-7s  %-9s  %-6s  %-12s  %-12s  %s' "$th" \
    "$(awk -v n="$BUNDLES" -v ms="$wall_ms" 'BEGIN {printf "%.0f", n * 1000 / ms}')" \
    "$(awk -v ms="$wall_ms" 'BEGIN {printf "%.1f", ms / 1000}')" "$wcpu" "$scpu" "$mean")"
done

# ---- 2. one large bundle ----
start_alsim --name big --mode upstream
ALSIM_SOURCE_URL=$ALSIM_BIG_URL ALSIM_SOURCE_USER=$ALSIM_BIG_USER ALSIM_SOURCE_APIKEY=$ALSIM_BIG_APIKEY
sid=$(alsim_seed big submissions=1 files=1 results=1 errors=0 file_size=1024 \
  large_file=$((LARGE_MIB << 20)) submission_state=requested | jq -r '.submissions[0]')
url="$ALSIM_SOURCE_URL/api/v4/bundle/$sid/"
best_ref="" best_ours="" rss=0 size=0
for i in $(seq 1 "$REPEAT"); do
  rm -rf "$T/ref" "$T/dl" "$T/outbig" && mkdir -p "$T/ref" "$T/dl" "$T/outbig"
  t0=$(date +%s%N)
  curl -sS -f -H "X-USER: $ALSIM_SOURCE_USER" -H "X-APIKEY: $ALSIM_SOURCE_APIKEY" -o "$T/dl/b" "$url"
  cp "$T/dl/b" "$T/ref/b"
  ms=$(ms_since "$t0"); size=$(stat -c %s "$T/ref/b")
  [ -z "$best_ref" ] || [ "$ms" -lt "$best_ref" ] && best_ref=$ms
  rm -rf "$T/dl" "$T/ref"
  # ours: the real worker, its one message queued by hand as the creator would
  config "$T/outbig" 1
  redis-cli -p "$REDIS_PORT" flushall >/dev/null
  start_service "creator@big$i" "$T/replay.yml"
  wait_until 120 bash -c "[ \$(redis-cli -p $REDIS_PORT llen replay_submission) -ge 1 ]" ||
    fail "the creator did not queue the large submission"
  stop_service "creator@big$i"
  t0=$(date +%s%N)
  start_service "creator-worker@big$i" "$T/replay.yml"
  wait_until 1200 bash -c "[ \$(find '$T/outbig' -maxdepth 1 -name '*.al_bundle' | wc -l) -ge 1 ]" ||
    fail "the worker did not bundle the large submission"
  ms=$(ms_since "$t0")
  r=$(awk '/VmHWM/ {print $2}' "/proc/$(service_pid "creator-worker@big$i")/status")
  stop_service "creator-worker@big$i"
  [ -z "$best_ours" ] || [ "$ms" -lt "$best_ours" ] && { best_ours=$ms; rss=$r; }
  # the next round replays it again
  alsim_curl big "/_sim/doc/submission/$sid" | jq -c '.metadata.replay = "requested"' |
    alsim_curl big "/_sim/doc/submission/$sid" -X PUT -d @- >/dev/null
done
mb=$(awk -v s="$size" 'BEGIN {printf "%.0f", s / 1e6}')
say ""
say "== one ${mb} MB bundle, al-sim to file:// (best of $REPEAT, in turns)"
say "curl -o + cp          $(awk -v ms="$best_ref" -v s="$size" 'BEGIN {printf "%.1f s  %.0f MB/s", ms / 1000, s / 1e6 / (ms / 1000)}')"
say "replay-creator-worker $(awk -v ms="$best_ours" -v s="$size" 'BEGIN {printf "%.1f s  %.0f MB/s", ms / 1000, s / 1e6 / (ms / 1000)}')  = $(awk -v a="$best_ref" -v b="$best_ours" 'BEGIN {printf "%.2f", a / b}') x curl+cp; peak RSS $(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}') MiB (VmHWM, process start included)"
services_finish
alsim_finish
{ echo "# bench/creator/run.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -m)"; printf '%s\n' "${out[@]}"; } >"$results"
