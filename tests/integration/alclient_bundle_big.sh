#!/usr/bin/env bash
# A 200 MiB submission goes source -> bundle file -> target through the REST
# client, and the client process never holds more than 16 MiB (peak RSS measured
# by /usr/bin/time -v): the bundle is streamed both ways, never buffered.
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/alsim.sh"

TOOL=$(bin alclient_tool)
SIZE=$((200 * 1024 * 1024))
LIMIT_KB=$((16 * 1024))
if grep -q __asan_init "$TOOL"; then
  # AddressSanitizer's shadow memory and quarantine add several MiB of their own;
  # a buffered bundle would still show as 200+ MiB.
  LIMIT_KB=$((64 * 1024))
  note "sanitized build: RSS limit raised to $LIMIT_KB KiB"
fi
[ -x /usr/bin/time ] || fail "/usr/bin/time is not installed (Debian package time)"

start_alsim --name source
start_alsim --name target
seed=$(alsim_seed source submissions=1 files=1 alerts=0 large_file=$SIZE)
SID=$(jq -r '.submissions[0]' <<<"$seed")
BIG=$(jq -r '.large_file' <<<"$seed")
[ -n "$BIG" ] && [ "$BIG" != null ] || fail "the seeder made no large file: $seed"

# peak_rss_kb LABEL CMD...: runs CMD under /usr/bin/time -v; fails on a non-zero exit.
peak_rss_kb() {
  local label=$1; shift
  /usr/bin/time -v -o "$T/$label.time" "$@" >"$T/$label.out" 2>"$T/$label.err" ||
    fail "$label failed: $(cat "$T/$label.err")"
  sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$T/$label.time"
}

note "download the 200 MiB submission's bundle"
rss=$(peak_rss_kb download "$TOOL" --bundle-low-speed-time 600 "$ALSIM_SOURCE_URL" \
  download "$SID" "$T/big.al_bundle")
size=$(stat -c %s "$T/big.al_bundle")
note "bundle: $size bytes, client peak RSS ${rss} KiB"
[ "$size" -gt "$SIZE" ] || fail "the bundle ($size bytes) is smaller than its file"
[ "$rss" -lt "$LIMIT_KB" ] || fail "download peak RSS ${rss} KiB >= $LIMIT_KB KiB"

note "import it into the target"
rss=$(peak_rss_kb import "$TOOL" --bundle-low-speed-time 600 "$ALSIM_TARGET_URL" --exist-ok \
  --to-ingest import "$T/big.al_bundle")
note "import: client peak RSS ${rss} KiB"
[ "$rss" -lt "$LIMIT_KB" ] || fail "import peak RSS ${rss} KiB >= $LIMIT_KB KiB"
rm -f "$T/big.al_bundle"

note "the target holds the same 200 MiB file"
got=$(curl -s -f "$ALSIM_TARGET_URL/_sim/blob/$BIG" | sha256sum | cut -d' ' -f1)
assert_eq "$BIG" "$got" "sha256 of the large file on the target"
[ "$(curl -s -f "$ALSIM_TARGET_URL/_sim/doc/submission/$SID" | jq -r .sid)" = "$SID" ] ||
  fail "submission $SID is not on the target"
echo "alclient_bundle_big: 200 MiB round trip within $LIMIT_KB KiB"
