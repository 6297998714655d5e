#!/usr/bin/env bash
# replay-ctl verify on bundles made by al-sim and on list exports: digests (the
# same as the data's own sha256), members, a results.json summary naming the
# submission or alert; a CaRT whose digest is wrong, an unsafe member, a cut
# file, a broken or non-array export, an unknown collection and a missing file
# fail with the reason (exit 1); bad usage exits 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"
export REPLAY_CTL=$(bin replay-ctl)
ctl=$REPLAY_CTL
PY=/usr/bin/python3
[ -x "$PY" ] || fail "/usr/bin/python3 is needed (Debian's python3)"
craft() { "$PY" "$(dirname "$0")/loader_craft.py" "$@"; }
export REPLAY_CONFIG_PATH=$T/none.yml REPLAY_AL_CONFIG_PATH=$T/none-config.yml

start_alsim --name source --mode upstream
seed=$(alsim_seed source submissions=1 alerts=1 files=3 results=2 errors=1 file_size=64)
SID=$(jq -r '.submissions[0]' <<<"$seed")
AID=$(jq -r '.alerts[0]' <<<"$seed")
B=$T/submission_$SID.al_bundle
alsim_curl source "/api/v4/bundle/$SID/" -o "$B"
alsim_curl source "/api/v4/bundle/$AID/?use_alert" -o "$T/alert_$AID.al_bundle"

note "a bundle: ok, its digests, members and what its results.json holds"
run "$ctl" verify "$B"
assert_eq 0 "$rc" "verify exit ($err)"
assert_contains "$out" "$B: ok (bundle, CaRT)"
sha=$("$ctl" cart unpack -q -o - "$B" | sha256sum | cut -d' ' -f1)
assert_contains "$out" "  sha256 $sha  "
assert_contains "$out" "submission $SID: "
run "$ctl" verify --json "$B" "$T/alert_$AID.al_bundle"
assert_eq 0 "$rc" "verify --json exit ($err)"
assert_eq "$sha $SID true" "$(jq -r '.[0] | "\(.digests.sha256) \(.results.sid) \(.ok)"' <<<"$out")" "JSON bundle"
[ "$(jq '.[0].members' <<<"$out")" -ge 2 ] || fail "too few members: $out"
[ "$(jq '.[0].results.files' <<<"$out")" -ge 1 ] || fail "no files in the summary: $out"
[ "$(jq '.[0].results.results' <<<"$out")" -ge 1 ] || fail "no results in the summary: $out"
assert_eq "$AID" "$(jq -r '.[1].results.alert_id' <<<"$out")" "alert bundle"
"$ctl" cart unpack -q -o "$T/submission_bare.al_bundle" "$B"
run "$ctl" verify --json "$T/submission_bare.al_bundle"
assert_eq "0 false null" "$rc $(jq -r '.[0] | "\(.carted) \(.digests)"' <<<"$out")" "a bare bundle"

note "broken bundles: the loader-worker's reasons, exit 1"
craft digest "$B" "$T/submission_digest.al_bundle"
craft escape "$T/submission_escape.al_bundle"
head -c $(($(stat -c %s "$B") / 2)) "$B" >"$T/submission_cut.al_bundle"
for f in digest:"sha256 mismatch" escape:"unsafe member" cut:""; do
  run "$ctl" verify "$T/submission_${f%%:*}.al_bundle"
  assert_eq 1 "$rc" "verify of the ${f%%:*} bundle"
  assert_contains "$out" "$T/submission_${f%%:*}.al_bundle: FAILED: ${f#*:}"
done

note "list exports: documents counted, plain and CaRTed"
E=$T/badlist_2024-05-01T12:00:00.000000Z.al_json
printf '[{"id": "a", "tag": 1}, {"id": "b"}, {"id": "c", "x": [1, {"y": "]"}]}]' >"$E"
"$ctl" cart pack -q -o "$E.cart" "$E"
run "$ctl" verify "$E" "$E.cart"
assert_eq 0 "$rc" "verify of exports ($err)"
assert_contains "$out" "$E: ok (export)"
assert_contains "$out" "$E.cart: ok (export, CaRT)"
assert_eq 2 "$(grep -c '  3 badlist document(s)' <<<"$out")" "document counts"
run "$ctl" verify --json "$E.cart"
assert_eq "$(sha256sum <"$E" | cut -d' ' -f1) 3" "$(jq -r '.[0] | "\(.digests.sha256) \(.documents)"' <<<"$out")" "JSON export"

note "broken exports, an unknown collection, a missing file: exit 1, the others still checked"
printf '[{"id": "a"},' >"$T/safelist_cut.al_json"
printf '{"id": "a"}' >"$T/signature_object.al_json"
printf '[]' >"$T/frob_x.al_json"
run "$ctl" verify --json "$T/safelist_cut.al_json" "$T/signature_object.al_json" "$T/frob_x.al_json" \
  "$T/none.al_bundle" "$E"
assert_eq 1 "$rc" "verify of bad exports"
assert_eq "false false false false true" "$(jq -r 'map(.ok) | join(" ")' <<<"$out")" "JSON rows"
assert_contains "$(jq -r '.[0].error' <<<"$out")" "invalid JSON"
assert_contains "$(jq -r '.[1].error' <<<"$out")" "invalid JSON"
assert_contains "$(jq -r '.[2].error' <<<"$out")" "frob"
assert_contains "$(jq -r '.[3].error' <<<"$out")" "cannot open $T/none.al_bundle: No such file or directory"

note "bad usage exits 2"
for args in "" "--bogus $E" "--json"; do
  # shellcheck disable=SC2086
  run "$ctl" verify $args
  assert_eq 2 "$rc" "verify $args"
  assert_contains "$err" "usage: replay-ctl verify"
done
run "$ctl" verify --help
assert_eq 0 "$rc" "verify --help"
alsim_finish
