#!/usr/bin/env bash
# replay-ctl failed with a real loader, loader-worker, Redis and al-sim target: a
# bundle the worker refused is listed and shown with the reason of its sidecar;
# retry puts a file back and the loader imports it; a retry never replaces a file
# of the same name in the input directory (nothing lost), refuses names with '/'
# or '..', and reports a missing file; a corrupt sidecar is shown as such; a
# missing failed directory, or a file where it should be, fails with the reason;
# bad usage exits 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"
. "$(dirname "$0")/loader_lib.sh"
export REPLAY_CTL=$(bin replay-ctl)
ctl=$REPLAY_CTL
PY=/usr/bin/python3
[ -x "$PY" ] || fail "/usr/bin/python3 is needed (Debian's python3)"
craft() { "$PY" "$(dirname "$0")/loader_craft.py" "$@"; }
F=$T/failed
listing() { (cd "$1" && ls -A | tr '\n' ' '); }
sidecar() { # name reason: a sidecar as the worker writes it
  printf '{"reason": "%s", "time": "2024-05-01T12:00:00.000000Z", "host": "h", "component": "replay-loader-worker", "attempts": 1, "original_path": "%s/in/%s", "file": "%s"}\n' \
    "$2" "$T" "$1" "$1" >"$F/$1.error.json"
}

start_redis
start_alsim --name target --mode upstream
make_bundles 2
mapfile -t b < <(cd "$T/bundles" && ls)
loader_config
mkdir -p "$F" "$T/stage"
export REPLAY_CONFIG_PATH=$T/replay.yml REPLAY_AL_CONFIG_PATH=$T/none.yml
start_svc loader
start_svc loader-worker

note "a bundle the worker refused: list and show give its reason"
craft digest "$T/bundles/${b[0]}" "$T/stage/submission_digest.al_bundle"
mv "$T/stage/submission_digest.al_bundle" "$T/in/"
wait_for 60 "the bad bundle in the failed directory" test -f "$F/submission_digest.al_bundle.error.json"
run "$ctl" failed list
assert_eq 0 "$rc" "failed list exit ($err)"
assert_contains "$out" "failed directory $F: 1 file(s)"
assert_contains "$out" "submission_digest.al_bundle"
assert_contains "$out" "sha256 mismatch"
run "$ctl" failed list --json
assert_eq 0 "$rc" "failed list --json exit ($err)"
assert_eq "1 submission_digest.al_bundle 1" "$(jq -r '"\(.count) \(.files[0].name) \(.files[0].attempts)"' <<<"$out")" "JSON list"
assert_contains "$(jq -r '.files[0].reason' <<<"$out")" "sha256 mismatch"
run "$ctl" failed show submission_digest.al_bundle
assert_eq 0 "$rc" "failed show exit ($err)"
assert_contains "$out" "component      replay-loader-worker"
assert_contains "$out" "original_path  $T/in/submission_digest.al_bundle"
run "$ctl" failed show submission_digest.al_bundle --json
assert_eq "$T/in/submission_digest.al_bundle" "$(jq -r .original_path <<<"$out")" "JSON show"

