#!/usr/bin/env bash
# Every call of the REST client against real al-sim processes (a source and a
# target in intended mode, one in upstream mode): search, deep-paging stream,
# bulk pending, complete, request, queues, checkpoints, bundle download and
# import (with every flag), badlist/safelist/signature/workflow get/add/update,
# auth and role refusals, upstream defects B2/B3, and injected faults.
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/alsim.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/alclient_common.sh"

start_alsim --name source --user "replay:rkey:Src5ecretKey" --user "reader:rdkey:Rd5ecret:R"
start_alsim --name target --user "admin:tkey:Tgt5ecretKey" # seeded list sources are "admin"
S=$ALSIM_SOURCE_URL
TG=$ALSIM_TARGET_URL

src() { ALCLIENT_APIKEY=rkey:Src5ecretKey tool --user replay "$S" "$@"; }
tgt() { ALCLIENT_APIKEY=tkey:Tgt5ecretKey tool --user admin "$TG" "$@"; }
sim() { curl -s -f "$1$2" || fail "GET $1$2 failed"; } # URL PATH: test hooks

seed=$(alsim_seed source submissions=120 alerts=3 files=2 badlist=3 safelist=3 signatures=3 \
  workflows=2 submission_state=requested)
SID1=$(jq -r '.submissions[0]' <<<"$seed")
SID2=$(jq -r '.submissions[1]' <<<"$seed")
SID3=$(jq -r '.submissions[2]' <<<"$seed")
AID1=$(jq -r '.alerts[0]' <<<"$seed")
BL1=$(jq -r '.badlist[0]' <<<"$seed")
SL1=$(jq -r '.safelist[0]' <<<"$seed")
SIG1=$(jq -r '.signature[0]' <<<"$seed")
WF1=$(jq -r '.workflow[0]' <<<"$seed")

note "auth: good key, wrong key, a key without replay_system"
src check
expect_success
ALCLIENT_APIKEY=rkey:wrong tool --user replay "$S" check
expect_failure REPLAY_EAUTH 401 "Invalid user or APIKey"
ALCLIENT_APIKEY=rdkey:Rd5ecret tool --user reader "$S" complete submission "$SID1"
expect_failure REPLAY_EAUTH 403 "Access Denied (/api/v4/replay/submission/$SID1/)"
assert_not_contains "$err" "Rd5ecret" "stderr"

note "search: the creator's submission query, then the count-only query"
FQS=(--filter "metadata.replay:requested" --filter "NOT metadata.replay:pending"
  --filter "NOT metadata.replay:done")
src --fl sid,times.completed --rows 100 --sort "times.completed asc" "${FQS[@]}" \
  search submission "times.completed:[* TO now]"
expect_success
assert_eq 120 "$(jq .total <<<"$out")" "total"
assert_eq 100 "$(jq '.items | length' <<<"$out")" "page size"
assert_eq '["sid","times"]' "$(jq -c '.items[0] | keys_unsorted' <<<"$out")" "item keys"
first=$(jq -r '.items[0].times.completed' <<<"$out")
last=$(jq -r '.items[99].times.completed' <<<"$out")
[[ "$first" < "$last" ]] || fail "items not in ascending times.completed order"
src --rows 0 --no-filters search badlist "updated:[* TO now]"
expect_success
assert_eq 3 "$(jq .total <<<"$out")" "badlist total"
src --rows 1 search alert "reporting_ts:["
expect_failure REPLAY_EHTTP 400 "SearchException"

note "stream: deep paging over 120 submissions, every one exactly once"
src --fl sid,times.completed stream submission "metadata.replay:requested"
expect_success
assert_eq 120 "$(echo "$out" | wc -l)" "streamed items"
assert_eq 120 "$(echo "$out" | jq -r .sid | sort -u | wc -l)" "distinct streamed sids"
src --fl '*,id' --no-filters stream signature "last_modified:[* TO now]"
expect_success
assert_eq 3 "$(echo "$out" | wc -l)" "streamed signatures"
assert_contains "$out" "\"id\": \"$SIG1\""

note "bulk pending changes at most max_docs matching documents"
src "${FQS[@]}" pending submission "times.completed:[* TO $last]" 40
expect_success
assert_eq 40 "$out" "documents set pending"
src --rows 0 search submission "metadata.replay:pending"
assert_eq 40 "$(jq .total <<<"$out")" "pending documents"

note "complete and request"
src complete submission "$SID1"
expect_success
assert_eq true "$out"
assert_eq done "$(sim "$S" "/_sim/doc/submission/$SID1" | jq -r .metadata.replay)" "state of $SID1"
src complete submission NoSuchSid0000000000000
expect_failure REPLAY_ENOTFOUND 403 \
  "You are not allowed to modify the submission with the following ID: NoSuchSid0000000000000"
