#!/usr/bin/env bash
# al-sim over HTTP: the happy path of every endpoint Replay uses, and the pitfalls
# of al-rest-api.md §12.3 (filters and max_docs of bulk pending, missing fields
# under NOT, mixed range brackets, deep paging, exact queue keys, not-found codes,
# envelope on every answer, login cookies).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"

start_alsim --name src --user admin:devkey:devpass --user alice:ak:as:RWE:user
seed=$(alsim_seed src rng_seed=11 submissions=6 files=2 alerts=4 badlist=250 safelist=3 \
  signatures=3 workflows=3 submission_state=requested)
mapfile -t sids < <(jq -r '.submissions[]' <<<"$seed")
mapfile -t alerts < <(jq -r '.alerts[]' <<<"$seed")
assert_eq 6 "${#sids[@]}" "seeded submissions"

note "versions, v3 probe, login flow"
alsim_call src GET /api/
alsim_expect 200 ""
assert_eq '["v4"]' "$(jq -c .api_response <<<"$body")"
status=$(curl -s -o "$T/v3" -w '%{http_code}' "$ALSIM_SRC_URL/api/v3/auth/init/")
assert_eq 404 "$status" "v3 probe"
assert_eq "Api does not exist (/api/v3/auth/init/)" "$(jq -r .api_error_message "$T/v3")"
jar="$T/cookies"
curl -s -c "$jar" -A replay-test -H 'Content-Type: application/json' \
  -d '{"user": "admin", "apikey": "devkey:devpass"}' "$ALSIM_SRC_URL/api/v4/auth/login/" >"$T/login"
assert_eq admin "$(jq -r .api_response.username "$T/login")"
assert_eq 3600 "$(jq -r .api_response.session_duration "$T/login")"
grep -q 'XSRF-TOKEN' "$jar" || fail "no XSRF-TOKEN cookie"
assert_not_contains "$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
  -d '{"user": "admin", "apikey": "devkey:devpass"}' "$ALSIM_SRC_URL/api/v4/auth/login/")" "Secure"
out=$(curl -s -b "$jar" -A replay-test "$ALSIM_SRC_URL/api/")
assert_eq '["v4"]' "$(jq -c .api_response <<<"$out")" "GET /api/ with the session cookie"
out=$(curl -s -b "$jar" -A other-agent "$ALSIM_SRC_URL/api/")
assert_eq "Invalid user agent for this session" "$(jq -r .api_error_message <<<"$out")"
curl -s -X DELETE "$ALSIM_SRC_URL/_sim/sessions" >/dev/null
out=$(curl -s -b "$jar" -A replay-test "$ALSIM_SRC_URL/api/")
assert_eq "Session expired" "$(jq -r .api_error_message <<<"$out")" "after /_sim/sessions was cleared"
out=$(curl -s -d 'user=admin&apikey=devkey%3Adevpass' "$ALSIM_SRC_URL/api/v4/auth/login/")
assert_eq admin "$(jq -r .api_response.username <<<"$out")" "form login"
out=$(curl -s -H 'Content-Type: application/json' -d '{"user": "admin"}' "$ALSIM_SRC_URL/api/v4/auth/login/")
assert_eq "Not enough information to proceed with authentication" "$(jq -r .api_error_message <<<"$out")"

note "search: what the creator sends"
alsim_call src POST /api/v4/search/submission/ -d '{"fl": "sid,times.completed", "offset": 0,
  "rows": 100, "sort": "times.completed asc", "filters": ["metadata.replay:requested",
  "NOT metadata.replay:pending", "NOT metadata.replay:done"], "query": "times.completed:[* TO now]"}'
alsim_expect 200 ""
assert_eq 6 "$(jq '.api_response.total' <<<"$body")"
assert_eq '["sid","times"]' "$(jq -c '.api_response.items[0] | keys' <<<"$body")" "fl keeps nesting"
assert_eq '["completed"]' "$(jq -c '.api_response.items[0].times | keys' <<<"$body")"
sorted=$(jq -r '[.api_response.items[].times.completed] | . == sort' <<<"$body")
assert_eq true "$sorted" "times.completed asc"
first_c=$(jq -r '.api_response.items[0].times.completed' <<<"$body")
third_c=$(jq -r '.api_response.items[2].times.completed' <<<"$body")