note "retry: the file goes back to the input directory and the loader imports it"
cp "$T/bundles/${b[1]}" "$F/"
sidecar "${b[1]}" "target down for good"
sid=${b[1]#submission_}
sid=${sid%.al_bundle}
target_has() { alsim_curl target /_sim/docs/submission | jq -e --arg s "$1" 'has($s)' >/dev/null; }
! target_has "$sid" || fail "the target has $sid before the retry"
run "$ctl" failed retry "${b[1]}"
assert_eq 0 "$rc" "failed retry exit ($err)"
assert_contains "$out" "retried ${b[1]}: moved to $T/in"
[ ! -e "$F/${b[1]}" ] && [ ! -e "$F/${b[1]}.error.json" ] || fail "file or sidecar left: $(listing "$F")"
wait_for 60 "the retried bundle imported" target_has "$sid"
wait_for 60 "the retried bundle gone from the input directory" test ! -e "$T/in/${b[1]}"
stop_svc loader
stop_svc loader-worker

note "a name already in the input directory is never replaced; both files stay"
printf 'newer' >"$T/in/submission_same.al_bundle"
printf 'failed' >"$F/submission_same.al_bundle"
sidecar submission_same.al_bundle "refused"
run "$ctl" failed retry submission_same.al_bundle
assert_eq 1 "$rc" "retry onto an existing name"
assert_contains "$err" "submission_same.al_bundle not retried: $T/in/submission_same.al_bundle already exists"
assert_eq newer "$(cat "$T/in/submission_same.al_bundle")" "the input file"
assert_eq failed "$(cat "$F/submission_same.al_bundle")" "the failed file"
[ -f "$F/submission_same.al_bundle.error.json" ] || fail "the sidecar of a file not retried went"

note "names with '/' or '..', dot-files and sidecars are refused; nothing moves"
printf 'outside' >"$T/outside.al_bundle"
before=$(listing "$F")
for n in ../outside.al_bundle .. . sub/x.al_bundle "$F/submission_same.al_bundle" .hidden \
  submission_same.al_bundle.error.json ""; do
  run "$ctl" failed retry "$n"
  assert_eq 2 "$rc" "retry of '$n'"
  assert_contains "$err" "is not the name of a file of the failed directory"
done
run "$ctl" failed show ../outside.al_bundle
assert_eq 2 "$rc" "show of a path"
assert_eq "$before" "$(listing "$F")" "failed directory after refused names"
assert_eq outside "$(cat "$T/outside.al_bundle")" "file outside"
[ ! -e "$T/in/outside.al_bundle" ] || fail "a file outside the failed directory was moved"

note "several names: a missing one is reported, the others move"
printf 'x' >"$F/submission_two.al_bundle"
run "$ctl" failed retry submission_nothere.al_bundle submission_two.al_bundle --json
assert_eq 1 "$rc" "retry with a missing name"
assert_contains "$err" "submission_nothere.al_bundle not retried: submission_nothere.al_bundle is not in the failed directory"
assert_eq "false true" "$(jq -r 'map(.retried) | join(" ")' <<<"$out")" "JSON retry report"
[ -f "$T/in/submission_two.al_bundle" ] || fail "the good name was not moved"

note "a corrupt sidecar, and none: listed with the reason it cannot be read; show exits 1"
printf '{"reason": "cut' >"$F/submission_digest.al_bundle.error.json"
printf 'y' >"$F/submission_bare.al_bundle"
touch -d '-1 hour' "$F/submission_digest.al_bundle.error.json"
run "$ctl" failed list --json
assert_eq 0 "$rc" "list with a corrupt sidecar ($err)"
assert_contains "$(jq -r '.files[] | select(.name == "submission_digest.al_bundle") | .sidecar_error' <<<"$out")" "sidecar: invalid JSON"
assert_contains "$(jq -r '.files[] | select(.name == "submission_bare.al_bundle") | .sidecar_error' <<<"$out")" "submission_bare.al_bundle.error.json: no such file"
assert_eq submission_digest.al_bundle "$(jq -r '.files[-1].name' <<<"$out")" "the oldest failure last"
run "$ctl" failed show submission_digest.al_bundle
assert_eq 1 "$rc" "show with a corrupt sidecar"
assert_contains "$err" "sidecar: invalid JSON"
assert_contains "$out" "file           submission_digest.al_bundle"

note "retry --all moves every file but the one whose name is taken"
run "$ctl" failed retry --all
assert_eq 1 "$rc" "retry --all with a taken name"
assert_eq "submission_same.al_bundle submission_same.al_bundle.error.json " "$(listing "$F")" "left in failed"
for n in submission_digest.al_bundle submission_bare.al_bundle; do
  [ -f "$T/in/$n" ] || fail "$n not moved by --all"
done
rm "$T/in/submission_same.al_bundle"
run "$ctl" failed retry --all
assert_eq 0 "$rc" "retry --all ($err)"
assert_eq "" "$(listing "$F")" "failed directory after --all"
run "$ctl" failed retry --all
assert_eq 0 "$rc" "retry --all of nothing"
assert_contains "$out" "nothing to retry"

note "a missing failed directory, or a file where it should be"
touch "$T/a-file"
for d in "$T/no-such-dir" "$T/a-file"; do
  sed "s|failed_directory: \"$F\"|failed_directory: \"$d\"|" "$T/replay.yml" >"$T/other.yml"
  for args in "list" "list --json" "retry --all" "show submission_x.al_bundle"; do
    # shellcheck disable=SC2086
    run "$ctl" --config "$T/other.yml" failed $args
    assert_eq 1 "$rc" "failed $args with failed_directory $d"
    assert_contains "$err" "$d"
  done
  run "$ctl" --config "$T/other.yml" failed list
  assert_contains "$err" "cannot read the failed directory $d: "
done

note "bad usage and configuration exit 2"
for args in "" "frob" "show" "show a b" "retry" "retry --all x" "list x" "list --bogus"; do
  # shellcheck disable=SC2086
  run "$ctl" failed $args
  assert_eq 2 "$rc" "failed $args"
  assert_contains "$err" "usage: replay-ctl failed"
done
run "$ctl" failed --help
assert_eq 0 "$rc" "failed --help"
assert_contains "$out" "never replaced"
run "$ctl" --config "$T/nope.yml" failed list
assert_eq 2 "$rc" "failed with a missing config"
alsim_finish
