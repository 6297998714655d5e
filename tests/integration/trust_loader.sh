#!/usr/bin/env bash
# Signed manifests at the target (issue 16): replay-loader and replay-loader-worker
# with loader.manifest on, against al-sim (upstream mode) and a real Redis. The
# manifests are written by manifest_make.py with json, hashlib and OpenSSL's
# command line (nothing of ours), so the loader is checked against an independent
# writer: bundles a signed manifest lists import (two trusted keys: rotation); a
# bundle altered after signing fails `tampered`, one no manifest lists `unsigned`,
# both after their wait; a manifest replayed, with a broken chain, a bad or
# unknown signature, or malformed is refused with its reason and nothing imports
# on its word; a lost manifest is a gap and a lost bundle is missing in
# `replay-ctl audit`, each warned once by the loader, and a restart of both
# services loses none of it. Without require_signature bundles import as before
# and the audit still counts what no manifest lists.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"
. "$(dirname "$0")/loader_lib.sh"
CTL=$(bin replay-ctl)
MAKE=(python3 "$(dirname "$0")/manifest_make.py")

start_redis
start_alsim --name target --mode upstream
make_bundles 9
mapfile -t b < <(cd "$T/bundles" && ls)
S="$T/stage"
mkdir -p "$S" "$T/keys"
for k in a b c; do
  openssl genpkey -algorithm ed25519 -out "$T/keys/$k" 2>/dev/null || fail "openssl genpkey"
  chmod 600 "$T/keys/$k"
  openssl pkey -in "$T/keys/$k" -pubout -out "$T/keys/$k.pub" 2>/dev/null
done
REQUIRE="manifest: {require_signature: true, trusted_keys: [\"$T/keys/a.pub\", \"$T/keys/b.pub\"], wait: 6, grace: 4}"