alsim_call src POST /api/v4/search/alert/ -d '{"fl": "alert_id,reporting_ts", "offset": 0,
  "rows": 100, "sort": "reporting_ts asc", "filters": ["NOT extended_scan:submitted",
  "workflows_completed:true", "NOT metadata.replay:pending", "NOT metadata.replay:done"],
  "query": "reporting_ts:{* TO now]"}'
alsim_expect 200 ""
assert_eq 4 "$(jq '.api_response.total' <<<"$body")" "fresh alerts (no metadata.replay) match NOT"
assert_eq '["alert_id","reporting_ts"]' "$(jq -c '.api_response.items[0] | keys' <<<"$body")"
first_rt=$(jq -r '.api_response.items[0].reporting_ts' <<<"$body")

note "search: mixed brackets, rows as a string, track_total_hits, offsets, sort"
alsim_call src POST /api/v4/search/alert/ -d "{\"query\": \"reporting_ts:{$first_rt TO now]\", \"rows\": \"10\"}"
assert_eq 3 "$(jq '.api_response.total' <<<"$body")" "{ excludes the lower bound"
assert_eq 10 "$(jq '.api_response.rows' <<<"$body")" "rows echoed as an integer"
alsim_call src POST /api/v4/search/alert/ -d "{\"query\": \"reporting_ts:[$first_rt TO now]\"}"
assert_eq 4 "$(jq '.api_response.total' <<<"$body")" "[ includes it"
alsim_call src POST /api/v4/search/badlist/ -d '{"query": "*", "rows": 0, "track_total_hits": true}'
assert_eq 250 "$(jq '.api_response.total' <<<"$body")"
assert_eq 0 "$(jq '.api_response.items | length' <<<"$body")"
alsim_call src POST /api/v4/search/badlist/ -d '{"query": "id:*", "offset": 245, "rows": 25, "fl": "id"}'
assert_eq 5 "$(jq '.api_response.items | length' <<<"$body")" "offset near the end"
assert_eq 245 "$(jq '.api_response.offset' <<<"$body")"
alsim_call src POST /api/v4/search/badlist/ -d '{"query": "*", "rows": 5, "fl": "added", "sort": "added asc"}'
assert_eq true "$(jq '[.api_response.items[].added] | . == sort' <<<"$body")"
alsim_call src POST /api/v4/search/badlist/ -d '{"query": "*", "rows": 5, "fl": "added"}'
assert_eq true "$(jq '[.api_response.items[].added] | . == (sort | reverse)' <<<"$body")" \
  "default sort of badlist is added desc"
alsim_call src POST /api/v4/search/badlist/ -d '{"query": "*", "rows": 250, "fl": "type,added",
  "sort": "type desc, added asc"}'
alsim_expect 200 ""
assert_eq true "$(jq '[.api_response.items[] | [.type, .added]] |
  . == (group_by(.[0]) | reverse | map(sort_by(.[1])) | add)' <<<"$body")" \
  "a two-field sort: type desc, then added asc"
alsim_call src POST /api/v4/search/signature/ -d '{"query": "*", "fl": "*,id"}'
assert_eq 3 "$(jq '.api_response.total' <<<"$body")"
jq -e '.api_response.items[0] | has("id") and has("data")' <<<"$body" >/dev/null || fail "fl=*,id"
alsim_call src POST /api/v4/search/signature/ -d '{"query": "*", "fl": "*"}'
jq -e '.api_response.items[0] | has("id") | not' <<<"$body" >/dev/null || fail "fl=* has no id"
alsim_call src POST /api/v4/search/submission/ -d '{"query": "*", "rows": 1, "fl": "sid, times.completed,id"}'
assert_eq '["id","sid"]' "$(jq -c '.api_response.items[0] | keys' <<<"$body")" "fl parts are not stripped"
alsim_call src POST /api/v4/search/submission/ -d '{"query": "*", "rows": 1, "fl": ""}'
jq -e '.api_response.items[0] | has("sid") and has("id") and (has("metadata") | not)' <<<"$body" \
  >/dev/null || fail "an empty fl means the default fields"
