#!/usr/bin/env bash
# Queue benchmark (issue 4): messages/s through common/queue (push; pop + ack with 1
# and 4 consumers; push -> pop -> ack together) side by side with redis-benchmark
# LPUSH/LPOP on the same redis-server in the same run, pipelining off (-P 1), at
# 1, 4 and 50 (its default) parallel clients, and LPUSH while 1 or 4 other clients
# LPOP the same list (the same load on Redis and on the cores as a producer with
# consumers). Each figure is the best of REPEAT interleaved runs, because the
# machine is shared. Not a test: nothing passes or fails.
#
#   bench/queue/run.sh RESULTS_FILE      (REPLAY_BUILD_DIR: a Release build with
#                                         -DREPLAY_BUILD_BENCH=ON)
set -euo pipefail
results=${1:?usage: run.sh RESULTS_FILE}
: "${REPLAY_BUILD_DIR:?set REPLAY_BUILD_DIR to a Release build with -DREPLAY_BUILD_BENCH=ON}"
REPEAT=${REPEAT:-3}
N=${QUEUE_BENCH_MESSAGES:-100000}
drv=$REPLAY_BUILD_DIR/bench/queue/bench_queue
[ -x "$drv" ] || { echo "missing $drv (build with -DREPLAY_BUILD_BENCH=ON)" >&2; exit 1; }
command -v redis-benchmark >/dev/null || { echo "redis-benchmark is not installed" >&2; exit 1; }
. "$(dirname "$0")/../../tests/integration/lib.sh"
start_redis
cli() { redis-cli -p "$REDIS_PORT" "$@"; }

# One redis-benchmark figure: TEST requests/s at C clients.
rb() {
  cli FLUSHALL >/dev/null
  redis-benchmark -p "$REDIS_PORT" -t "$1" -n "$N" -c "$2" -P 1 --csv 2>/dev/null |
    awk -F'","' -v t="${1^^}" 'index($1, t) == 2 {print $2 + 0}'
}

# LPUSH at 1 client while C other clients LPOP the same list: the load a producer
# and C consumers put on Redis and on the machine's cores at the same time.
rb_contended() {
  local popper rate
  cli FLUSHALL >/dev/null
  redis-benchmark -p "$REDIS_PORT" -t lpop -n $((N * 20)) -c "$1" -P 1 -q >/dev/null 2>&1 &
  popper=$!
  rate=$(redis-benchmark -p "$REDIS_PORT" -t lpush -n "$N" -c 1 -P 1 --csv 2>/dev/null |
    awk -F'","' 'index($1, "LPUSH") == 2 {print $2 + 0}')
  kill "$popper" 2>/dev/null || true
  wait "$popper" 2>/dev/null || true
  echo "$rate"
}

# Our three phases with C consumers: sets r[push$C], r[drain$C], r[pipeline$C].
ours() {
  local line phase rate
  cli FLUSHALL >/dev/null
  while read -r line; do
    phase=${line%% *}
    rate=${line##*msgs_per_s=}
    keep "$phase$1" "$rate"
  done < <("$drv" "$REDIS_URL" "$N" "$1" | grep consumers=)
}

load0=$(cut -d' ' -f1 /proc/loadavg)
declare -A r=()
keep() { # keep NAME RATE: the best of the repeats
  if [ -z "${r[$1]:-}" ] || awk -v a="$2" -v b="${r[$1]}" 'BEGIN {exit !(a > b)}'; then r[$1]=$2; fi
}
# Interleaved, so that both sides see the same load of the shared machine.
for ((i = 0; i < REPEAT; i++)); do
  for c in 1 4 50; do
    keep "lpush$c" "$(rb lpush "$c")"
    keep "lpop$c" "$(rb lpop "$c")"
    if [ "$c" != 50 ]; then
      keep "lpush_vs_pop$c" "$(rb_contended "$c")"
      ours "$c"
    fi
  done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }

{
  echo "queue benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(redis-server --version | cut -d' ' -f3)"
  echo "messages per run: $N, best of $REPEAT, pipelining off, one connection per client"
  echo "load average (1 min) at start / end: $load0 / $(cut -d' ' -f1 /proc/loadavg)"
  echo
  printf '%-52s %12s\n' "what" "per second"
  for c in 1 4 50; do
    printf '%-52s %12.0f\n' "redis-benchmark LPUSH, $c clients" "${r[lpush$c]}"
    printf '%-52s %12.0f\n' "redis-benchmark LPOP, $c clients" "${r[lpop$c]}"
  done
  for c in 1 4; do
    printf '%-52s %12.0f\n' "redis-benchmark LPUSH, 1 client, while $c client(s) LPOP" "${r[lpush_vs_pop$c]}"
  done
  for c in 1 4; do
    printf '%-52s %12.0f\n' "queue push (1 producer) [run with $c consumers]" "${r[push$c]}"
    printf '%-52s %12.0f\n' "queue pop + ack, $c consumer(s), queue pre-filled" "${r[drain$c]}"
    printf '%-52s %12.0f\n' "queue push -> pop -> ack, 1 producer, $c consumer(s)" "${r[pipeline$c]}"
  done
  echo
  echo "ratios (ours / redis-benchmark LPUSH):"
  echo "  push vs LPUSH 1 client:                     $(ratio "${r[push1]}" "${r[lpush1]}")"
  echo "  push->pop->ack, 1 consumer vs LPUSH 1 client:  $(ratio "${r[pipeline1]}" "${r[lpush1]}")"
  echo "  push->pop->ack, 4 consumers vs LPUSH 4 clients: $(ratio "${r[pipeline4]}" "${r[lpush4]}")"
  echo "  push->pop->ack, 4 consumers vs LPUSH 50 clients: $(ratio "${r[pipeline4]}" "${r[lpush50]}")"
  echo "  push->pop->ack, 1 consumer vs LPUSH while 1 client LPOPs:  $(ratio "${r[pipeline1]}" "${r[lpush_vs_pop1]}")"
  echo "  push->pop->ack, 4 consumers vs LPUSH while 4 clients LPOP: $(ratio "${r[pipeline4]}" "${r[lpush_vs_pop4]}")"
} | tee "$results"
