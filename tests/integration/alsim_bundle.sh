#!/usr/bin/env bash
# al-sim bundles: download builds a real CaRT'd tar.gz (formats.md §2) with flat
# memory; import into a second instance validates and stores like upstream
# (exist_ok / 409 with nothing stored, alert added when the submission exists,
# metadata.bundle.loaded, metadata.replay removed, workflows_completed false,
# min_classification, reclassification, rescans, allow_incomplete, base64 and
# un-CaRTed bodies), and records the flags of each import.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"

start_alsim --name src --fqdn source.example
start_alsim --name dst
exe=$(bin al-sim)
ctl=$(bin replay-ctl)
large=$((48 * 1024 * 1024))
seed=$(alsim_seed src rng_seed=5 submissions=3 files=3 results=2 errors=1 alerts=2 \
  large_file=$large submission_state=requested alert_state=pending)
mapfile -t sids < <(jq -r '.submissions[]' <<<"$seed")
mapfile -t alerts < <(jq -r '.alerts[]' <<<"$seed")
big=$(jq -r .large_file <<<"$seed")

download() { # ID [query] → $T/<ID>.cart; sets $status
  status=$(alsim_curl src "/api/v4/bundle/$1/${2:-}" -D "$T/$1.h" -o "$T/$1.cart" -w '%{http_code}')
}
import() { # FILE [query] → $status, $body (into dst)
  alsim_call dst POST "/api/v4/bundle/${2:-}" --data-binary "@$1"
}

note "download a submission bundle with a ${large}-byte file"
download "${sids[0]}"
assert_eq 200 "$status"
assert_contains "$(cat "$T/${sids[0]}.h")" "Content-Type: application/octet-stream"
assert_contains "$(cat "$T/${sids[0]}.h")" "filename*=UTF-8''${sids[0]}.al_bundle"
length=$(tr -d '\r' <"$T/${sids[0]}.h" | sed -n 's/^Content-Length: //p')
assert_eq "$(stat -c %s "$T/${sids[0]}.cart")" "$length" "Content-Length"
assert_eq CART "$(head -c 4 "$T/${sids[0]}.cart")"
"$ctl" cart unpack -q -o "$T/s0.tgz" "$T/${sids[0]}.cart"
assert_eq "1f8b08" "$(head -c 3 "$T/s0.tgz" | od -An -tx1 | tr -d ' \n')" "the payload is gzip"
mkdir -p "$T/s0" && tar -C "$T/s0" -xzf "$T/s0.tgz"
r="$T/s0/results.json"
assert_eq '["submission","files","results","errors"]' "$(jq -c keys_unsorted "$r")"
assert_eq source.example "$(jq -r '.submission.metadata["bundle.source"]' "$r")"
jq -e '.submission.metadata["bundle.created"] | test("^[0-9-]+T[0-9:.]+Z$")' "$r" >/dev/null ||
  fail "bundle.created is an ISO time"
assert_eq 4 "$(jq '.files.list | length' "$r")" "3 files + the large one"
assert_eq 4 "$(jq '.files.infos | length' "$r")"
assert_eq "$(jq -c '.submission.results | sort' "$r")" "$(jq -c '.results.results | keys' "$r")"
assert_eq 1 "$(jq '.errors.errors | length' "$r")"
jq -e '.files.tree | to_entries[0].value.children | length == 3' "$r" >/dev/null || fail "tree children"
for sha in $(jq -r '.files.list[]' "$r"); do
  [ -f "$T/s0/$sha" ] || fail "member $sha missing"
  assert_eq "$sha" "$(sha256sum "$T/s0/$sha" | cut -d' ' -f1)" "member bytes"
done
assert_eq $((4 + 1)) "$(ls "$T/s0" | wc -l | tr -d ' ')" "results.json + one member per file"
if ldd "$exe" | grep -q libasan; then
  note "sanitizer build: peak memory not checked"
else
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$ALSIM_SRC_PID/status")
  note "al-sim peak RSS after seeding and bundling 48 MiB: ${hwm} kB"
  [ "$hwm" -lt 40000 ] || fail "al-sim peak RSS ${hwm} kB: the bundle was not streamed"
fi
download nosuch
assert_eq 403 "$status"
assert_eq "You are not allowed create a bundle for this submission..." "$(jq -r .api_error_message "$T/nosuch.cart")"
download "${sids[0]}" "?use_alert"
assert_eq 403 "$status" "a sid is not an alert id"
assert_eq "You are not allowed create a bundle for this alert..." "$(jq -r .api_error_message "$T/${sids[0]}.cart")"