alsim_call src POST /api/v4/search/submission/ -d '{"query": "*", "rows": 1}'
assert_eq '{"submitted":true}' "$(jq -c '.api_response.items[0].times | map_values(. != null)' <<<"$body")" \
  "default fields: times.submitted is stored, times.completed is not"
alsim_call src POST /api/v4/search/alert/ -d '{"query": "*", "rows": 1}'
assert_eq '["attrib","av","score"]' "$(jq -c '.api_response.items[0].al | keys' <<<"$body")" \
  "default fields: al.score, al.attrib and al.av are stored"
jq -e '.api_response.items[0] | has("id") and (has("metadata") | not)' <<<"$body" >/dev/null ||
  fail "default fields of an alert: id, no metadata"
alsim_call src GET "/api/v4/search/submission/?query=*&filters=metadata.replay:requested&filters=NOT%20sid:${sids[0]}&fl=sid&rows=50"
assert_eq 5 "$(jq '.api_response.total' <<<"$body")" "GET search with repeated filters"

note "deep paging: full pages carry next_deep_paging_id, pages are disjoint and stable"
: >"$T/paged"
dp='*'
pages=0
while :; do
  alsim_call src POST /api/v4/search/badlist/ -d "{\"fl\": \"id\", \"rows\": \"100\", \"deep_paging_id\": \"$dp\", \"query\": \"updated:[* TO now]\"}"
  alsim_expect 200 ""
  [ "$(jq '.api_response.total' <<<"$body")" = null ] || fail "deep paging total must be null"
  n=$(jq '.api_response.items | length' <<<"$body")
  jq -r '.api_response.items[].id' <<<"$body" >>"$T/paged"
  pages=$((pages + 1))
  if [ "$pages" = 1 ]; then # change the data under the snapshot: it must not matter
    alsim_seed src rng_seed=12 submissions=0 badlist=7 safelist=0 signatures=0 workflows=0 >/dev/null
  fi
  if [ "$n" = 100 ]; then
    dp=$(jq -r '.api_response.next_deep_paging_id' <<<"$body")
    [ "$dp" != null ] || fail "a full page must carry next_deep_paging_id"
  else
    [ "$(jq 'has("next_deep_paging_id")' <<<"$(jq .api_response <<<"$body")")" = false ] ||
      fail "a short page must not carry next_deep_paging_id"
    break
  fi
done
assert_eq 3 "$pages" "pages of 100, 100, 50"
assert_eq 250 "$(sort -u "$T/paged" | wc -l | tr -d ' ')" "250 distinct ids over the pages"
assert_eq 250 "$(wc -l <"$T/paged" | tr -d ' ')"