src request alert "$AID1"
expect_success
assert_eq requested "$(sim "$S" "/_sim/doc/alert/$AID1" | jq -r .metadata.replay)" "alert state"

note "queues: every type round-trips, an empty queue answers null after the long poll"
src put-message alert "{\"alert_id\": \"$AID1\", \"reporting_ts\": \"2024-05-01T12:34:56.123456Z\"}"
expect_success
src get-message alert
assert_eq "{\"alert_id\": \"$AID1\", \"reporting_ts\": \"2024-05-01T12:34:56.123456Z\"}" "$out"
src put-message file '"/tmp/replay/input/submission_X.al_bundle"'
src get-message file
assert_eq '"/tmp/replay/input/submission_X.al_bundle"' "$out"
src list-get workflow "$WF1"
doc=$(jq -c --arg id "$WF1" '. + {id: $id}' <<<"$out")
src put-message workflow "$doc"
expect_success
src get-message workflow
assert_eq "$WF1" "$(jq -r .id <<<"$out")" "workflow message id"
src get-message submission
expect_success
assert_eq null "$out"
[ "$secs" -le 15 ] || fail "an empty long poll took ${secs}s (al-sim waits 1 s)"
src put-message alert '{"alert_id": "A1"}'
expect_failure REPLAY_EHTTP 400 "Invalid message for type ALERT"

note "checkpoints"
src get-checkpoint badlist
assert_eq "*" "$out"
src put-checkpoint signature 2024-05-01T12:34:56.123456Z
expect_success
src get-checkpoint signature
assert_eq 2024-05-01T12:34:56.123456Z "$out"

note "bundles: download (submission and alert), import with every flag, 409, exist_ok"
src download "$SID2" "$T/sub.al_bundle"
expect_success
assert_eq CART "$(head -c 4 "$T/sub.al_bundle")" "bundle magic"
src --use-alert download "$AID1" "$T/alert.al_bundle"
expect_success
echo stale >"$T/missing.al_bundle"
src download NoSuchSid0000000000000 "$T/missing.al_bundle"
expect_failure REPLAY_ENOTFOUND 403 "You are not allowed create a bundle for this submission"
[ ! -s "$T/missing.al_bundle" ] || fail "an error answer left bytes in the bundle file"

tgt --exist-ok --to-ingest import "$T/sub.al_bundle"
expect_success
doc=$(sim "$TG" "/_sim/doc/submission/$SID2")
[ "$(jq -r '.metadata["bundle.loaded"] // empty' <<<"$doc")" != "" ] || fail "no metadata.bundle.loaded"
assert_eq null "$(jq -c '.metadata.replay' <<<"$doc")" "metadata.replay on the target"
tgt import "$T/sub.al_bundle"
expect_failure REPLAY_EEXIST 409 "Submission $SID2 already exists."
tgt --exist-ok import "$T/sub.al_bundle"
expect_success
tgt --use-alert download "$AID1" "$T/x"
expect_failure REPLAY_ENOTFOUND 403 "You are not allowed create a bundle for this alert"
tgt --exist-ok --to-ingest import "$T/alert.al_bundle"
expect_success
assert_eq false "$(sim "$TG" "/_sim/doc/alert/$AID1" | jq -r .workflows_completed)" \
  "workflows_completed of the imported alert"

src download "$SID3" "$T/sub3.al_bundle"
tgt --exist-ok --min-classification "TLP:AMBER" --rescan Extract --rescan "Yara Scan" \
  --allow-incomplete --reclassification "TLP:CLEAR" --to-ingest import "$T/sub3.al_bundle"
expect_success
rec=$(sim "$TG" /_sim/imports | jq -c --arg sid "$SID3" '[.[] | select(.sid == $sid)] | last')
assert_eq "exist_ok&min_classification=TLP%3AAMBER&rescan_services=Extract%2CYara%20Scan&allow_incomplete&reclassification=TLP%3ACLEAR&to_ingest=True" \
  "$(jq -r .query <<<"$rec")" "import query string"
assert_eq '["Extract","Yara Scan"]' "$(jq -c .flags.rescan_services <<<"$rec")" "rescan services"
assert_eq true "$(jq -c .flags.allow_incomplete <<<"$rec")" "allow_incomplete"

head -c 4096 /dev/urandom >"$T/garbage.bin"
tgt --exist-ok import "$T/garbage.bin"
expect_failure REPLAY_EHTTP 400 "Not a valid bundle"

