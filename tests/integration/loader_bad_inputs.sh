#!/usr/bin/env bash
# Bad input in the input directory and in the queue: each case ends where it
# should (imported, ignored, or in the failed directory with its reason), nothing
# bad is ever sent to the target, and both services keep running.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"
. "$(dirname "$0")/loader_lib.sh"
export REPLAY_CTL=$(bin replay-ctl)
PY=/usr/bin/python3
[ -x "$PY" ] || fail "/usr/bin/python3 is needed (Debian's python3)"
craft() { "$PY" "$(dirname "$0")/loader_craft.py" "$@"; }

start_redis
start_alsim --name target --mode upstream
make_bundles 5
start_alsim --name classified --mode upstream
secret=$(alsim_seed classified submissions=1 files=1 results=1 errors=0 classification=SECRET | jq -r '.submissions[0]')
alsim_curl classified "/api/v4/bundle/$secret/" -o "$T/classified.al_bundle"
mapfile -t b < <(cd "$T/bundles" && ls)
S="$T/stage"
mkdir -p "$S"

note "directories the services cannot use: one line naming the key, before anything starts"
loader_config
touch "$T/a-file"
sed "s|failed_directory: \"$T/failed\"|failed_directory: \"$T/a-file/failed\"|" "$T/replay.yml" >"$T/bad-dirs.yml"
run "$(bin replay-loader-worker)" --config "$T/bad-dirs.yml" --log-format text
assert_eq 2 "$rc" "exit code of the worker with an unusable failed directory"
assert_contains "$err" "Bad configuration: loader.failed_directory: cannot create $T/a-file/failed"
sed "s|working_directory: \"$T/work\"|working_directory: \"relative/work\"|" "$T/replay.yml" >"$T/bad-dirs.yml"
run "$(bin replay-loader)" --config "$T/bad-dirs.yml" --log-format text
assert_eq 2 "$rc" "exit code of the loader with a relative working directory"
assert_contains "$err" 'Bad configuration: loader.working_directory: "relative/work" is not an absolute path'

note "making the cases"
size=$(stat -c %s "$T/bundles/${b[0]}")
cp "$T/bundles/${b[0]}" "$S/submission_corrupt.al_bundle"
printf '\xff\xff\xff\xff\xff\xff\xff\xff' | dd of="$S/submission_corrupt.al_bundle" bs=1 seek=$((size / 2)) conv=notrunc status=none
craft digest "$T/bundles/${b[0]}" "$S/submission_digest.al_bundle"
head -c $((size / 2)) "$T/bundles/${b[0]}" >"$S/submission_truncated.al_bundle"
craft escape "$S/submission_escape.al_bundle"
craft link "$S/submission_link.al_bundle"
: >"$S/submission_empty.al_bundle"
cp "$T/classified.al_bundle" "$S/submission_$secret.al_bundle"
printf '{"not": "an array"}' >"$S/badlist_notarray.al_json"
printf '[{"id": "x", "type": "file"' >"$S/badlist_cut.al_json"
cp "$T/bundles/${b[1]}" "$S/submission_x.al_bundel"        # wrong extension
cp "$T/bundles/${b[1]}" "$S/.${b[1]}"                       # a dot-file
cp "$T/bundles/${b[2]}" "$S/${b[2]}"                        # a bundle and its duplicate
cp "$T/bundles/${b[2]}" "$S/duplicate_${b[2]}"

