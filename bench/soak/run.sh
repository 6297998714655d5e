#!/usr/bin/env bash
# Soak run (issue 14): the whole pipeline (scripts/demo: source al-sim, the four
# services, the operator carrying files, target al-sim) for SOAK_SIZE submissions,
# which with the demo's alerts and lists is 3.5 x SOAK_SIZE items (default 2860:
# 10,010 items), while every SOAK_EVERY seconds each service's open file
# descriptors, resident memory (VmRSS) and threads are read from /proc. Not a test:
# it writes the figures (first sample after the services started, the sample at a
# quarter of the items, the peak and the last) so a reader sees whether they stay
# flat; it fails only when the demo does.
#
#   bench/soak/run.sh RESULTS_FILE   (REPLAY_BUILD_DIR: a build with the tests, for al-sim)
set -euo pipefail
results=${1:?usage: run.sh RESULTS_FILE}
: "${REPLAY_BUILD_DIR:?set REPLAY_BUILD_DIR to a build made with -DREPLAY_BUILD_TESTS=ON}"
SIZE=${SOAK_SIZE:-2860}
EVERY=${SOAK_EVERY:-2}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
services=(replay-creator replay-creator-worker replay-loader replay-loader-worker)

"$root/scripts/demo" --no-setup --build-dir "$REPLAY_BUILD_DIR" --size "$SIZE" \
  >"$work/demo.out" 2>&1 &
demo=$!

# The demo's directory, then the services' pids (their command lines name its config).
until dir=$(sed -n 's/^demo: working directory //p' "$work/demo.out") && [ -n "$dir" ]; do
  kill -0 "$demo" 2>/dev/null || { cat "$work/demo.out"; exit 1; }
  sleep 0.2
done
until grep -q "replay-loader-worker started" "$work/demo.out"; do
  kill -0 "$demo" 2>/dev/null || { cat "$work/demo.out"; exit 1; }
  sleep 0.2
done
declare -A pid
for s in "${services[@]}"; do
  pid[$s]=$(pgrep -f "/$s --config $dir/replay.yml" | head -1)
done

imported() { # files imported so far, from the demo's last progress line
  sed -n 's/.*imported \([0-9]*\),.*/\1/p' "$work/demo.out" | tail -1
}
sample() { # service: "fds rss_kib threads", or nothing once it is gone
  local p=${pid[$1]} fds
  fds=$(ls "/proc/$p/fd" 2>/dev/null | wc -l) || return 0
  awk -v fds="$fds" '/^VmRSS:/ { rss = $2 } /^Threads:/ { th = $2 }
    END { if (rss != "") print fds, rss, th }' "/proc/$p/status" 2>/dev/null || true
}
t0=$SECONDS
echo "t imported service fds rss_kib threads" >"$work/samples"
while kill -0 "$demo" 2>/dev/null; do
  n=$(imported); n=${n:-0}
  for s in "${services[@]}"; do
    line=$(sample "$s")
    [ -n "$line" ] && echo "$((SECONDS - t0)) $n $s $line" >>"$work/samples"
  done
  sleep "$EVERY"
done
set +e; wait "$demo"; rc=$?; set -e

files=$(sed -n 's/^  carried across the gap *\([0-9]*\) files.*/\1/p' "$work/demo.out")
{
  echo "# bench soak: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores, $(uname -r)"
  echo "# demo --size $SIZE: $((SIZE + (SIZE + 1) / 2 * 5)) items, ${files:-?} files carried," \
    "demo exit $rc; samples every ${EVERY}s"
  grep -E '^  (wall time|throughput|imported|failed) ' "$work/demo.out" | sed 's/^ */# /'
  echo "# service               fds: first quarter peak last   RSS MiB: first quarter peak last   threads peak"
  for s in "${services[@]}"; do
    awk -v s="$s" -v files="${files:-0}" '
      $3 == s { n++; fd[n] = $4; rss[n] = $5; th[n] = $6; imp[n] = $2 }
      END {
        if (n == 0) { printf "%-22s no samples\n", s; exit }
        q = 1; while (q < n && imp[q] < files / 4) q++
        mf = 0; mr = 0; mt = 0
        for (i = 1; i <= n; i++) { if (fd[i] > mf) mf = fd[i]; if (rss[i] > mr) mr = rss[i]; if (th[i] > mt) mt = th[i] }
        printf "%-22s %4d %4d %4d %4d        %6.1f %6.1f %6.1f %6.1f   %3d\n", s,
          fd[1], fd[q], mf, fd[n], rss[1] / 1024, rss[q] / 1024, mr / 1024, rss[n] / 1024, mt
      }' "$work/samples"
  done
} | tee "$results"
[ "$rc" = 0 ] || { echo "soak: the demo failed:"; tail -30 "$work/demo.out"; }
exit "$rc"
