#!/usr/bin/env bash
# The bytes the REST client puts on the wire, call by call, against
# al-rest-api.md §5 and §9: method, path (trailing slash, no double slash),
# query string (bare keys, Python quote()), the json.dumps body in upstream's key
# order, and the headers every request carries. badhttp logs each request.
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/alclient_common.sh"

KEY="replaykey:W1reSecret"
export ALCLIENT_APIKEY=$KEY

env_ok() { # API_RESPONSE_JSON > file
  printf '{"api_response": %s, "api_error_message": "", "api_server_version": "4.5.0", "api_status_code": 200}' "$1"
}

# last_request: the request line and body of the last logged request.
last_line() { grep -a -A1 '^=== request' "$BAD_LOG" | tail -1 | tr -d '\r'; }
last_body() {
  awk '/^=== request/{body=""; inb=0} /^--- end$/{inb=0} inb{body=body $0} /^--- body/{inb=1} END{printf "%s", body}' "$BAD_LOG"
}

# call NAME RESPONSE_JSON -- TOOL_ARGS...: one call against a fresh badhttp;
# the argument URL (or URL/) stands for its address.
call() {
  local name=$1 resp=$2 a args=()
  shift 3
  env_ok "$resp" >"$T/$name.json"
  start_bad "$name" --body "$T/$name.json" ok
  for a in "$@"; do
    case "$a" in
      URL) args+=("$BAD_URL") ;;
      URL/) args+=("$BAD_URL/") ;;
      *) args+=("$a") ;;
    esac
  done
  tool "${args[@]}"
  expect_success
}

check_request() { # "METHOD PATH" BODY
  assert_eq "$1 HTTP/1.1" "$(last_line)" "request line"
  assert_eq "$2" "$(last_body)" "request body"
}

note "search: the creator's, the list check and the loader's bodies"
call s1 '{"offset": 0, "rows": 100, "total": 0, "items": []}' -- \
  --fl alert_id,reporting_ts --rows 100 --sort "reporting_ts asc" \
  --filter "NOT extended_scan:submitted" --filter "workflows_completed:true" \
  --filter "NOT metadata.replay:pending" --filter "NOT metadata.replay:done" \
  URL/ search alert 'reporting_ts:{2024-01-01T00:00:00.000000Z TO now]'
check_request "POST /api/v4/search/alert/" \
  '{"fl": "alert_id,reporting_ts", "offset": 0, "rows": 100, "sort": "reporting_ts asc", "filters": ["NOT extended_scan:submitted", "workflows_completed:true", "NOT metadata.replay:pending", "NOT metadata.replay:done"], "query": "reporting_ts:{2024-01-01T00:00:00.000000Z TO now]"}'
assert_eq '{"offset": 0, "rows": 100, "total": 0, "next_deep_paging_id": null, "items": []}' "$out"

call s2 '{"offset": 0, "rows": 0, "total": 7, "items": []}' -- \
  --rows 0 --no-filters URL search badlist 'updated:[* TO now]'
check_request "POST /api/v4/search/badlist/" \
  '{"offset": 0, "rows": 0, "filters": [], "query": "updated:[* TO now]"}'
assert_contains "$out" '"total": 7'

call s3 '{"offset": 0, "rows": 25, "total": 1, "items": [{"alert_id": "A1"}]}' -- \
  --rows omit --no-filters --track-total-hits URL search alert \
  'metadata.bundle.loaded:[now-3600s TO now]'
check_request "POST /api/v4/search/alert/" \
  '{"offset": 0, "filters": [], "query": "metadata.bundle.loaded:[now-3600s TO now]", "track_total_hits": true}'

note "search items come back in json.dumps form, key order kept, non-ASCII escaped"
call s4 '{"offset":0,"rows":25,"total":1,"items":[{"z":1,"a":{"b":"caf\u00e9","c":[1.5,null,true]}}]}' -- \
  URL search submission '*'
check_request "POST /api/v4/search/submission/" '{"offset": 0, "rows": 25, "query": "*"}'
assert_eq '{"offset": 0, "rows": 25, "total": 1, "next_deep_paging_id": null, "items": [{"z": 1, "a": {"b": "caf\u00e9", "c": [1.5, null, true]}}]}' "$out"