note "the cases arrive, with a FIFO and a symbolic link named as bundles"
loader_config
mv "$S"/* "$S"/.[!.]* "$T/in/"
mkfifo "$T/in/submission_fifo.al_bundle"
ln -s "$T/bundles/${b[3]}" "$T/in/submission_symlink.al_bundle"
start_svc loader
start_svc loader-worker

expect_failed() { # name reason-part
  wait_for 60 "$1 in the failed directory" test -f "$T/failed/$1.error.json"
  [ -e "$T/failed/$1" ] || fail "$1 is not in the failed directory"
  local reason; reason=$(jq -r .reason "$T/failed/$1.error.json")
  assert_contains "$reason" "$2" "reason for $1"
  assert_eq "$T/in/$1" "$(jq -r .original_path "$T/failed/$1.error.json")" "original path of $1"
  assert_eq replay-loader-worker "$(jq -r .component "$T/failed/$1.error.json")" "component"
  assert_contains "$(log_count loader-worker "Failed to load the bundle file $T/in/$1, moving it to the failed directory. Reason: ")" 1
}
expect_failed submission_corrupt.al_bundle ""
expect_failed submission_digest.al_bundle "sha256 mismatch"
expect_failed submission_truncated.al_bundle ""
expect_failed submission_escape.al_bundle 'unsafe member "../evil" in the bundle'
expect_failed submission_link.al_bundle 'unsafe member "link" in the bundle: a symbolic link'
expect_failed submission_empty.al_bundle "the file is empty"
expect_failed "submission_$secret.al_bundle" "HTTP 400"
expect_failed badlist_notarray.al_json "expected a JSON array"
expect_failed badlist_cut.al_json "ends before its value is complete"

note "the duplicate: both files imported (exist_ok), one submission on the target"
sid2=${b[2]#submission_}; sid2=${sid2%.al_bundle}
wait_for 60 "the duplicates loaded" bash -c "[ ! -e '$T/in/${b[2]}' ] && [ ! -e '$T/in/duplicate_${b[2]}' ]"
assert_eq 2 "$(imports_ok "$sid2")" "imports of the duplicated bundle"
alsim_curl target "/_sim/doc/submission/$sid2" | jq -e .sid >/dev/null || fail "submission $sid2 missing"

note "only valid bundles reached the target: the duplicate twice, the classified one refused"
_imports
assert_eq 3 "$(jq 'length' "$T/.imports")" "import attempts"
assert_eq 1 "$(jq '[.[] | select(.status == 400)] | length' "$T/.imports")" "refused imports"

note "never queued, still there: wrong extension, dot-file, FIFO, symbolic link"
for name in submission_x.al_bundel ".${b[1]}" submission_fifo.al_bundle submission_symlink.al_bundle; do
  [ -e "$T/in/$name" ] || [ -L "$T/in/$name" ] || fail "$name was removed"
  assert_eq 0 "$(log_count loader "Queueing file: $T/in/$name")" "queueing of $name"
done
assert_eq 1 "$(log_count loader "submission_fifo.al_bundle: it is a FIFO")" "FIFO warnings"
assert_eq 1 "$(log_count loader "submission_symlink.al_bundle: it is a symbolic link")" "link warnings"

note "messages pushed by hand: outside the input directory, in the failed one, not Replay files"
redis-cli -p "$REDIS_PORT" rpush replay_file '"/etc/passwd.al_bundle"' "\"$T/in/../bundles/${b[3]}\"" \
  "\"$T/bundles/${b[3]}\"" "\"$T/failed/submission_corrupt.al_bundle\"" '"relative.al_bundle"' \
  "\"$T/in/notes.txt\"" >/dev/null
wait_for 60 "six messages refused to replay_file:bad" bash -c "[ \$(redis-cli -p $REDIS_PORT llen replay_file:bad) -ge 6 ]"
bad=$(redis-cli -p "$REDIS_PORT" lrange replay_file:bad 0 -1)
assert_contains "$bad" "outside the input directory"
assert_contains "$bad" "not an absolute path without . or .. components"
assert_contains "$bad" "not the name of a bundle or export"
[ -f "$T/bundles/${b[3]}" ] || fail "a file outside the input directory was touched"
[ -f "$T/failed/submission_corrupt.al_bundle" ] || fail "a file in the failed directory was touched"

note "a message naming the FIFO: it never blocks a worker, it is failed"
redis-cli -p "$REDIS_PORT" rpush replay_file "\"$T/in/submission_fifo.al_bundle\"" >/dev/null
expect_failed submission_fifo.al_bundle "it is a FIFO, not a regular file"

note "the services are still working: a good bundle and a good export go through"
alsim_curl target /api/v4/search/badlist/ -d '{"query": "*", "rows": 0}' >/dev/null
cp "$T/bundles/${b[4]}" "$T/in/"
printf '[{"id": "%s", "type": "file", "hashes": {"sha256": "%s"}, "sources": [{"name": "x", "type": "external", "reason": ["r"], "classification": "TLP:CLEAR"}], "classification": "TLP:CLEAR", "enabled": true}]' \
  "$(printf '%064d' 7)" "$(printf '%064d' 7)" >"$T/badlist_good.al_json"
mv "$T/badlist_good.al_json" "$T/in/"
wait_for 60 "the good bundle and export loaded" bash -c "[ ! -e '$T/in/${b[4]}' ] && [ ! -e '$T/in/badlist_good.al_json' ]"
sid4=${b[4]#submission_}; sid4=${sid4%.al_bundle}
assert_eq 1 "$(imports_ok "$sid4")" "imports of the last bundle"
alsim_curl target "/_sim/doc/badlist/$(printf '%064d' 7)" | jq -e .hashes >/dev/null || fail "the badlist item is missing"
svc_alive loader || fail "the loader died"
svc_alive loader-worker || fail "the worker died"

note "what the services create: directories 0750, files 0640"
assert_eq 750 "$(stat -c %a "$T/failed")" "mode of the failed directory"
assert_eq 750 "$(stat -c %a "$T/work")" "mode of the working directory"
assert_eq 640 "$(stat -c %a "$T/work/loader_state.jsonl")" "mode of the loader's state"
wrong=$(find "$T/failed" -name '*.error.json' ! -perm 0640 -printf '%m %p\n')
assert_eq "" "$wrong" "error files not 0640"
loader_finish