note "bulk pending: only matching documents, at most max_docs, nothing else changes"
curl -s "$ALSIM_SRC_URL/_sim/docs/submission" >"$T/before"
alsim_call src POST /api/v4/replay/pending/ -d "{\"index\": \"submission\",
  \"query\": \"times.completed:[$first_c TO $third_c]\", \"filter_queries\":
  [\"metadata.replay:requested\", \"NOT metadata.replay:pending\", \"NOT metadata.replay:done\"],
  \"max_docs\": 2}"
alsim_expect 200 ""
assert_eq '{"count":2,"success":true}' "$(jq -c .api_response <<<"$body")"
curl -s "$ALSIM_SRC_URL/_sim/docs/submission" >"$T/after"
changed=$(jq -r --slurpfile b "$T/before" 'to_entries | map(select(.value != $b[0][.key])) | .[].key' "$T/after")
assert_eq 2 "$(wc -w <<<"$changed" | tr -d ' ')" "two documents changed"
for sid in $changed; do
  assert_eq pending "$(jq -r --arg s "$sid" '.[$s].metadata.replay' "$T/after")"
  c=$(jq -r --arg s "$sid" '.[$s].times.completed' "$T/after")
  [[ ! "$c" < "$first_c" && ! "$c" > "$third_c" ]] || fail "$sid is outside the bulk range"
  assert_eq "$(jq -S --arg s "$sid" '.[$s] | del(.metadata.replay)' "$T/before")" \
    "$(jq -S --arg s "$sid" '.[$s] | del(.metadata.replay)' "$T/after")" "only metadata.replay changed"
done
alsim_call src POST /api/v4/search/submission/ -d '{"query": "metadata.replay:pending", "rows": 0}'
assert_eq 2 "$(jq .api_response.total <<<"$body")"
alsim_call src POST /api/v4/replay/pending/ -d "{\"index\": \"submission\",
  \"query\": \"times.completed:[$first_c TO $third_c]\", \"filter_queries\":
  [\"NOT metadata.replay:pending\"], \"max_docs\": 100}"
assert_eq 1 "$(jq .api_response.count <<<"$body")" "the third one only"
alsim_call src POST /api/v4/replay/pending/ -d '{"index": "alert", "query": "bad:[", "filter_queries": [], "max_docs": 1}'
assert_eq '{"count":false,"success":true}' "$(jq -c .api_response <<<"$body")"

note "set complete and request replay"
alsim_call src POST "/api/v4/replay/submission/${sids[0]}/"
alsim_expect 200 ""
assert_eq done "$(curl -s "$ALSIM_SRC_URL/_sim/doc/submission/${sids[0]}" | jq -r .metadata.replay)"
alsim_call src POST "/api/v4/replay/alert/nosuchalert/"
alsim_expect 403 "You are not allowed to modify the alert with the following ID: nosuchalert"
alsim_call src GET "/api/v4/replay/alert/${alerts[3]}/"
alsim_expect 200 ""
assert_eq requested "$(curl -s "$ALSIM_SRC_URL/_sim/doc/alert/${alerts[3]}" | jq -r .metadata.replay)"
alsim_call src POST "/api/v4/replay/workflow/x/"
alsim_expect 400 "WORKFLOW is not a valid index for this API."

note "queues: seven types, FIFO, exact keys, null after the wait"
alsim_call src PUT /api/v4/replay/queue/alert/ -d '{"alert_id": "A1", "reporting_ts": "2024-01-01T00:00:00Z"}'
alsim_expect 200 ""
alsim_call src PUT /api/v4/replay/queue/alert/ -d '{"alert_id": "A2", "reporting_ts": "2024-01-02T00:00:00Z"}'
alsim_call src GET /api/v4/replay/queue/alert/
assert_eq A1 "$(jq -r .api_response.alert_id <<<"$body")" "FIFO"
alsim_call src PUT /api/v4/replay/queue/submission/ -d '{"sid": "S1", "times": {"completed": "x"}}'
alsim_expect 200 ""
alsim_call src PUT /api/v4/replay/queue/submission/ -d '{"sid": "S1", "times": {}, "from_archive": false}'
alsim_expect 400 "Invalid message for type SUBMISSION: {'sid': 'S1', 'times': {}, 'from_archive': False}"
alsim_call src PUT /api/v4/replay/queue/file/ -d '"/tmp/replay/input/alert_x.al_bundle"'
alsim_expect 200 ""
alsim_call src PUT /api/v4/replay/queue/file/ -d '{"path": "x"}'
alsim_expect 400 "Invalid message for type FILE: {'path': 'x'}"
for t in badlist safelist signature workflow; do
  alsim_call src PUT "/api/v4/replay/queue/$t/" -d "{\"id\": \"$t-1\", \"updated\": \"2024-01-01T00:00:00Z\"}"
  alsim_expect 200 ""
  alsim_call src GET "/api/v4/replay/queue/$t/"
  assert_eq "$t-1" "$(jq -r .api_response.id <<<"$body")" "$t queue"
done
alsim_call src GET /api/v4/replay/queue/file/
assert_eq /tmp/replay/input/alert_x.al_bundle "$(jq -r .api_response <<<"$body")"
alsim_call src GET /api/v4/replay/queue/alert/
alsim_call src GET /api/v4/replay/queue/submission/
alsim_call src GET /api/v4/replay/queue/nosuch/
alsim_expect 400 "NOSUCH is not a valid message type for this API."
start=$SECONDS
alsim_call src GET /api/v4/replay/queue/alert/
alsim_expect 200 ""
assert_eq null "$(jq -c .api_response <<<"$body")" "an empty queue answers null, not 404"
[ $((SECONDS - start)) -le 15 ] || fail "the 1 s long poll took $((SECONDS - start)) s (30 s is the default)"

note "long polls run concurrently and are woken by puts"
# 9 of them: they hold 9 of the user's 10 quota slots, the puts take the last one
start_alsim --name lp --long-poll 60
pollers=()
for i in $(seq 1 9); do
  alsim_curl lp /api/v4/replay/queue/workflow/ -m 120 >"$T/poll.$i" &
  pollers+=($!)
done
waiting() { [ "$(curl -s "$ALSIM_LP_URL/_sim/stats" | jq .inflight)" = 9 ]; }
wait_until 60 waiting || fail "9 long polls are not all waiting"
for i in $(seq 1 9); do
  alsim_call lp PUT /api/v4/replay/queue/workflow/ -d "{\"id\": \"w$i\"}"
  alsim_expect 200 ""
done
wait "${pollers[@]}"
got=$(cat "$T"/poll.* | jq -r '.api_response.id // empty' | sort -u | wc -l | tr -d ' ')
assert_eq 9 "$got" "each of 9 waiting long polls got its own message"
assert_eq 0 "$(curl -s "$ALSIM_LP_URL/_sim/queue/workflow" | jq .length)"

note "checkpoints"
for t in badlist safelist signature workflow; do
  alsim_call src GET "/api/v4/replay/checkpoint/$t/"
  assert_eq '{"checkpoint":"*"}' "$(jq -c .api_response <<<"$body")" "default $t checkpoint"
  alsim_call src PUT "/api/v4/replay/checkpoint/$t/" -d '{"checkpoint": "2024-05-01T12:34:56.123456Z"}'
  alsim_expect 200 ""
  alsim_call src GET "/api/v4/replay/checkpoint/$t/"
  assert_eq 2024-05-01T12:34:56.123456Z "$(jq -r .api_response.checkpoint <<<"$body")"
done
for falsy in '[]' '{}' 0.0 '""' false; do # hash.get(type) or "*"
  alsim_call src PUT /api/v4/replay/checkpoint/workflow/ -d "{\"checkpoint\": $falsy}"
  alsim_expect 200 ""
  alsim_call src GET /api/v4/replay/checkpoint/workflow/
  assert_eq '{"checkpoint":"*"}' "$(jq -c .api_response <<<"$body")" "checkpoint $falsy reads as *"
done
alsim_call src GET /api/v4/replay/checkpoint/alert/
alsim_expect 400 "ALERT is not a valid message type for this API."

note "badlist: add, update merges and keeps enabled, 404 text"
item='{"type": "file", "hashes": {"sha256": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "md5": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
  "file": {"name": ["one.exe"]}, "sources": [{"name": "admin", "type": "user", "reason": ["r1"], "classification": "TLP:CLEAR"}],
  "added": "2020-01-01T00:00:00Z", "updated": "2020-01-01T00:00:00Z", "enabled": true}'
alsim_call src PUT /api/v4/badlist/ -d "$item"
alsim_expect 200 ""
assert_eq '{"hash":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","op":"add","success":true}' \
  "$(jq -c .api_response <<<"$body")"
alsim_call src GET /api/v4/badlist/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/
alsim_expect 200 ""
[ "$(jq -r .api_response.added <<<"$body")" != 2020-01-01T00:00:00Z ] || fail "added must be the server's now"
doc=$(curl -s "$ALSIM_SRC_URL/_sim/doc/badlist/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
curl -s -X PUT -d "$(jq -c '.enabled = false' <<<"$doc")" \
  "$ALSIM_SRC_URL/_sim/doc/badlist/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" >/dev/null
alsim_call src PUT /api/v4/badlist/ -d "$(jq -c '.file.name = ["two.exe"] | .sources[0].reason = ["r2"] | .enabled = true' <<<"$item")"
assert_eq update "$(jq -r .api_response.op <<<"$body")"
alsim_call src GET /api/v4/badlist/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/
assert_eq false "$(jq -r .api_response.enabled <<<"$body")" "enabled is kept on update"
assert_eq '["one.exe","two.exe"]' "$(jq -c .api_response.file.name <<<"$body")"
assert_eq '["r1","r2"]' "$(jq -c .api_response.sources[0].reason <<<"$body")"
alsim_call src GET /api/v4/badlist/0000000000000000000000000000000000000000000000000000000000000000/
alsim_expect 404 "The hash was not found in the badlist."
assert_eq null "$(jq -c .api_response <<<"$body")"
alsim_call src PUT /api/v4/badlist/ -d '{"type": "tag", "tag": {"type": "network.static.domain", "value": "EVIL.Example.COM"}, "sources": [{"name": "admin", "type": "user", "reason": ["x"]}]}'
tag_id=$(printf '%s' 'network.static.domain: evil.example.com' | sha256sum | cut -d' ' -f1)
assert_eq "$tag_id" "$(jq -r .api_response.hash <<<"$body")" "tag id = sha256 of the normalised tag"
alsim_call src PUT /api/v4/badlist/ -d '{"type": "file", "hashes": {}, "sources": []}'
alsim_expect 400 "No valid hash found"
alsim_call src PUT /api/v4/badlist/ -d "$(jq -c '.sources[0].name = "someoneelse"' <<<"$item")"
alsim_expect 400 "You cannot add a source for another user. someoneelse != admin"

note "badlist: seeded items come from several users and feeds; replaying them meets the source rules"
seeded() { # K: the seeded badlist item K as GET answers it
  alsim_call src GET "/api/v4/badlist/$(jq -r ".badlist[$1]" <<<"$seed")/"
  alsim_expect 200 ""
  jq -c .api_response <<<"$body"
}
b0=$(seeded 0) b1=$(seeded 1) b3=$(seeded 3) b4=$(seeded 4)
assert_eq '["user:admin"]' "$(jq -c '[.sources[] | "\(.type):\(.name)"]' <<<"$b0")"
assert_eq '["user:alice","external:threat-feed"]' "$(jq -c '[.sources[] | "\(.type):\(.name)"]' <<<"$b1")"
assert_eq '["external:threat-feed"]' "$(jq -c '[.sources[] | "\(.type):\(.name)"]' <<<"$b3")"
alsim_call src PUT /api/v4/badlist/ -d "$b0"
alsim_expect 200 ""
alsim_call src PUT /api/v4/badlist/ -d "$b1"
alsim_expect 400 "You cannot add a source for another user. alice != admin"
alsim_call src PUT /api/v4/badlist/ -d "$b3"
alsim_expect 200 "" # an external source: admin has signature_import
alice() { curl -s -o "$T/alice" -w '%{http_code}' -X PUT -H "X-USER: alice" -H "X-APIKEY: ak:as" \
  -H 'Content-Type: application/json' -d "$1" "$ALSIM_SRC_URL/api/v4/badlist/"; }
assert_eq 200 "$(alice "$b4")" "alice replays her own item"
assert_eq 403 "$(alice "$b1")" "alice's item with the feed's source"
assert_eq "You do not have sufficient priviledges to add an external source." \
  "$(jq -r .api_error_message "$T/alice")"

note "safelist: hash length 400, 404, signature type"
alsim_call src GET /api/v4/safelist/abc/
alsim_expect 400 "Invalid hash length"
alsim_call src GET /api/v4/safelist/cccccccccccccccccccccccccccccccc/
alsim_expect 404 "The hash was not found in the safelist."
alsim_call src PUT /api/v4/safelist/ -d '{"type": "signature", "signature": {"name": "Sig A"}, "sources": [{"name": "ext", "type": "external", "reason": ["x"]}]}'
sig_id=$(printf '%s' 'signature: Sig A' | sha256sum | cut -d' ' -f1)
assert_eq "$sig_id" "$(jq -r .api_response.hash <<<"$body")"

note "signature: id, dedup, same data, 404"
sig='{"name": "r1", "type": "yara", "source": "src", "data": "rule r1 {condition: true}", "status": "DEPLOYED", "last_modified": "2024-01-01T00:00:00Z"}'
alsim_call src POST "/api/v4/signature/add_update/?dedup_name=true" -d "$sig"
alsim_expect 200 ""
assert_eq '{"id":"yara_src_r1","success":true}' "$(jq -c .api_response <<<"$body")"
alsim_call src POST "/api/v4/signature/add_update/?dedup_name=true" -d "$(jq -c '.signature_id = "other"' <<<"$sig")"
alsim_expect 400 "A signature with that name already exists"
assert_eq '{"success":false}' "$(jq -c .api_response <<<"$body")"
alsim_call src POST "/api/v4/signature/add_update/?dedup_name=true" -d "$(jq -c '.last_modified = "2030-01-01T00:00:00Z"' <<<"$sig")"
alsim_expect 200 ""
assert_eq 2024-01-01T00:00:00Z "$(curl -s "$ALSIM_SRC_URL/_sim/doc/signature/yara_src_r1" | jq -r .last_modified)" \
  "same data: nothing written"
alsim_call src GET /api/v4/signature/yara_src_r1/
alsim_expect 200 ""
assert_eq 0 "$(jq .api_response.stats.count <<<"$body")"
alsim_call src GET /api/v4/signature/nope/
alsim_expect 404 "Signature not found. (nope)"
alsim_call src POST /api/v4/signature/add_update/ -d '{"name": "x", "type": null, "source": "s", "data": "d"}'
alsim_expect 400 "Signature id, name, type and data are mandatory fields."

note "workflow: add makes a new id, get, update, 404"
wf='{"workflow_id": "MYID", "name": "wf", "query": "label:X", "priority": "HIGH", "status": null, "labels": ["X"], "edited_by": "someone"}'
alsim_call src PUT /api/v4/workflow/ -d "$wf"
alsim_expect 200 ""
wid=$(jq -r .api_response.workflow_id <<<"$body")
[ "$wid" != MYID ] || fail "workflow add must ignore the body's id"
alsim_call src GET "/api/v4/workflow/$wid/"
alsim_expect 200 ""
assert_eq admin "$(jq -r .api_response.edited_by <<<"$body")"
assert_eq localhost "$(jq -r .api_response.origin <<<"$body")"
alsim_call src POST "/api/v4/workflow/$wid/" -d '{"name": "wf2", "query": "label:Y"}'
alsim_expect 200 ""
alsim_call src GET "/api/v4/workflow/$wid/"
assert_eq wf2 "$(jq -r .api_response.name <<<"$body")"
assert_eq "$wid" "$(jq -r .api_response.workflow_id <<<"$body")"
alsim_call src GET /api/v4/workflow/nope/
alsim_expect 404 "Workflow ID nope does not exist"
assert_eq '{}' "$(jq -c .api_response <<<"$body")"
alsim_call src PUT /api/v4/workflow/ -d '{"name": "x", "query": "a:("}'
alsim_expect 400 "Query contains an error"
alsim_call src PUT /api/v4/workflow/ -d '{"query": "a"}'
alsim_expect 400 "Name field is required"

note "the request log shows the wire format (bare flags, no API key)"
curl -s -o /dev/null -H "X-USER: admin" -H "X-APIKEY: devkey:devpass" \
  "$ALSIM_SRC_URL/api/v4/bundle/${sids[1]}/?use_alert"
log=$(curl -s "$ALSIM_SRC_URL/_sim/requests")
jq -e --arg u "/api/v4/bundle/${sids[1]}/?use_alert" 'map(select(.uri == $u)) | length == 1' \
  <<<"$log" >/dev/null || fail "request log lacks the bare use_alert flag"
assert_not_contains "$log" "devpass" "request log"
alsim_finish
echo "alsim_api: ok"