note "stream: rows \"100\", deep_paging_id \"*\" then the server's, until a short page"
items=$(for i in $(seq 1 99); do printf '{"id": "B%d"}, ' "$i"; done; printf '{"id": "B100"}')
env_ok "{\"offset\": 0, \"rows\": 100, \"total\": null, \"items\": [$items], \"next_deep_paging_id\": \"pit1,c29ydA==\"}" >"$T/page1.json"
env_ok '{"offset": 0, "rows": 100, "total": null, "items": [{"id": "C1"}, {"id": "C2"}]}' >"$T/page2.json"
start_bad stream --body "$T/page1.json" --body "$T/page2.json" ok
tool --fl '*,id' --no-filters "$BAD_URL" stream badlist 'updated:[* TO now]'
expect_success
assert_eq 2 "$(requests "$BAD_LOG")" "stream pages"
assert_eq 102 "$(echo "$out" | wc -l)" "streamed items"
assert_eq '{"id": "C2"}' "$(echo "$out" | tail -1)" "last item"
bodies=$(awk '/^--- body/{getline; print}' "$BAD_LOG")
assert_eq '{"fl": "*,id", "rows": "100", "deep_paging_id": "*", "filters": [], "query": "updated:[* TO now]"}' \
  "$(echo "$bodies" | sed -n 1p)" "first stream body"
assert_eq '{"fl": "*,id", "rows": "100", "deep_paging_id": "pit1,c29ydA==", "filters": [], "query": "updated:[* TO now]"}' \
  "$(echo "$bodies" | sed -n 2p)" "second stream body"

env_ok "{\"offset\": 0, \"rows\": 100, \"total\": null, \"items\": [$items]}" >"$T/nonext.json"
start_bad nonext --body "$T/nonext.json" ok
tool "$BAD_URL" stream alert 'metadata.replay:pending'
expect_failure REPLAY_EPROTO 200 "a full page came without next_deep_paging_id"
assert_eq 1 "$(requests "$BAD_LOG")" "pages fetched before the protocol error"
assert_contains "$err" "streamed 100 items"

note "replay state, queues and checkpoints"
call p1 '{"success": true, "count": 3}' -- --filter "metadata.replay:requested" \
  --filter "NOT metadata.replay:pending" URL pending submission \
  'times.completed:[* TO 2024-05-01T12:34:56.123456Z]' 3
check_request "POST /api/v4/replay/pending/" \
  '{"index": "submission", "query": "times.completed:[* TO 2024-05-01T12:34:56.123456Z]", "filter_queries": ["metadata.replay:requested", "NOT metadata.replay:pending"], "max_docs": 3}'
assert_eq 3 "$out"

call c1 '{"success": true}' -- URL complete alert 5KrKGqdcHdYFpC8VoRE1
check_request "POST /api/v4/replay/alert/5KrKGqdcHdYFpC8VoRE1/" ""
assert_file_contains "$BAD_LOG" "Content-Length: 0"
assert_eq true "$out"

call r1 '{"success": true}' -- URL request submission 3aBcD
check_request "GET /api/v4/replay/submission/3aBcD/" ""

call g1 '{"sid": "S1", "times": {"completed": "2024-05-01T12:34:56.123456Z"}}' -- \
  URL get-message submission
check_request "GET /api/v4/replay/queue/submission/" ""
assert_eq '{"sid": "S1", "times": {"completed": "2024-05-01T12:34:56.123456Z"}}' "$out"

call g2 null -- URL get-message file
assert_eq null "$out"

call m1 '{"success": true}' -- URL put-message file '"/tmp/replay/input/caf\u00e9 x/alert_A1.al_bundle"'
check_request "PUT /api/v4/replay/queue/file/" '"/tmp/replay/input/caf\u00e9 x/alert_A1.al_bundle"'

call m2 '{"success": true}' -- URL put-message workflow \
  '{"workflow_id":"W1","name":"n\u00e9","labels":["a","b"],"priority":null,"id":"W1"}'
check_request "PUT /api/v4/replay/queue/workflow/" \
  '{"workflow_id": "W1", "name": "n\u00e9", "labels": ["a", "b"], "priority": null, "id": "W1"}'

call k1 '{"checkpoint": "2024-05-01T12:34:56.123456Z"}' -- URL get-checkpoint signature
check_request "GET /api/v4/replay/checkpoint/signature/" ""
assert_eq "2024-05-01T12:34:56.123456Z" "$out"

call k2 '{"success": true}' -- URL put-checkpoint badlist '2024-05-01T12:34:56.123456Z'
check_request "PUT /api/v4/replay/checkpoint/badlist/" '{"checkpoint": "2024-05-01T12:34:56.123456Z"}'

note "upstream's swapped checkpoint routes are recognised (B2)"
env_ok '{"checkpoint": "*"}' >"$T/b2.json"
start_bad b2 --body "$T/b2.json" ok
tool "$BAD_URL" put-checkpoint badlist x
expect_failure REPLAY_EUNSUPPORTED 200 "upstream defect B2"

