#!/usr/bin/env bash
# replay-ctl request against al-sim as the source: alerts and submissions become
# `requested` (GET /api/v4/replay/<index>/<id>/, the creator's account, key never
# printed); an unknown id, a refused key and a server that is down exit 1 with the
# reason; an unsafe id, a bad type and bad usage exit 2 and send nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"
ctl=$(bin replay-ctl)

start_alsim --name source --mode upstream
seed=$(alsim_seed source submissions=3 alerts=2 files=1 results=1 errors=0)
SID1=$(jq -r '.submissions[0]' <<<"$seed")
SID2=$(jq -r '.submissions[1]' <<<"$seed")
AID1=$(jq -r '.alerts[0]' <<<"$seed")
state() { alsim_curl source "/_sim/doc/$1/$2" | jq -r '.metadata.replay // "none"'; }
requests() { alsim_curl source /_sim/requests | jq '[.[] | select(.uri | startswith("/api/v4/replay/"))] | length'; }
config() { # apikey
  printf 'creator:\n  client:\n    type: api\n    options: {host: "%s", user: "%s", apikey: "%s"}\n' \
    "$ALSIM_SOURCE_URL" "$ALSIM_SOURCE_USER" "$1" >"$T/replay.yml"
}
config "$ALSIM_SOURCE_APIKEY"
secret=${ALSIM_SOURCE_APIKEY#*:}
export REPLAY_CONFIG_PATH=$T/replay.yml REPLAY_AL_CONFIG_PATH=$T/none.yml

note "submissions and an alert become requested"
assert_eq "none none" "$(state submission "$SID1") $(state alert "$AID1")" "states before"
run "$ctl" request submission "$SID1" "$SID2"
assert_eq 0 "$rc" "request submission exit ($err)"
assert_contains "$out" "requested submission $SID1"
assert_contains "$out" "requested submission $SID2"
assert_eq "requested requested" "$(state submission "$SID1") $(state submission "$SID2")" "submission states"
run "$ctl" request alert "$AID1" --json
assert_eq 0 "$rc" "request alert exit ($err)"
assert_eq "$AID1 true" "$(jq -r '.[0] | "\(.id) \(.requested)"' <<<"$out")" "JSON report"
assert_eq requested "$(state alert "$AID1")" "alert state"
last=$(alsim_curl source /_sim/requests | jq -c '[.[] | select(.uri | startswith("/api/v4/replay/"))] | .[-1] | {method, uri, x_user, apikey_sent, content_type}')
assert_eq "{\"method\":\"GET\",\"uri\":\"/api/v4/replay/alert/$AID1/\",\"x_user\":\"$ALSIM_SOURCE_USER\",\"apikey_sent\":true,\"content_type\":\"application/json\"}" "$last" "the request al-sim saw"

note "an unknown id: exit 1 with the reason; the others are still requested"
run "$ctl" request submission NoSuchSid0000000000000 "$(jq -r '.submissions[2]' <<<"$seed")" --json
assert_eq 1 "$rc" "request of an unknown id"
assert_contains "$err" "submission NoSuchSid0000000000000 not requested: no such submission, or the account may not see it"
assert_eq "false true" "$(jq -r 'map(.requested) | join(" ")' <<<"$out")" "JSON report with a failure"

note "a refused key: exit 1, the key never printed"
config "${ALSIM_SOURCE_APIKEY%%:*}:wrong-s3cret"
run "$ctl" request alert "$AID1"
assert_eq 1 "$rc" "request with a bad key"
assert_contains "$err" "401"
assert_not_contains "$out$err" "wrong-s3cret" "output"
assert_not_contains "$out$err" "$secret" "output"
config "$ALSIM_SOURCE_APIKEY"

note "unsafe ids, bad types and bad usage: exit 2, nothing sent"
n=$(requests)
for args in "alert ../x" "alert a/b" "submission ''" "alert $(printf 'x%.0s' {1..129})" "badlist x" \
  "alert" "" "--attempts 0 alert x" "--attempts x alert x" "--bogus alert x"; do
  eval "run \"\$ctl\" request $args"
  assert_eq 2 "$rc" "request $args"
done
run "$ctl" request alert ../x
assert_contains "$err" "\"../x\" is not an alert id"
assert_eq "$n" "$(requests)" "requests after refused arguments"
run "$ctl" request --help
assert_eq 0 "$rc" "request --help"
assert_contains "$out" "GET /api/v4/replay/<alert|submission>/<ID>/"
run "$ctl" --config "$T/nope.yml" request alert x
assert_eq 2 "$rc" "request with a missing config"
printf 'creator:\n  client:\n    type: direct\n' >"$T/direct.yml"
run "$ctl" --config "$T/direct.yml" request alert x
assert_eq 2 "$rc" "request with a direct client"

note "the server down: exit 1 after the attempts"
stop_alsim source
run "$ctl" request --attempts 1 submission "$SID1"
assert_eq 1 "$rc" "request with the server down"
assert_contains "$err" "submission $SID1 not requested: "
alsim_finish