note "import into the target"
download "${sids[0]}"
import "$T/${sids[0]}.cart" "?exist_ok&to_ingest=True"
alsim_expect 200 ""
assert_eq '{"success":true}' "$(jq -c .api_response <<<"$body")"
sub=$(curl -s "$ALSIM_DST_URL/_sim/doc/submission/${sids[0]}")
jq -e '.metadata | has("replay") | not' <<<"$sub" >/dev/null || fail "metadata.replay must be removed"
jq -e '.metadata["bundle.loaded"] | test("Z$")' <<<"$sub" >/dev/null || fail "bundle.loaded"
assert_eq TLP:CLEAR "$(jq -r '.metadata["bundle.classification"]' <<<"$sub")"
assert_eq 4 "$(curl -s "$ALSIM_DST_URL/_sim/stats" | jq .collections.file)"
assert_eq "$big" "$(curl -s "$ALSIM_DST_URL/_sim/blob/$big" | sha256sum | cut -d' ' -f1)" "large file content"
assert_eq 8 "$(curl -s "$ALSIM_DST_URL/_sim/stats" | jq .collections.result)" "4 files x 2 results"
assert_eq 1 "$(curl -s "$ALSIM_DST_URL/_sim/stats" | jq .collections.error)"
alsim_call dst POST /api/v4/search/submission/ -d '{"query": "metadata.replay:*", "rows": 0}'
assert_eq 0 "$(jq .api_response.total <<<"$body")"

note "duplicates: 409 without exist_ok and nothing changes; 200 with it"
curl -s "$ALSIM_DST_URL/_sim/stats" >"$T/stats.before"
curl -s "$ALSIM_DST_URL/_sim/doc/submission/${sids[0]}" >"$T/sub.before"
import "$T/${sids[0]}.cart" "?to_ingest=True"
alsim_expect 409 "Submission ${sids[0]} already exists."
assert_eq '{"success":false}' "$(jq -c .api_response <<<"$body")"
import "$T/${sids[0]}.cart" "?exist_ok"
alsim_expect 200 ""
assert_eq "$(jq -S . "$T/sub.before")" "$(curl -s "$ALSIM_DST_URL/_sim/doc/submission/${sids[0]}" | jq -S .)" \
  "exist_ok leaves the submission untouched"
assert_eq "$(jq -c .collections "$T/stats.before")" "$(curl -s "$ALSIM_DST_URL/_sim/stats" | jq -c .collections)"

note "alert bundles: the alert is added even when its submission exists (with exist_ok)"
download "${alerts[0]}" "?use_alert"
assert_eq 200 "$status"
"$ctl" cart unpack -q -o "$T/a0.tgz" "$T/${alerts[0]}.cart"
mkdir -p "$T/a0" && tar -C "$T/a0" -xzf "$T/a0.tgz" results.json
assert_eq '["submission","files","results","errors","alert"]' "$(jq -c keys_unsorted "$T/a0/results.json")"
hdr=$("$ctl" cart info "$T/${alerts[0]}.cart")
assert_eq "${sids[0]}.tgz" "$(jq -r .header.name <<<"$hdr")" "an alert bundle is named after its sid"
assert_eq archive/bundle/al "$(jq -r .header.al.type <<<"$hdr")"
assert_eq "$(stat -c %s "$T/a0.tgz")" "$(jq -r .footer.length <<<"$hdr")"
import "$T/${alerts[0]}.cart" "?exist_ok&to_ingest=True"
alsim_expect 200 ""
alert=$(curl -s "$ALSIM_DST_URL/_sim/doc/alert/${alerts[0]}")
assert_eq false "$(jq .workflows_completed <<<"$alert")"
jq -e '.metadata | has("replay") | not' <<<"$alert" >/dev/null || fail "alert metadata.replay removed"
jq -e '.metadata | has("bundle.loaded")' <<<"$alert" >/dev/null || fail "alert bundle.loaded"

note "without exist_ok, a 409 stores nothing at all, not even the alert"
download "${sids[1]}"
import "$T/${sids[1]}.cart"
alsim_expect 200 ""
download "${alerts[1]}" "?use_alert"
import "$T/${alerts[1]}.cart"
alsim_expect 409 "Submission ${sids[1]} already exists."
status=$(curl -s -o /dev/null -w '%{http_code}' "$ALSIM_DST_URL/_sim/doc/alert/${alerts[1]}")
assert_eq 404 "$status" "the alert of a refused bundle is not stored"