note "bundles: download path and flag, import query string and raw body"
{ printf 'CART'; head -c 5000 /dev/urandom; } >"$T/dl.cart"
start_bad dl --body "$T/dl.cart" --content-type application/octet-stream ok
tool --use-alert "$BAD_URL" download 5KrKGqdcHdYFpC8VoRE1 "$T/dl.out"
expect_success
assert_eq "GET /api/v4/bundle/5KrKGqdcHdYFpC8VoRE1/?use_alert HTTP/1.1" "$(last_line)"
tool "$BAD_URL" download 3aBcD "$T/dl.out"
assert_eq "GET /api/v4/bundle/3aBcD/ HTTP/1.1" "$(last_line)"
cmp "$T/dl.cart" "$T/dl.out" || fail "downloaded bytes differ"

head -c 70000 /dev/urandom >"$T/up.bin"
start_bad imp ok
tool --exist-ok --to-ingest "$BAD_URL" import "$T/up.bin"
expect_success
assert_eq "POST /api/v4/bundle/?exist_ok&to_ingest=True HTTP/1.1" "$(last_line)"
assert_file_contains "$BAD_LOG" "Content-Length: 70000"
assert_file_contains "$BAD_LOG" "Content-Type: application/json"
off=$(grep -a -b -m1 '^--- body 70000$' "$BAD_LOG" | cut -d: -f1)
tail -c +$((off + 16)) "$BAD_LOG" | head -c 70000 | cmp - "$T/up.bin" ||
  fail "the import body is not the file's bytes"
tool --exist-ok --min-classification "TLP:AMBER+STRICT" --rescan Extract --rescan "Yara Scan" \
  --allow-incomplete --reclassification "TLP:CLEAR" --to-ingest "$BAD_URL" import "$T/up.bin"
expect_success
assert_eq "POST /api/v4/bundle/?exist_ok&min_classification=TLP%3AAMBER%2BSTRICT&rescan_services=Extract%2CYara%20Scan&allow_incomplete&reclassification=TLP%3ACLEAR&to_ingest=True HTTP/1.1" "$(last_line)"
tool "$BAD_URL" import "$T/up.bin"
assert_eq "POST /api/v4/bundle/ HTTP/1.1" "$(last_line)"

note "badlist, safelist, signature, workflow"
call l1 '{"sha256": "aa", "enabled": true}' -- URL list-get badlist aa11
check_request "GET /api/v4/badlist/aa11/" ""
assert_eq '{"sha256": "aa", "enabled": true}' "$out"
call l2 '{}' -- URL list-get signature "yara_ET OPEN_rule1"
check_request "GET /api/v4/signature/yara_ET%20OPEN_rule1/" ""
call l3 '{"success": true, "op": "add", "hash": "aa"}' -- URL list-add safelist \
  '{"hashes":{"sha256":"aa"},"type":"file","enabled":false}'
check_request "PUT /api/v4/safelist/" '{"hashes": {"sha256": "aa"}, "type": "file", "enabled": false}'
assert_eq '{"success": true, "op": "add", "hash": "aa"}' "$out"
call l4 '{"success": true, "op": "update", "hash": "aa"}' -- URL list-add badlist '{"type":"tag"}'
check_request "PUT /api/v4/badlist/" '{"type": "tag"}'
call l5 '{"success": true, "id": "yara_src_r1"}' -- URL list-add signature \
  '{"name":"r1","type":"yara","source":"src","data":"rule r1 {}","status":"DEPLOYED"}'
check_request "POST /api/v4/signature/add_update/?dedup_name=true" \
  '{"name": "r1", "type": "yara", "source": "src", "data": "rule r1 {}", "status": "DEPLOYED"}'
call w1 '{"success": true, "workflow_id": "NEW1"}' -- URL workflow-add '{"name":"w","query":"*"}'
check_request "PUT /api/v4/workflow/" '{"name": "w", "query": "*"}'
call w2 '{"success": true}' -- URL workflow-update W1 '{"name":"w","query":"*"}'
check_request "POST /api/v4/workflow/W1/" '{"name": "w", "query": "*"}'
call v1 '["v4"]' -- URL check
check_request "GET /api/" ""

note "every request carries the JSON content type and the key headers, nothing else odd"
for log in "$T"/bad-*/log; do
  n=$(requests "$log")
  assert_eq "$n" "$(grep -a -c '^Content-Type: application/json' "$log")" "Content-Type in $log"
  assert_eq "$n" "$(grep -a -c '^X-USER: admin' "$log")" "X-USER in $log"
  assert_eq "$n" "$(grep -a -c "^X-APIKEY: $KEY" "$log")" "X-APIKEY in $log"
  if grep -a -qi '^Expect:\|^Transfer-Encoding:\|^Cookie:' "$log"; then
    fail "unexpected header in $log"
  fi
done
echo "alclient_wire: all requests as specified"
