#!/usr/bin/env bash
# CaRT benchmark (issue 3): on a 256 MiB input of mixed compressibility (one MiB in
# three random, the rest JSON-like text; generated here, never kept), times our
# pack and unpack in both modes next to gzip -1 and gzip -dc, and records MB/s
# (MiB per second, from wall time), CPU seconds (user + system, all threads) and
# peak RSS (/usr/bin/time -v). Each figure is the best of REPEAT runs, because the
# machine is shared; the load average is recorded. Not a test: nothing passes or fails.
#
#   bench/cart/run.sh RESULTS_FILE      (REPLAY_BUILD_DIR: a Release build with
#                                        -DREPLAY_BUILD_BENCH=ON)
set -euo pipefail
results=${1:?usage: run.sh RESULTS_FILE}
: "${REPLAY_BUILD_DIR:?set REPLAY_BUILD_DIR to a Release build with -DREPLAY_BUILD_BENCH=ON}"
REPEAT=${REPEAT:-3}
MIB=${CART_BENCH_MIB:-256}
ctl=$REPLAY_BUILD_DIR/services/replay-ctl
gen=$REPLAY_BUILD_DIR/bench/cart/gen_mixed
for exe in "$ctl" "$gen" /usr/bin/time gzip; do
  command -v "$exe" >/dev/null || { echo "missing $exe (build with -DREPLAY_BUILD_BENCH=ON)" >&2; exit 1; }
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/cart-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cd "$dir"
"$gen" "$MIB" > in.bin
cat in.bin > /dev/null

rows=()
# measure LABEL OUTPUT CMD...: best wall time of REPEAT runs, its peak RSS, output
# size. OUTPUT is a file in the bench directory, or "-" when the command writes none.
measure() {
  local label=$1 output=$2 best="" rss="" cpu="" i
  shift 2
  for ((i = 0; i < REPEAT; i++)); do
    [ "$output" = - ] || rm -f "$output"
    /usr/bin/time -v -o time.txt "$@" || { echo "$label failed" >&2; exit 1; }
    local t m c
    t=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0;
          for (k = 1; k <= n; k++) s = s * 60 + p[k]; print s}' time.txt)
    m=$(awk -F': ' '/Maximum resident set size/ {print $2}' time.txt)
    c=$(awk -F': ' '/(User|System) time \(seconds\)/ {s += $2} END {print s}' time.txt)
    if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN {exit !(a < b)}'; then
      best=$t
      rss=$m
      cpu=$c
    fi
  done
  local size mbps
  size=0
  [ "$output" = - ] || size=$(stat -c %s "$output")
  mbps=$(awk -v m="$MIB" -v t="$best" 'BEGIN {printf "%.1f", (t > 0 ? m / t : 0)}')
  rows+=("$(printf '%-34s %8.2f %8.2f %9s %9.1f %12s' "$label" "$best" "$cpu" "$mbps" \
    "$(awk -v k="$rss" 'BEGIN {print k / 1024}')" "$size")")
  printf '%s\n' "${rows[-1]}"
}

# sh -c so that the redirections are part of the timed command.
measure "gzip -1 (pack baseline)" in.gz sh -c 'gzip -1 -c in.bin > in.gz'
measure "gzip -dc (unpack baseline)" out.gz.bin sh -c 'gzip -dc in.gz > out.gz.bin'
measure "cart pack (byte-identical, zlib)" in.cart "$ctl" cart pack -q -o in.cart in.bin
measure "cart pack --fast (ISA-L)" in.fast.cart "$ctl" cart pack -q --fast -o in.fast.cart in.bin
measure "cart unpack of byte-identical" out.cart.bin "$ctl" cart unpack -q -o out.cart.bin in.cart
measure "cart unpack of --fast" out.fast.bin "$ctl" cart unpack -q -o out.fast.bin in.fast.cart
measure "cart verify of --fast (no output)" - "$ctl" cart verify -q in.fast.cart
for f in out.gz.bin out.cart.bin out.fast.bin; do
  cmp -s in.bin "$f" || { echo "$f differs from the input" >&2; exit 1; }
done

speed() { # label -> MB/s column of its row
  printf '%s\n' "${rows[@]}" | awk -v l="$1" 'index($0, l) == 1 {print $(NF-2)}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
{
  echo "# CaRT benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# input: $MIB MiB mixed (1/3 random, 2/3 JSON-like text); best of $REPEAT runs"
  printf '%-34s %8s %8s %9s %9s %12s\n' "run" "seconds" "cpu s" "MiB/s" "RSS MiB" "output bytes"
  printf '%s\n' "${rows[@]}"
  echo "pack --fast / gzip -1:            $(ratio "$(speed 'cart pack --fast')" "$(speed 'gzip -1')")x"
  echo "pack (byte-identical) / gzip -1:  $(ratio "$(speed 'cart pack (byte')" "$(speed 'gzip -1')")x"
  echo "unpack of --fast / gzip -dc:      $(ratio "$(speed 'cart unpack of --fast')" "$(speed 'gzip -dc')")x"
  echo "unpack of byte-identical / gzip -dc: $(ratio "$(speed 'cart unpack of byte')" "$(speed 'gzip -dc')")x"
} > "$results"
cat "$results"
