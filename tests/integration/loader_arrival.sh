#!/usr/bin/env bash
# Bundles arriving the way they do across an air gap: copied in place slowly (a
# few KiB per 100 ms, as NFS or scp write them), into a subdirectory, or written
# under a temporary name and renamed. Each is imported exactly once, and never
# before it is complete (the target saw every byte of it).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"
. "$(dirname "$0")/loader_lib.sh"

start_redis
start_alsim --name target --mode upstream
make_bundles 6 file_size=24000
# settle_time 3 s: the slow writers pause 100 ms between chunks, far less.
loader_config "settle_time: 3"
start_svc loader
start_svc loader-worker
mkdir -p "$T/in/sub/deeper"
mapfile -t f < <(cd "$T/bundles" && ls)
[ "$(stat -c %s "$T/bundles/${f[0]}")" -gt 16384 ] || fail "the test bundles are too small to be copied slowly"

note "in place, slowly: at the top and two levels down"
copy_slowly "$T/bundles/${f[0]}" "$T/in/${f[0]}" &
copy_slowly "$T/bundles/${f[1]}" "$T/in/sub/deeper/${f[1]}" &
note "slowly under a dot-name or a .part suffix, then renamed"
(copy_slowly "$T/bundles/${f[2]}" "$T/in/.${f[2]}" && mv "$T/in/.${f[2]}" "$T/in/${f[2]}") &
(copy_slowly "$T/bundles/${f[3]}" "$T/in/sub/${f[3]}.part" && mv "$T/in/sub/${f[3]}.part" "$T/in/sub/${f[3]}") &
note "at once: written elsewhere and moved in, and a plain cp"
cp "$T/bundles/${f[4]}" "$T/${f[4]}" && mv "$T/${f[4]}" "$T/in/${f[4]}"
cp "$T/bundles/${f[5]}" "$T/in/sub/${f[5]}"
wait

all_imported_once() {
  local sid
  while read -r sid; do [ "$(imports_ok "$sid")" = 1 ] || return 1; done <"$T/sids"
}
wait_for 180 "every bundle imported" all_imported_once
wait_for 60 "the loaded files removed" bash -c "[ -z \"\$(find '$T/in' -type f)\" ]"

note "every import carried the whole bundle, none failed, none came twice"
_imports
assert_eq 6 "$(jq 'length' "$T/.imports")" "import attempts"
assert_eq 0 "$(jq '[.[] | select(.status != 200)] | length' "$T/.imports")" "failed imports"
for name in "${f[@]}"; do
  sid=${name#submission_}; sid=${sid%.al_bundle}
  bytes=$(jq --arg s "$sid" '[.[] | select(.sid == $s)][0].bytes' "$T/.imports")
  assert_eq "$(stat -c %s "$T/bundles/$name")" "$bytes" "bytes imported of $name"
done
dir_empty "$T/failed" || fail "files in the failed directory: $(ls "$T/failed")"
assert_eq 6 "$(log_count loader 'Queueing file: ')" "files queued"
assert_eq 0 "$(log_count loader '/.submission_')" "dot-names mentioned by the loader"
assert_eq 0 "$(log_count loader '.part')" ".part names mentioned by the loader"
target_has_all || fail "the target lacks a submission"
loader_finish
