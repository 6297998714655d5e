#!/usr/bin/env bash
# Loader benchmark (issue 12). Not a test: nothing passes or fails.
#  1. Scan: FILES small Replay files in one input directory. common/fswatch's
#     first pass and rescans (bench_scan), side by side with `find DIR -type f |
#     wc -l` in the same run; then the real replay-loader on the same directory:
#     its pass times (first pass with one RPUSH per file, then rescans, from its
#     debug log) and its peak RSS (VmHWM).
#  2. Throughput: BUNDLES small bundles (from an al-sim source) imported into a
#     fresh al-sim target by replay-loader + replay-loader-worker with 1, 2 and 4
#     worker threads: files per second from the start of the services until the
#     input directory is empty, and the CPU seconds of the worker and of al-sim.
#  3. The same with signed manifests (loader.manifest, require_signature): the
#     bundles listed by signed manifests (manifest_make.py, 10,000 files each)
#     that are in the input directory first, with LOADER_BENCH_MANIFEST_THREADS.
# Each scan figure is the best of REPEAT runs, because the machine is shared.
#
#   bench/loader/run.sh RESULTS_FILE    (REPLAY_BUILD_DIR: a Release build with
#                                        -DREPLAY_BUILD_BENCH=ON and the tests,
#                                        for al-sim)
# Sizes: LOADER_BENCH_FILES (100000), LOADER_BENCH_BUNDLES (10000),
# LOADER_BENCH_THREADS ("1 2 4"), LOADER_BENCH_MANIFEST_THREADS ("2"), REPEAT (3).
set -euo pipefail
results=${1:?usage: run.sh RESULTS_FILE}
: "${REPLAY_BUILD_DIR:?set REPLAY_BUILD_DIR to a Release build with -DREPLAY_BUILD_BENCH=ON}"
FILES=${LOADER_BENCH_FILES:-100000}
BUNDLES=${LOADER_BENCH_BUNDLES:-10000}
THREADS=${LOADER_BENCH_THREADS:-1 2 4}
MANIFEST_THREADS=${LOADER_BENCH_MANIFEST_THREADS:-2}
REPEAT=${REPEAT:-3}
drv=$REPLAY_BUILD_DIR/bench/loader/bench_scan
[ -x "$drv" ] || { echo "missing $drv (build with -DREPLAY_BUILD_BENCH=ON)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tests/integration/lib.sh"
. "$here/../../tests/integration/alsim.sh"
. "$here/../../tests/integration/loader_lib.sh"
load0=$(cut -d' ' -f1 /proc/loadavg)
out=()
say() { out+=("$*"); echo "$*"; }
best() { sort -n | head -1; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
cpu_s() { # utime + stime of a live pid, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' "/proc/$1/stat"
}

# ---- 1. scan ----
scan="$T/scan"
mkdir -p "$scan"
"$drv" "$scan" "$FILES" 5 >"$T/scan.1"
first=$(grep -o 'first_pass_ms=[0-9]*' "$T/scan.1" | cut -d= -f2)
for i in $(seq 2 "$REPEAT"); do "$drv" "$scan" "$FILES" 5 >"$T/scan.$i"; done
rescan=$(cat "$T"/scan.* | grep -o 'rescan_ms=[0-9]*' | cut -d= -f2 | best)
rescan_worst=$(cat "$T"/scan.* | grep -o 'rescan_ms=[0-9]*' | cut -d= -f2 | sort -n | tail -1)
fresh=$(cat "$T"/scan.* | grep -o 'first_pass_ms=[0-9]*' | cut -d= -f2 | sed 1d | best)
for i in $(seq 1 "$REPEAT"); do "$drv" "$scan" "$FILES" 3 full >"$T/full.$i"; done
full=$(cat "$T"/full.* | grep -o 'rescan_ms=[0-9]*' | cut -d= -f2 | best)
drv_rss=$(grep -o 'peak_rss_kib=[0-9]*' "$T/scan.1" | cut -d= -f2)
find_ms=$(for i in $(seq 1 "$REPEAT"); do
  t0=$(date +%s%N); find "$scan" -type f | wc -l >/dev/null; ms_since "$t0"; done | best)

start_redis
mkdir -p "$T/w1"
# No target in this part: the loader only opens its client (the sync check is an
# hour away).
ALSIM_TARGET_URL=http://127.0.0.1:9 ALSIM_TARGET_USER=admin ALSIM_TARGET_APIKEY=devkey:devpass
LOADER_IN=$scan LOADER_WORK=$T/w1 loader_config "settle_time: 0" "scan_interval: 2"
t0=$(date +%s%N)
start_svc loader env LOG_LEVEL=DEBUG
wait_until 900 bash -c "[ \$(redis-cli -p $REDIS_PORT llen replay_file) -ge $FILES ]" ||
  fail "the loader did not queue $FILES files"
queued_ms=$(ms_since "$t0")
wait_until 300 bash -c "[ \$(grep -c 'Pass over' '$T/loader.log') -ge $((REPEAT + 2)) ]" ||
  fail "the loader did not rescan"
pid=$(svc_pid loader)
loader_rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
loader_rescan=$(grep 'Pass over' "$T/loader.log" | sed 1d | grep -o '[0-9]* ms' | cut -d' ' -f1 | best)
loader_first=$(grep 'Pass over' "$T/loader.log" | head -1 | grep -o '[0-9]* ms' | cut -d' ' -f1)
stop_svc loader
rm -rf "$scan"

say "== loader scan: $FILES files in one directory (best of $REPEAT; load average at start $load0, $(nproc) CPUs)"
say "find DIR -type f | wc -l              ${find_ms} ms"
say "fswatch rescan (inode trusted)        ${rescan} ms (worst ${rescan_worst} ms)  = $(awk -v a="$rescan" -v b="$find_ms" 'BEGIN {printf "%.2f", a / b}') x find"
say "fswatch rescan stat'ing every file    ${full} ms (one pass in 12)  = $(awk -v a="$full" -v b="$find_ms" 'BEGIN {printf "%.2f", a / b}') x find"
say "fswatch first pass (records made)     ${fresh} ms; just after the files were made ${first} ms"
say "bench driver peak RSS                 ${drv_rss} KiB"
say "replay-loader first pass + $FILES RPUSH  ${loader_first} ms (all queued ${queued_ms} ms after start)"
say "replay-loader rescan                  ${loader_rescan} ms"
say "replay-loader peak RSS (VmHWM)        ${loader_rss} KiB"

# ---- 2. throughput ----
make_bundles "$BUNDLES"
say ""
say "== loader + worker: $BUNDLES small bundles ($(du -sk "$T/bundles" | cut -f1) KiB) into a fresh al-sim target"
# throughput THREADS LABEL [loader.manifest YAML]: one timed import of every bundle.
throughput() {
  local t=$1 label=$2 manifest=${3:-}
  start_alsim --name "target$t$label" --mode upstream
  ALSIM_TARGET_URL=$ALSIM_URL ALSIM_TARGET_USER=$ALSIM_USER ALSIM_TARGET_APIKEY=$ALSIM_APIKEY
  rm -rf "$T/in" "$T/work" "$T/failed" "$T/loader.log" "$T/loader-worker.log"
  mkdir -p "$T/in"
  [ -z "$manifest" ] || cp "$T/manifests"/* "$T/in/"
  cp "$T/bundles"/* "$T/in/"
  redis-cli -p "$REDIS_PORT" flushall >/dev/null
  loader_config "settle_time: 0" "input_threads: $t" ${manifest:+"$manifest"}
  t0=$(date +%s%N)
  start_svc loader
  start_svc loader-worker
  wait_until 7200 dir_empty "$T/in" || fail "the bundles were not all loaded with $t thread(s)"
  ms=$(ms_since "$t0")
  wcpu=$(cpu_s "$(svc_pid loader-worker)")
  scpu=$(cpu_s "$ALSIM_PID")
  stop_svc loader
  stop_svc loader-worker
  failed=$(ls "$T/failed" 2>/dev/null | wc -l)
  say "$t thread(s)$label: $(awk -v n="$BUNDLES" -v ms="$ms" 'BEGIN {printf "%.0f", n * 1000 / ms}') files/s (${ms} ms; worker CPU ${wcpu} s, al-sim CPU ${scpu} s; ${failed} failed)"
  stop_alsim "target$t$label"
}
for t in $THREADS; do
  throughput "$t" ""
done

# ---- 3. with signed manifests ----
mkdir -p "$T/manifests" "$T/keys"
openssl genpkey -algorithm ed25519 -out "$T/keys/k" 2>/dev/null && chmod 600 "$T/keys/k"
openssl pkey -in "$T/keys/k" -pubout -out "$T/keys/k.pub" 2>/dev/null
prev=none seq=0
mapfile -t all < <(ls "$T/bundles"/*)
for ((i = 0; i < ${#all[@]}; i += 10000)); do
  seq=$((seq + 1))
  line=$(python3 "$here/../../tests/integration/manifest_make.py" "$T/manifests" bench "$seq" "$prev" \
    --key "$T/keys/k" "${all[@]:i:10000}")
  prev=${line##* }
done
for t in $MANIFEST_THREADS; do
  throughput "$t" " with signed manifests" \
    "manifest: {require_signature: true, trusted_keys: [\"$T/keys/k.pub\"]}"
done
printf '%s\n' "# bench/loader/run.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ), build $(basename "$REPLAY_BUILD_DIR")" \
  "${out[@]}" >"$results"