note "lists: get on the source, 404 then add on the target, update, workflows"
for pair in "badlist:$BL1" "safelist:$SL1" "signature:$SIG1"; do
  list=${pair%%:*} id=${pair#*:}
  src list-get "$list" "$id"
  expect_success
  doc=$out
  tgt list-get "$list" "$id"
  expect_failure REPLAY_ENOTFOUND 404 "not found"
  tgt list-add "$list" "$doc"
  expect_success
  tgt list-get "$list" "$id"
  expect_success
  tgt list-add "$list" "$doc"
  expect_success
done
tgt list-add badlist '{"type": "file", "hashes": {}}'
expect_failure REPLAY_EHTTP 400 "No valid hash found"
tgt list-get safelist tooshort
expect_failure REPLAY_EHTTP 400 "Invalid hash length"

src list-get workflow "$WF1"
wf=$out
tgt list-get workflow "$WF1"
expect_failure REPLAY_ENOTFOUND 404 "Workflow ID $WF1 does not exist"
tgt workflow-add "$wf"
expect_success
NEW=$(jq -r .workflow_id <<<"$out")
[ -n "$NEW" ] && [ "$NEW" != "$WF1" ] || fail "workflow add did not answer a new id: $out"
tgt workflow-update "$NEW" "$(jq -c '.name = "renamed"' <<<"$wf")"
expect_success
assert_eq renamed "$(sim "$TG" "/_sim/doc/workflow/$NEW" | jq -r .name)" "updated workflow name"

note "what al-sim saw: JSON content type, X-USER and a key on every request, no cookie"
reqs=$(sim "$S" /_sim/requests)
n=$(jq '[.[] | select(.x_user == "replay")] | length' <<<"$reqs")
[ "$n" -gt 20 ] || fail "too few requests recorded: $n"
bad=$(jq -c '[.[] | select(.x_user == "replay") |
  select(.content_type != "application/json" or (.apikey_sent | not) or .cookie_sent)] | .[0]' \
  <<<"$reqs")
assert_eq null "$bad" "a request without the expected headers"

note "upstream mode: swapped checkpoint routes (B2) and its three queue types (B3)"
start_alsim --name upstream --mode upstream
U=$ALSIM_UPSTREAM_URL
tool "$U" get-checkpoint badlist
expect_failure REPLAY_EHTTP 400 "No data block provided or data block not in JSON format.'"
tool "$U" put-checkpoint badlist 2024-01-01T00:00:00.000000Z
expect_failure REPLAY_EUNSUPPORTED 200 "upstream defect B2"
tool "$U" put-message badlist '{"id": "x"}'
expect_failure REPLAY_EHTTP 400 "BADLIST is not a valid message type for this API."

note "ui.allow_replay off: the replay routes answer 'Api does not exist', which is no missing document"
start_alsim --name noreplay --no-replay
N=$ALSIM_NOREPLAY_URL
tool "$N" get-message alert
expect_failure REPLAY_ENOAPI 404 "Api does not exist (/api/v4/replay/queue/alert/)"
assert_eq 1 "$(jq '[.[] | select(.uri == "/api/v4/replay/queue/alert/")] | length' \
  <<<"$(sim "$N" /_sim/requests)")" "requests for a missing API (never retried)"
tool "$N" complete submission "$SID1"
expect_failure REPLAY_ENOAPI 404 "Api does not exist (/api/v4/replay/submission/$SID1/)"
tool "$N" list-get workflow NoSuchWorkflow
expect_failure REPLAY_ENOTFOUND 404 "Workflow ID NoSuchWorkflow does not exist"

note "faults: retried 503, drop, truncate and stall; final daily quota and text 500"
fault() { # URL SPEC
  curl -s -f -X POST -H 'Content-Type: application/json' \
    -d "{\"faults\": [\"$2\"], \"replace\": true}" "$1/_sim/faults" >/dev/null ||
    fail "cannot set fault $2"
}
fault "$S" "kind=503,count=2"
src check
expect_success
assert_contains "$err" "retry 2 in"
fault "$S" "kind=drop,count=1,path=/api/v4/search/"
src --rows 1 search alert '*'
expect_success
assert_contains "$err" "retry 1 in"
fault "$S" "kind=truncate,count=1,path=/api/v4/bundle/"
src download "$SID2" "$T/retried.al_bundle"
expect_success
assert_contains "$err" "retry 1 in"
assert_eq CART "$(head -c 4 "$T/retried.al_bundle")" "magic of the retried download"
tgt --exist-ok import "$T/retried.al_bundle"
expect_success
fault "$S" "kind=stall-body,ms=30000,count=1,path=/api/v4/bundle/"
src download "$SID2" "$T/stalled.al_bundle"
expect_success
assert_contains "$err" "Operation too slow"
assert_contains "$err" "REPLAY_ETIMEDOUT); retry 1 in"
tgt --exist-ok import "$T/stalled.al_bundle"
expect_success
fault "$S" "kind=503,body=json,count=0,message=You've exceeded your daily maximum API calls quota of 5"
src check
expect_failure REPLAY_EHTTP 503 "daily maximum API calls quota"
fault "$S" "kind=500,body=text,count=0,message=oops"
src check
expect_failure REPLAY_EHTTP 500 "oops"
curl -s -f -X DELETE "$S/_sim/faults" >/dev/null
echo "alclient_alsim: every call behaved"