note "base64 and un-CaRTed bodies"
download "${sids[2]}"
base64 -w 0 "$T/${sids[2]}.cart" >"$T/s2.b64"
import "$T/s2.b64" "?exist_ok"
alsim_expect 200 ""
curl -s "$ALSIM_DST_URL/_sim/doc/submission/${sids[2]}" | jq -e .sid >/dev/null || fail "base64 import"
more=$(alsim_seed src rng_seed=6 submissions=2 files=1 alerts=0 badlist=0 safelist=0 signatures=0 workflows=0)
mapfile -t extra < <(jq -r '.submissions[]' <<<"$more")
download "${extra[0]}"
"$ctl" cart unpack -q -o "$T/e0.tgz" "$T/${extra[0]}.cart"
import "$T/e0.tgz" "?exist_ok"
alsim_expect 200 ""
assert_eq gzip "$(curl -s "$ALSIM_DST_URL/_sim/imports" | jq -r '.[-1].format')"

note "min_classification, reclassification, rescans, allow_incomplete"
download "${extra[1]}"
import "$T/${extra[1]}.cart" "?exist_ok&min_classification=TLP%3AAMBER&rescan_services=Extract%2CYARA&to_ingest=True"
alsim_expect 200 ""
sub=$(curl -s "$ALSIM_DST_URL/_sim/doc/submission/${extra[1]}")
assert_eq TLP:AMBER "$(jq -r .classification <<<"$sub")" "raised to min_classification"
assert_eq TLP:CLEAR "$(jq -r '.metadata["bundle.classification"]' <<<"$sub")"
assert_eq submitted "$(jq -r .state <<<"$sub")" "a rescan resubmits"
assert_eq '["Extract","YARA"]' "$(jq -c .params.services.rescan <<<"$sub")"
rescan=$(curl -s "$ALSIM_DST_URL/_sim/rescans" | jq -c '.[-1]')
assert_eq '["Extract","YARA"]' "$(jq -c .services <<<"$rescan")"
assert_eq true "$(jq .to_ingest <<<"$rescan")"
rec=$(curl -s "$ALSIM_DST_URL/_sim/imports" | jq -c '.[-1]')
assert_eq "exist_ok&min_classification=TLP%3AAMBER&rescan_services=Extract%2CYARA&to_ingest=True" \
  "$(jq -r .query <<<"$rec")" "the raw query string is recorded"
assert_eq TLP:AMBER "$(jq -r .flags.min_classification <<<"$rec")"
assert_eq True "$(jq -r .flags.to_ingest <<<"$rec")"

mkdir -p "$T/cl" && tar -C "$T/cl" -xzf "$T/e0.tgz"
jq -c '.submission.sid = "RECLASS1" | .submission.classification = "TOP SECRET"' "$T/cl/results.json" >"$T/cl/r" &&
  mv "$T/cl/r" "$T/cl/results.json"
(cd "$T/cl" && tar -czf "$T/cl.tgz" ./*)
import "$T/cl.tgz" "?exist_ok"
alsim_expect 400 "Classification level 'TOP SECRET' was not found in your classification definition."
import "$T/cl.tgz" "?exist_ok&reclassification=TLP%3AGREEN"
alsim_expect 200 ""
assert_eq TLP:GREEN "$(curl -s "$ALSIM_DST_URL/_sim/doc/submission/RECLASS1" | jq -r .classification)"

jq -c '.submission.sid = "INCOMPLETE2" | .submission.classification = "TLP:C" | .results.results = {}' "$T/cl/results.json" >"$T/cl/r" &&
  mv "$T/cl/r" "$T/cl/results.json"
(cd "$T/cl" && tar -czf "$T/inc.tgz" ./*)
import "$T/inc.tgz" "?exist_ok"
alsim_expect 400 "Incomplete results in bundle. Skipping INCOMPLETE2..."
import "$T/inc.tgz" "?exist_ok&allow_incomplete"
alsim_expect 200 ""

note "the loader's arrival check: metadata values are strings"
alsim_call dst POST /api/v4/search/alert/ -d '{"offset": 0, "filters": [], "query": "metadata.bundle.loaded:[now-3600s TO now]", "track_total_hits": true}'
alsim_expect 200 ""
assert_eq 0 "$(jq .api_response.total <<<"$body")" "date math does not apply to a metadata string"
alsim_call dst POST /api/v4/search/alert/ -d '{"query": "metadata.bundle.loaded:[2000-01-01T00:00:00 TO *]", "track_total_hits": true}'
assert_eq 1 "$(jq .api_response.total <<<"$body")" "an ISO string bound does match"

note "parallel downloads"
pids=()
for i in 1 2 3; do
  alsim_curl src "/api/v4/bundle/${sids[1]}/" -o "$T/par.$i" & pids+=($!)
done
wait "${pids[@]}"
for i in 1 2 3; do "$ctl" cart unpack -q -o "$T/par.$i.tgz" "$T/par.$i" || fail "parallel download $i"; done
alsim_finish
echo "alsim_bundle: ok"