# make SEQ PREV KEY FILES...: a manifest of source $SOURCE (online-1) in $S; its
# path in $manifest, its sha256 in $sha.
make() {
  local seq=$1 prev=$2 key=$3 line
  shift 3
  line=$("${MAKE[@]}" "$S" "${SOURCE:-online-1}" "$seq" "$prev" ${key:+--key "$T/keys/$key"} "$@") ||
    fail "manifest_make.py $seq"
  sha=${line##* }
  manifest=${line% *}
}
# deliver FILE...: moves the files into the input directory, as a transfer would.
deliver() { local f; for f in "$@"; do mv "$f" "$T/in/"; done; }
# put FILE [NAME]: copies a file in under its name (or NAME), complete at once
# (renamed from a dot-file: the loader settles nothing here, LOADER_SETTLE=0).
put() { cp "$1" "$T/in/.put.part" && mv "$T/in/.put.part" "$T/in/${2:-$(basename "$1")}"; }
export LOADER_SETTLE=0
failed_reason() { jq -r .reason "$T/failed/$1.error.json"; }
# expect_failed NAME WORD: NAME ends in the failed directory, its reason WORD: ...
expect_failed() {
  wait_for 90 "$1 in the failed directory" test -f "$T/failed/$1.error.json"
  assert_contains "$(failed_reason "$1")" "$2: " "reason of $1"
}
sid_of() { local n=${1#submission_}; echo "${n%.al_bundle}"; }
imported() { [ "$(imports_ok "$(sid_of "$1")")" = 1 ]; }
audit_json() { "$CTL" --config "$T/replay.yml" audit --json; }

note "a bad trusted key, or require_signature without a key: exit 2 at start"
loader_config "manifest: {require_signature: true}"
run "$(bin replay-loader-worker)" --config "$T/replay.yml" --log-format text
assert_eq 2 "$rc" "exit code with require_signature and no key"
assert_contains "$err" "loader.manifest.require_signature needs at least one key"
loader_config "manifest: {trusted_keys: [\"$T/keys/a\"]}"
chmod 644 "$T/keys/a"
run "$(bin replay-loader-worker)" --config "$T/replay.yml" --log-format text
assert_eq 2 "$rc" "exit code with a private key as a trusted key"
assert_contains "$err" "loader.manifest.trusted_keys[0]"
assert_not_contains "$err$out" "$(sed -n 2p "$T/keys/a")" "output"
chmod 600 "$T/keys/a"

loader_config "$REQUIRE"
start_svc loader env LOG_LEVEL=DEBUG
start_svc loader-worker

note "bundles before their signed manifest: they wait, then import when it arrives"
cp "$T/bundles/${b[0]}" "$T/bundles/${b[1]}" "$S/"
make 1 none a "$S/${b[0]}" "$S/${b[1]}"
m1=$manifest sha1=$sha
run "$CTL" verify "$m1"
assert_eq 0 "$rc" "replay-ctl verify of a manifest"
assert_contains "$out" "source online-1, sequence 1, 2 file(s), signed by SHA256:"
cp "$m1" "$m1.sig" "$T/"
deliver "$S/${b[0]}" "$S/${b[1]}"
wait_for 60 "the bundles wait for their manifest" log_has loader-worker "${b[1]} waits for a manifest"
[ "$(imports_total)" = 0 ] || fail "a bundle imported before its manifest arrived"
deliver "$m1.sig" "$m1"
wait_for 90 "the input directory is empty" dir_empty "$T/in"
assert_eq 1 "$(imports_ok "$(sid_of "${b[0]}")")" "imports of ${b[0]}"
assert_eq 1 "$(imports_ok "$(sid_of "${b[1]}")")" "imports of ${b[1]}"
log_has loader-worker "sequence 1 of online-1, 2 file(s), signature verified" ||
  fail "the manifest's record is not logged"

note "a bundle altered after signing fails tampered; one no manifest lists fails unsigned"
cp "$T/bundles/${b[2]}" "$S/"
make 2 "$sha1" a "$S/${b[2]}"
sha2=$sha
deliver "$manifest.sig" "$manifest"
printf 'x' >>"$S/${b[2]}"
cp "$T/bundles/${b[3]}" "$S/"
deliver "$S/${b[2]}" "$S/${b[3]}"
expect_failed "${b[2]}" tampered
expect_failed "${b[3]}" unsigned
assert_eq 0 "$(imports_ok "$(sid_of "${b[2]}")")" "imports of the tampered bundle"
assert_eq 0 "$(imports_ok "$(sid_of "${b[3]}")")" "imports of the unsigned bundle"

note "a replayed manifest, a broken chain, bad and unknown signatures, an unsigned manifest"
put "$T/$(basename "$m1").sig"
put "$T/$(basename "$m1")"
expect_failed "$(basename "$m1")" replayed
test -f "$T/failed/$(basename "$m1").sig" || fail "the replayed manifest's .sig stayed behind"
cp "$T/bundles/${b[4]}" "$S/"
make 3 "$sha1" a "$S/${b[4]}" # names manifest 1, not 2
deliver "$manifest.sig" "$manifest"
expect_failed "$(basename "$manifest")" broken-chain
make 5 none a "$S/${b[4]}"
printf 'AAAA' | dd of="$manifest.sig" bs=1 seek=10 conv=notrunc status=none
deliver "$manifest.sig" "$manifest"
expect_failed "$(basename "$manifest")" bad-signature
make 10 none a "$S/${b[4]}"
head -c 10 "$manifest.sig" >"$manifest.sig.short" && mv "$manifest.sig.short" "$manifest.sig"
deliver "$manifest.sig" "$manifest"
expect_failed "$(basename "$manifest")" bad-signature
make 11 none a "$S/${b[4]}"
ln -sf /etc/passwd "$T/in/$(basename "$manifest").sig"
deliver "$manifest"
expect_failed "$(basename "$manifest")" bad-signature
make 6 none c "$S/${b[4]}"
deliver "$manifest.sig" "$manifest"
expect_failed "$(basename "$manifest")" unknown-key
make 7 none "" "$S/${b[4]}"
deliver "$manifest"
expect_failed "$(basename "$manifest")" unsigned
deliver "$S/${b[4]}"
expect_failed "${b[4]}" unsigned
assert_eq 0 "$(imports_ok "$(sid_of "${b[4]}")")" "imports of a bundle only refused manifests list"

note "the chain checked against a later manifest recorded first; a record finished after a crash"
SOURCE=online-2
make 61 none a
deliver "$manifest.sig" "$manifest"
wait_for 60 "manifest 61 of online-2 recorded" log_has loader-worker "sequence 61 of online-2"
make 60 none a # manifest 61 names no previous hash: 60 cannot be its predecessor
deliver "$manifest.sig" "$manifest"
expect_failed "$(basename "$manifest")" broken-chain
make 41 none a # (names of its own: the failed directory holds online-1's manifest 1)
cp "$manifest" "$manifest.sig" "$T/"
deliver "$manifest.sig" "$manifest"
wait_for 60 "manifest 41 of online-2 recorded" log_has loader-worker "sequence 41 of online-2"
done41() { [ "$(redis-cli -p "$REDIS_PORT" hget replay_audit:online-2:manifests done:41)" = 1 ]; }
wait_for 30 "manifest 41 of online-2 done" done41
# As if the worker had died between the record and the removal of the file.
redis-cli -p "$REDIS_PORT" hdel replay_audit:online-2:manifests done:41 >/dev/null
put "$T/$(basename "$manifest").sig"
put "$T/$(basename "$manifest")"
wait_for 60 "the recorded manifest finished again" bash -c \
  "[ \$(grep -c 'Recorded $T/in/$(basename "$manifest")' '$T/loader-worker.log') = 2 ]"
[ ! -e "$T/failed/$(basename "$manifest")" ] || fail "a manifest recorded before a crash failed"
put "$T/$(basename "$manifest").sig"
put "$T/$(basename "$manifest")"
expect_failed "$(basename "$manifest")" replayed
unset SOURCE

note "a waiting file removed by hand: its wait ends"
put "$T/bundles/${b[8]}" "gone_${b[8]}"
wait_for 60 "the file waits" log_has loader-worker "gone_${b[8]} waits for a manifest"
rm "$T/in/gone_${b[8]}"
not_waiting() { [ "$(redis-cli -p "$REDIS_PORT" zcard replay_audit:waiting)" = 0 ]; }
wait_for 60 "no file waits any more" not_waiting

note "malformed manifests: refused with the reason, the services keep running"
bad_manifest() { # SEQ: JSON on stdin
  local line
  line=$("${MAKE[@]}" "$S" online-1 "$1" none --key "$T/keys/a" --raw) || fail "manifest_make.py --raw"
  manifest=${line% *}
  run "$CTL" verify "$manifest"
  assert_eq 1 "$rc" "replay-ctl verify of a malformed manifest"
  deliver "$manifest.sig" "$manifest"
  expect_failed "$(basename "$manifest")" malformed
}
good_entry='{"name": "submission_x.al_bundle", "size": 1, "sha256": "'$(printf '%064d' 0)'", "type": "submission", "ids": ["x"]}'
head_json='"format": "assemblyline-replay-manifest", "version": 1, "source": "online-1", "created": "t", "previous_sha256": null, "key": "'"SHA256:$(openssl pkey -in "$T/keys/a" -pubout -outform DER 2>/dev/null | tail -c 32 | sha256sum | cut -c1-64)"'"'
echo "{$head_json, \"sequence\": 20, \"files\": [${good_entry/submission_x/..\/..\/etc\/passwd}]}" | bad_manifest 20
echo "{$head_json, \"sequence\": 21, \"files\": [${good_entry/\"size\": 1/\"size\": -5}]}" | bad_manifest 21
echo "{$head_json, \"sequence\": 22, \"files\": [${good_entry/\"size\": 1/\"size\": 99999999999999999999}]}" | bad_manifest 22
python3 -c "
import json, sys
e = json.loads(sys.argv[1]); h = json.loads('{' + sys.argv[2] + '}')
h.update(sequence=23, files=[dict(e, name='submission_%d.al_bundle' % i) for i in range(10001)])
print(json.dumps(h))" "$good_entry" "$head_json" | bad_manifest 23
echo "{${head_json/\"online-1\"/\"a b\"}, \"sequence\": 25, \"files\": [$good_entry]}" | bad_manifest 25
printf 'not json at all' >"$T/not-json" && put "$T/not-json" replay_manifest_x_24.json
expect_failed replay_manifest_x_24.json malformed
svc_alive loader || fail "the loader died"
svc_alive loader-worker || fail "the loader-worker died"

note "a manifest lost on the way is a gap; a bundle lost on the way is missing; rotation"
cp "$T/bundles/${b[5]}" "$S/"
make 4 none b "$S/${b[5]}" "submission_lost.al_bundle=123=$(printf '%064d' 7)"
deliver "$S/${b[5]}" "$manifest.sig" "$manifest"
wait_for 90 "the bundle of manifest 4 (key b) imports" imported "${b[5]}"
wait_for 60 "the lost bundle is warned of" log_has loader \
  "submission_lost.al_bundle, listed by manifest 4 of source online-1, has not arrived"
wait_for 60 "the lost manifest (3) is warned of" log_has loader \
  "Manifest 3 of source online-1 never arrived"
audit_json >"$T/audit.json" || fail "replay-ctl audit --json failed"
jq -e '.sources["online-1"] | .manifests == 3 and .first == 1 and .last == 4 and .gaps == [3]' \
  "$T/audit.json" >/dev/null || fail "audit: manifests and gaps: $(jq -c '.sources' "$T/audit.json")"
jq -e '.sources["online-2"] | .manifests == 2 and .gap_count == 19 and
  .failures == {"broken-chain": 1, "replayed": 1}' "$T/audit.json" >/dev/null ||
  fail "audit: online-2: $(jq -c '.sources["online-2"]' "$T/audit.json")"
# Missing: the lost bundle, and the bytes manifest 2 promised for the bundle that
# arrived altered.
jq -e --arg t "${b[2]}" '.sources["online-1"].missing | map(.name) | sort ==
  ([$t, "submission_lost.al_bundle"] | sort)' "$T/audit.json" \
  >/dev/null || fail "audit: missing: $(jq -c '.sources' "$T/audit.json")"
jq -e '.sources["online-1"].failures | .replayed == 1 and ."broken-chain" == 1 and
  ."bad-signature" == 3 and ."unknown-key" == 1 and .unsigned == 1 and .tampered == 1' \
  "$T/audit.json" >/dev/null || fail "audit: failures by reason: $(jq -c '.sources["online-1"].failures' "$T/audit.json")"
# Malformed manifests name no source one can trust; unsigned bundles none at all.
jq -e '.failures == {"unsigned": 2, "malformed": 6}' "$T/audit.json" >/dev/null ||
  fail "audit: failures without a source: $(jq -c .failures "$T/audit.json")"
"$CTL" --config "$T/replay.yml" audit >"$T/audit.txt" || fail "replay-ctl audit failed"
assert_file_contains "$T/audit.txt" "source online-1: 3 manifest(s), sequence 1 to 4"
assert_file_contains "$T/audit.txt" "1 gap(s), manifests that never arrived: 3"
assert_file_contains "$T/audit.txt" "submission_lost.al_bundle"

note "a restart of both services loses no audit state, and warns nothing twice"
stop_svc loader
stop_svc loader-worker
checks=$(log_count loader "Audit checked")
start_svc loader env LOG_LEVEL=DEBUG
start_svc loader-worker
# Three checks (4 s apart) outlast the 6 s a gap must stay before it is warned of.
wait_for 90 "the restarted loader checked the audit three times" bash -c \
  "[ \$(grep -cF 'Audit checked' '$T/loader.log') -ge $((checks + 3)) ]"
audit_json >"$T/audit2.json"
assert_eq "$(jq -c 'del(.time)' "$T/audit.json")" "$(jq -c 'del(.time)' "$T/audit2.json")" \
  "the audit after a restart"
cp "$T/bundles/${b[6]}" "$S/"
make 8 "$sha" b "$S/${b[6]}"
deliver "$S/${b[6]}" "$manifest.sig" "$manifest"
wait_for 90 "a bundle after the restart imports" imported "${b[6]}"
assert_eq 1 "$(log_count loader 'submission_lost.al_bundle, listed by manifest 4')" \
  "warnings of the lost bundle"
assert_eq 1 "$(log_count loader 'Manifest 3 of source online-1 never arrived')" \
  "warnings of the lost manifest"

note "replay-ctl audit --forget-arrived: arrivals forgotten, manifests and missing files kept"
run "$CTL" --config "$T/replay.yml" audit --forget-arrived 0
assert_eq 0 "$rc" "exit code of --forget-arrived"
assert_contains "$out" "forgot "
sha0=$(sha256sum "$T/bundles/${b[0]}" | cut -c1-64)
assert_eq 0 "$(redis-cli -p "$REDIS_PORT" hexists replay_audit:promised "${b[0]}/$sha0")" "promise forgotten"
assert_eq 0 "$(redis-cli -p "$REDIS_PORT" hexists replay_audit:arrived "${b[0]}/$sha0")" "arrival forgotten"
audit_json >"$T/audit5.json"
jq -e '.sources["online-1"] | .manifests == 4 and .gaps == [3, 5, 6, 7] and (.missing | length) == 2' \
  "$T/audit5.json" >/dev/null || fail "audit after forgetting: $(jq -c '.sources["online-1"]' "$T/audit5.json")"
for bad in "--forget-arrived -1" "--forget-arrived x" "--forget-arrived 36601" "--grace -1" \
  "--timeout 0" "--json --forget-arrived 1" "extra"; do
  # shellcheck disable=SC2086
  run "$CTL" --config "$T/replay.yml" audit $bad
  assert_eq 2 "$rc" "exit code of replay-ctl audit $bad"
done
stop_svc loader
stop_svc loader-worker

note "without require_signature: bundles import as before, the audit counts the unlisted"
loader_config "manifest: {audit: true, grace: 4, wait: 6}"
start_svc loader
start_svc loader-worker
put "$T/bundles/${b[7]}"
wait_for 90 "an unlisted bundle imports" imported "${b[7]}"
audit_json >"$T/audit3.json"
jq -e --arg n "${b[7]}" '.unlisted | map(.name) | index($n) != null' "$T/audit3.json" >/dev/null ||
  fail "audit: ${b[7]} not among the unlisted: $(jq -c .unlisted "$T/audit3.json")"
SOURCE=online-3 make 1 none a "$T/bundles/${b[7]}"
deliver "$manifest.sig" "$manifest"
wait_for 60 "a signed manifest recorded without a key to check it" log_has loader-worker \
  "sequence 1 of online-3, 1 file(s), signature not checked"
audit_json >"$T/audit4.json"
jq -e --arg n "${b[7]}" '(.sources["online-3"] | .manifests == 1 and .unverified == 1) and
  (.unlisted | map(.name) | index($n) == null)' "$T/audit4.json" >/dev/null ||
  fail "audit: a manifest listing an arrived file: $(jq -c . "$T/audit4.json")"
sha3=$sha

note "an audit entry in Redis that Replay never writes: the file fails with the reason"
sha7=$(sha256sum "$T/bundles/${b[7]}" | cut -c1-64)
redis-cli -p "$REDIS_PORT" hset replay_audit:promised "corrupt_${b[7]}/$sha7" garbage >/dev/null
put "$T/bundles/${b[7]}" "corrupt_${b[7]}"
wait_for 90 "the file in the failed directory" test -f "$T/failed/corrupt_${b[7]}.error.json"
assert_contains "$(failed_reason "corrupt_${b[7]}")" "holds what Replay never writes"
svc_alive loader-worker || fail "the loader-worker died"

note "a manifest is queued ahead of the files already waiting in the queue"
stop_svc loader-worker
put "$T/bundles/${b[7]}" "again_${b[7]}"
queued() { [ "$(redis-cli -p "$REDIS_PORT" llen replay_file)" = "$1" ]; }
wait_for 30 "the bundle queued" queued 1
SOURCE=online-3 make 2 "$sha3" a
deliver "$manifest.sig" "$manifest"
wait_for 30 "the manifest queued" queued 2
assert_eq "$T/in/$(basename "$manifest")" "$(redis-cli -p "$REDIS_PORT" lindex replay_file 0 | jq -r .)" \
  "the head of the file queue"
start_svc loader-worker
wait_for 60 "the input directory is empty" dir_empty "$T/in"
stop_svc loader
stop_svc loader-worker

note "manifests off (no loader.manifest): manifests stay where they are, bundles import"
loader_config
start_svc loader
start_svc loader-worker
make 9 none a "$T/bundles/${b[8]}"
deliver "$manifest.sig" "$manifest"
put "$T/bundles/${b[8]}"
wait_for 90 "the bundle imports" imported "${b[8]}"
test -f "$T/in/$(basename "$manifest")" || fail "the manifest was taken while manifests are off"
loader_finish
note "signed manifests at the target: all checks passed"
