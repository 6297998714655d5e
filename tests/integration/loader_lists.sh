#!/usr/bin/env bash
# List exports (badlist, safelist, signature, workflow), CaRTed and plain: every
# document is loaded (upstream stops after the first one it creates), what the
# target's operators changed stays (badlist/safelist enabled, signature status,
# workflow enabled when edited by someone else), replaying the same exports again
# leaves one copy of each workflow (a real server gives every added workflow a new
# id), user sources of other accounts arrive as external ones (a target takes user
# sources from the caller only), and a document the target refuses fails its file
# without stopping the rest.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"
. "$(dirname "$0")/loader_lib.sh"
CTL=$(bin replay-ctl)

start_redis
start_alsim --name source --mode upstream
start_alsim --name target --mode upstream
seed=$(alsim_seed source badlist=6 safelist=4 signatures=4 workflows=3)

# export ROUND: one file per collection, as the creator-worker writes them (the
# workflows plain, the others CaRTed), dropped into the input directory.
export_all() {
  local c items stamp="2024-05-0$1T12:00:00.00000$1Z"
  for c in badlist safelist signature workflow; do
    alsim_curl source "/api/v4/search/$c/" -d '{"query": "*", "fl": "*,id", "rows": 1000}' |
      jq -c '.api_response.items' >"$T/${c}_x.json"
    if [ "$c" = workflow ]; then
      mv "$T/${c}_x.json" "$T/in/${c}_$stamp.al_json"
    else
      "$CTL" cart pack -o "$T/${c}_$stamp.al_json.cart" "$T/${c}_x.json" >/dev/null
      mv "$T/${c}_$stamp.al_json.cart" "$T/in/"
      rm "$T/${c}_x.json"
    fi
  done
}
count() { alsim_curl "$1" "/_sim/docs/$2" | jq 'length'; }

loader_config
start_svc loader
start_svc loader-worker

note "first replay: every document of every file"
export_all 1
wait_for 120 "the exports loaded" dir_empty "$T/in"
for c in badlist safelist signature workflow; do
  assert_eq "$(count source "$c")" "$(count target "$c")" "$c documents on the target"
done
dir_empty "$T/failed" || fail "files in the failed directory: $(ls "$T/failed")"
# A target takes user sources from the caller only: the others arrive as external
# sources of the same name.
for c in badlist safelist; do
  assert_eq "$(alsim_curl source "/_sim/docs/$c" | jq -c '[.[].sources[] | .name] | sort')" \
    "$(alsim_curl target "/_sim/docs/$c" | jq -c '[.[].sources[] | .name] | sort')" "$c source names"
  assert_eq '[]' "$(alsim_curl target "/_sim/docs/$c" |
    jq -c --arg u "$ALSIM_TARGET_USER" '[.[].sources[] | select(.type == "user" and .name != $u)]')" \
    "$c user sources of other accounts on the target"
done

note "the target's operators change things"
bl=$(jq -r '.badlist[0]' <<<"$seed")
sig=$(alsim_curl target /_sim/docs/signature | jq -r 'keys[0]')
wf=$(alsim_curl target /_sim/docs/workflow | jq -r 'keys[0]')
wf_name=$(alsim_curl target "/_sim/doc/workflow/$wf" | jq -r .name)
alsim_curl target "/_sim/doc/badlist/$bl" | jq -c '.enabled = false' |
  alsim_curl target "/_sim/doc/badlist/$bl" -X PUT -d @- >/dev/null
alsim_curl target "/_sim/doc/signature/$sig" | jq -c '.status = "DISABLED"' |
  alsim_curl target "/_sim/doc/signature/$sig" -X PUT -d @- >/dev/null
alsim_curl target "/_sim/doc/workflow/$wf" | jq -c '.enabled = false | .edited_by = "target_admin"' |
  alsim_curl target "/_sim/doc/workflow/$wf" -X PUT -d @- >/dev/null

note "second replay of the same documents"
export_all 2
wait_for 120 "the exports loaded again" dir_empty "$T/in"
dir_empty "$T/failed" || fail "files in the failed directory: $(ls "$T/failed")"
assert_eq "$(count source workflow)" "$(count target workflow)" "workflows on the target"
assert_eq 1 "$(alsim_curl target /_sim/docs/workflow | jq --arg n "$wf_name" '[.[] | select(.name == $n)] | length')" \
  "workflows named $wf_name"
assert_eq false "$(alsim_curl target "/_sim/doc/badlist/$bl" | jq .enabled)" "badlist enabled kept"
assert_eq DISABLED "$(alsim_curl target "/_sim/doc/signature/$sig" | jq -r .status)" "signature status kept"
assert_eq false "$(alsim_curl target "/_sim/doc/workflow/$wf" | jq .enabled)" "workflow enabled kept"

note "a document the target refuses fails the file, the others are loaded"
good=$(printf '%064d' 42)
alsim_curl source "/_sim/doc/badlist/$bl" | jq -c --arg good "$good" '
  [(. + {id: $good, hashes: {sha256: $good}}),
   (. + {id: "1234", hashes: {}}),
   {id: "5678"}]' >"$T/badlist_mixed.al_json"
mv "$T/badlist_mixed.al_json" "$T/in/badlist_2024-06-01T00:00:00Z.al_json"
side="$T/failed/badlist_2024-06-01T00:00:00Z.al_json.error.json"
wait_for 60 "the mixed export failed" test -f "$side"
assert_eq 2 "$(jq .items_failed "$side")" "documents refused"
assert_eq '["1234","5678"]' "$(jq -c '[.items[].id]' "$side")" "refused ids"
assert_contains "$(jq -r .reason "$side")" "2 of 3 document(s) not loaded (first: 1234: "
assert_contains "$(jq -r '.items[0].reason' "$side")" "No valid hash found"
alsim_curl target "/_sim/doc/badlist/$good" | jq -e .hashes >/dev/null || fail "the good document was not loaded"
loader_finish
