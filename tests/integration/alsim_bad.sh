#!/usr/bin/env bash
# al-sim against bad requests: unknown paths, wrong methods, bad auth, missing
# roles, bad JSON, bad queries, bodies that are not bundles, unsafe tars, corrupt
# CaRTs, oversized bodies, garbage on the socket. Each gets Assemblyline's answer
# (al-rest-api.md §3, §12.3); the server never crashes and stores nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"

start_alsim --name bad --user admin:devkey:devpass --user reader:rk:rs:R --max-json-body 64K
exe=$(bin al-sim)
ctl=$(bin replay-ctl)
alive() { curl -sf "$ALSIM_BAD_URL/_sim/health" >/dev/null || fail "al-sim died ($1): $(tail -5 "$ALSIM_BAD_LOG")"; }
raw() { # METHOD PATH [curl args]: no auth headers
  local m=$1 p=$2; shift 2
  status=$(curl -s -X "$m" -o "$T/raw" -D "$T/rawh" -w '%{http_code}' "$@" "$ALSIM_BAD_URL$p")
  body=$(cat "$T/raw")
}

note "routing: 404, 308, 405, OPTIONS"
alsim_call bad GET /api/v4/nope/
alsim_expect 404 "Api does not exist (/api/v4/nope/)"
alsim_call bad GET /
alsim_expect 404 "Api does not exist (/)"
raw GET "/api/v4/search/alert?query=x"
assert_eq 308 "$status"
assert_contains "$(cat "$T/rawh")" "/api/v4/search/alert/?query=x" "Location"
raw PATCH /api/v4/search/alert/
assert_eq 405 "$status"
assert_contains "$body" "Method Not Allowed"
assert_contains "$(cat "$T/rawh")" "Allow: GET, HEAD, OPTIONS, POST"
raw OPTIONS /api/v4/replay/queue/alert/
assert_eq 200 "$status"
assert_contains "$(cat "$T/rawh")" "Allow: GET, HEAD, OPTIONS, POST, PUT" # /<index>/<id>/ matches too
alsim_call bad POST /api/v4/replay/queue/alert/
alsim_expect 400 "QUEUE is not a valid index for this API." # Werkzeug falls through to /<index>/<id>/

note "authentication"
raw GET /api/v4/replay/queue/alert/
assert_eq 401 "$status"
assert_eq "Session not found" "$(jq -r .api_error_message <<<"$body")"
assert_eq true "$(jq -r .api_response.allow_userpass_login <<<"$body")"
assert_contains "$(cat "$T/rawh")" "XSRF-TOKEN=;"
for hdr in "X-APIKEY: devkey:wrong" "X-APIKEY: nocolon" "X-APIKEY: other:devpass"; do
  raw GET /api/ -H "X-USER: admin" -H "$hdr"
  assert_eq 401 "$status" "$hdr"
  assert_eq "Invalid user or APIKey" "$(jq -r .api_error_message <<<"$body")"
done
raw GET /api/ -H "X-USER: nobody" -H "X-APIKEY: devkey:devpass"
assert_eq "Invalid user or APIKey" "$(jq -r .api_error_message <<<"$body")"
raw GET /api/ -H "X-USER: admin" -H "X-APIKEY:"
assert_eq "Session not found" "$(jq -r .api_error_message <<<"$body")" "an empty key falls back to the session"
raw GET /api/ -b "session=forged"
assert_eq "Session expired" "$(jq -r .api_error_message <<<"$body")"
raw POST /api/v4/auth/login/ -H 'Content-Type: application/json' -d '{"user": "admin", "apikey": "devkey:bad"}'
assert_eq 401 "$status"
assert_eq "Invalid user or APIKey" "$(jq -r .api_error_message <<<"$body")"
assert_eq '""' "$(jq -c .api_response <<<"$body")"

note "roles: a read-only key"
R=(-H "X-USER: reader" -H "X-APIKEY: rk:rs" -H "Content-Type: application/json")
raw GET /api/v4/replay/queue/alert/ "${R[@]}"
assert_eq 403 "$status"
assert_eq "Access Denied (/api/v4/replay/queue/alert/) [API /api/v4/replay/queue/alert/ requires one of the following roles: replay_system]" \
  "$(jq -r .api_error_message <<<"$body")"
raw POST /api/v4/search/alert/ "${R[@]}" -d '{"query": "*"}'
assert_eq 200 "$status" "R can search alerts"
raw POST /api/v4/search/nosuch/ "${R[@]}" -d '{"query": "*"}'
assert_eq 403 "$status"
assert_contains "$(jq -r .api_error_message <<<"$body")" "requires the role 'administration' for request on index 'nosuch'"
raw POST /api/v4/bundle/ "${R[@]}" --data-binary x
assert_eq 403 "$status"
alsim_call bad POST /api/v4/search/nosuch/ -d '{"query": "*"}'
alsim_expect 400 "Not a valid index to search in: nosuch"
alsim_call bad POST /api/v4/search/emptyresult/ -d '{"query": "*"}'
alsim_expect 200 "" # an admin index
raw POST /api/v4/search/emptyresult/ "${R[@]}" -d '{"query": "*"}'
assert_eq 403 "$status" "emptyresult needs administration"

note "bad JSON and content types"
alsim_call bad POST /api/v4/search/alert/ -d '{bad json'
alsim_expect 400 "No data block provided or data block not in JSON format.'"
alsim_call bad PUT /api/v4/replay/queue/alert/
alsim_expect 400 "No data block provided or data block not in JSON format.'"
status=$(curl -s -o "$T/415" -w '%{http_code}' -X PUT -H "X-USER: admin" -H "X-APIKEY: devkey:devpass" \
  -d '{"alert_id": "a", "reporting_ts": "b"}' "$ALSIM_BAD_URL/api/v4/replay/queue/alert/")
assert_eq 200 "$status" "415 comes back as HTTP 200"
assert_contains "$(jq -r .api_error_message "$T/415")" "415 Unsupported Media Type"
assert_eq 200 "$(jq -r .api_status_code "$T/415")"
assert_eq 0 "$(curl -s "$ALSIM_BAD_URL/_sim/queue/alert" | jq .length)" "nothing queued by the 415"
alsim_call bad PUT /api/v4/replay/queue/alert/ -d '"a string"'
alsim_expect 500 "Internal Server Error"
alsim_call bad PUT /api/v4/replay/queue/submission/ -d 'null'
alsim_expect 500 "Internal Server Error"
alsim_call bad POST /api/v4/replay/pending/ -d '{"index": "alert", "query": "*"}'
alsim_expect 400 "Invalid data block."
alsim_call bad POST /api/v4/replay/pending/ -d '[1, 2]'
alsim_expect 500 "Internal Server Error"
alsim_call bad POST /api/v4/replay/pending/ -d '{"index": "badlist", "query": "*", "filter_queries": [], "max_docs": 1}'
alsim_expect 400 "BADLIST is not a valid index for this API."
alsim_call bad PUT /api/v4/replay/checkpoint/badlist/ -d '{"no": "checkpoint"}'
alsim_expect 500 "Internal Server Error"
big=$(head -c 100000 /dev/zero | tr '\0' a)
alsim_call bad PUT /api/v4/replay/queue/file/ -d "\"$big\""
assert_eq 413 "$status" "JSON body over --max-json-body"

note "bad queries and paging"
alsim_call bad POST /api/v4/search/alert/ -d '{"query": ""}'
alsim_expect 400 "There was no search query."
alsim_call bad POST /api/v4/search/alert/ -d '{"rows": 1}'
alsim_expect 400 "There was no search query."
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "a:("}'
assert_eq 400 "$status"
assert_contains "$(jq -r .api_error_message <<<"$body")" "SearchException: Failed to parse query [a:(]"
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "reporting_ts:[1d TO now]"}'
assert_contains "$(jq -r .api_error_message <<<"$body")" "failed to parse date field [1d]"
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "*", "filters": ["ok:1", "AND broken"]}'
assert_eq 400 "$status" "a bad filter"
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "*", "rows": "abc"}'
assert_eq 400 "$status"
assert_contains "$(jq -r .api_error_message <<<"$body")" "SearchException: [size]"
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "*", "offset": -1}'
assert_eq 400 "$status"
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "*", "sort": "reporting_ts sideways"}'
alsim_expect 400 "SearchException: Unknown sort parameter reporting_ts sideways"
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "*", "sort": "reporting_ts ASC"}'
alsim_expect 400 "SearchException: Unknown sort parameter reporting_ts ASC"
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "*", "sort": "ts desc, reporting_ts  asc"}'
alsim_expect 400 "SearchException: Unknown sort parameter reporting_ts  asc"
malformed="SearchException: malformed sort format, within the sort array, an object, or an actual string are allowed"
for sort in reporting_ts "" "reporting_ts asc,"; do
  alsim_call bad POST /api/v4/search/alert/ -d "{\"query\": \"*\", \"sort\": \"$sort\"}"
  alsim_expect 400 "$malformed"
done
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "*", "sort": "reporting_ts asc, nosuch desc"}'
alsim_expect 400 "SearchException: No mapping found for [nosuch] in order to sort on"
alsim_call bad POST /api/v4/search/submission/ -d '{"query": "*", "sort": "times asc"}'
alsim_expect 400 "SearchException: No mapping found for [times] in order to sort on"
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "*", "sort": "metadata asc"}'
alsim_expect 400 "SearchException: No mapping found for [metadata] in order to sort on"
alsim_call bad POST /api/v4/search/signature/ -d '{"query": "*", "sort": "data asc"}'
assert_eq 400 "$status" "a text field"
assert_contains "$(jq -r .api_error_message <<<"$body")" "SearchException: Text fields are not optimised"
alsim_call bad GET "/api/v4/search/alert/?query=*&sort=reporting_ts%20Desc"
alsim_expect 400 "SearchException: Unknown sort parameter reporting_ts Desc"
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "*", "sort": 5}'
alsim_expect 500 "Internal Server Error"
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "*", "sort": ["reporting_ts asc", " ts desc"]}'
alsim_expect 400 "SearchException: Unknown sort parameter  ts desc"
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "*", "sort": "reporting_ts asc, metadata.replay desc, _id asc"}'
alsim_expect 200 ""
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "*", "offset": 9990, "rows": 11}'
assert_eq 400 "$status"
assert_contains "$(jq -r .api_error_message <<<"$body")" "Result window is too large"
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "*", "deep_paging_id": "garbage"}'
alsim_expect 200 "" # an id without a comma starts a deep paging, as "*" does
assert_eq null "$(jq -c .api_response.total <<<"$body")"
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "*", "deep_paging_id": "0123456789abcdef0123456789abcdef,WzBd"}'
alsim_expect 400 "SearchException: No search context found for id [0123456789abcdef0123456789abcdef,WzBd]"
for dp in '"a,b,c"' '"x,!!!"' '"x,e30"' 5 true; do # split, base64 or JSON raise; "," in 5 too
  alsim_call bad POST /api/v4/search/alert/ -d "{\"query\": \"*\", \"deep_paging_id\": $dp}"
  alsim_expect 500 "Internal Server Error"
done
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "*", "fl": ["alert_id"]}'
alsim_expect 500 "Internal Server Error" # fl.split(',') on a list
alsim_call bad POST /api/v4/search/signature/ -d '{"query": "stats.last_hit:[1d TO now]"}'
assert_eq 400 "$status" "stats.last_hit is a date field of the signature mapping"
assert_contains "$(jq -r .api_error_message <<<"$body")" "failed to parse date field [1d]"
alsim_call bad POST /api/v4/search/alert/ -d '{"query": "/regex/"}'
assert_contains "$(jq -r .api_error_message <<<"$body")" "regular expressions"
alsim_call bad POST /api/v4/search/alert/ -d '[]'
alsim_expect 500 "Internal Server Error"
deep=$(printf '(%.0s' $(seq 1 70))
alsim_call bad POST /api/v4/search/alert/ -d "{\"query\": \"${deep}a\"}"
assert_contains "$(jq -r .api_error_message <<<"$body")" "nested deeper than"
alive "bad queries"

note "imports that are not bundles"
imp() { alsim_call bad POST "/api/v4/bundle/?exist_ok" --data-binary "@$1"; }
printf 'hello, not a bundle' >"$T/text"
imp "$T/text"
assert_eq 400 "$status"
assert_contains "$(jq -r .api_error_message <<<"$body")" "Bundle decompression failed. Not a valid bundle"
assert_eq '{"success":false}' "$(jq -c .api_response <<<"$body")"
: >"$T/empty"
imp "$T/empty"
alsim_expect 400 "Bundle decompression failed. Not a valid bundle: empty file"
head -c 1048576 /dev/urandom >"$T/random"
imp "$T/random"
assert_eq 400 "$status" "random bytes"
printf '\x1f\x8b\x08\x00garbage' >"$T/badgz"
imp "$T/badgz"
assert_eq 400 "$status" "a broken gzip"

mkdir -p "$T/b/sub" "$T/b/ok"
echo '{"submission": null}' >"$T/b/ok/results.json"
echo evil >"$T/b/evil"
tar -C "$T/b/sub" -czPf "$T/dotdot.tgz" ../evil 2>/dev/null
imp "$T/dotdot.tgz"
assert_eq 400 "$status"
assert_contains "$(jq -r .api_error_message <<<"$body")" "'../evil' would be extracted outside the destination"
tar -czPf "$T/abs.tgz" "$T/b/evil" 2>/dev/null
imp "$T/abs.tgz"
assert_contains "$(jq -r .api_error_message <<<"$body")" "has an absolute path"
ln -s /etc/passwd "$T/b/ok/passwd"
tar -C "$T/b/ok" -czf "$T/symabs.tgz" results.json passwd
imp "$T/symabs.tgz"
assert_contains "$(jq -r .api_error_message <<<"$body")" "'passwd' is a link to an absolute path"
rm "$T/b/ok/passwd"
ln -s ../../escape "$T/b/ok/link"
tar -C "$T/b/ok" -czf "$T/symrel.tgz" results.json link
imp "$T/symrel.tgz"
assert_contains "$(jq -r .api_error_message <<<"$body")" "'link' would link outside the destination"
rm "$T/b/ok/link"
mkfifo "$T/b/ok/fifo"
tar -C "$T/b/ok" -czf "$T/fifo.tgz" results.json fifo
imp "$T/fifo.tgz"
assert_contains "$(jq -r .api_error_message <<<"$body")" "'fifo' is a special file"
rm "$T/b/ok/fifo"

note "imports: CaRT type, corrupt CaRT, missing or broken results.json, incomplete"
tar -C "$T/b/ok" -czf "$T/ok.tgz" results.json
"$ctl" cart pack -q -j '{"al": {"type": "archive/other"}}' -o "$T/wrongtype.cart" "$T/ok.tgz"
imp "$T/wrongtype.cart"
alsim_expect 400 "Not a valid CaRTed bundle, should be of type: archive/bundle/al"
"$ctl" cart pack -q -j '{"al": {"type": "archive/bundle/al"}, "name": "x.tgz"}' -o "$T/good.cart" "$T/ok.tgz"
size=$(stat -c %s "$T/good.cart")
{ head -c 200 "$T/good.cart"; head -c $((size - 400)) /dev/urandom; tail -c 200 "$T/good.cart"; } >"$T/corrupt.cart"
imp "$T/corrupt.cart"
alsim_expect 500 "Internal Server Error"
head -c $((size - 30)) "$T/good.cart" >"$T/truncated.cart"
imp "$T/truncated.cart"
assert_eq 500 "$status" "a truncated CaRT"
echo nothing >"$T/b/other"
tar -C "$T/b" -czf "$T/nores.tgz" other
imp "$T/nores.tgz"
alsim_expect 500 "Internal Server Error"
mkdir -p "$T/b/nj" && echo '{not json' >"$T/b/nj/results.json"
tar -C "$T/b/nj" -czf "$T/notjson.tgz" results.json
imp "$T/notjson.tgz"
alsim_expect 500 "Internal Server Error"
mkdir -p "$T/b/inc"
cat >"$T/b/inc/results.json" <<'JSON'
{"submission": {"sid": "INCOMPLETE1", "classification": "TLP:C", "results": ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.Svc.v1.c1"], "errors": [], "files": [], "metadata": {}},
 "files": {"list": [], "tree": {}, "infos": {}}, "results": {"results": {}, "missing_result_keys": []}, "errors": {"errors": {}, "missing_error_keys": []}}
JSON
tar -C "$T/b/inc" -czf "$T/incomplete.tgz" results.json
imp "$T/incomplete.tgz"
alsim_expect 400 "Incomplete results in bundle. Skipping INCOMPLETE1..."
sed -i 's/"TLP:C"/"SECRET"/; s/"results": \["aaaa[^"]*"\]/"results": []/' "$T/b/inc/results.json"
tar -C "$T/b/inc" -czf "$T/secret.tgz" results.json
imp "$T/secret.tgz"
alsim_expect 400 "Classification level 'SECRET' was not found in your classification definition."
base64 -w 76 "$T/incomplete.tgz" >"$T/incomplete.b64"
imp "$T/incomplete.b64"
alsim_expect 400 "Incomplete results in bundle. Skipping INCOMPLETE1..." # base64 bodies are decoded
stats=$(curl -s "$ALSIM_BAD_URL/_sim/stats")
assert_eq 0 "$(jq '[.collections[]] | add' <<<"$stats")" "nothing stored by failed imports"
assert_eq 0 "$(ls "$ALSIM_BAD_DIR/files" | wc -l | tr -d ' ')"
assert_eq 0 "$(ls "$ALSIM_BAD_DIR/tmp" | wc -l | tr -d ' ')" "scratch files removed"
raw POST "/api/v4/bundle/?exist_ok" -H "X-USER: admin" -H "X-APIKEY: devkey:devpass" \
  -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "@$T/incomplete.tgz"
alsim_expect 400 "Bundle decompression failed. Not a valid bundle: empty file" # request.data is empty
imports=$(curl -s "$ALSIM_BAD_URL/_sim/imports")
assert_eq form "$(jq -r '.[-1].format' <<<"$imports")"
[ "$(jq length <<<"$imports")" -ge 18 ] || fail "every import attempt is journaled"
alive "bad imports"

note "garbage on the socket, long URLs, many connections"
exec 3<>"/dev/tcp/127.0.0.1/$ALSIM_BAD_PORT"
printf 'NOT HTTP AT ALL\r\n\r\n' >&3
timeout 5 cat <&3 >/dev/null || true
exec 3<&- 3>&-
exec 3<>"/dev/tcp/127.0.0.1/$ALSIM_BAD_PORT"
printf 'POST /api/v4/bundle/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npartial' >&3
exec 3<&- 3>&- # the client goes away mid-body
long=$(head -c 120000 /dev/zero | tr '\0' q)
status=$(alsim_curl bad "/api/v4/search/alert/?query=$long" -o /dev/null -w '%{http_code}')
[ "$status" = 414 ] || [ "$status" = 431 ] || [ "$status" = 400 ] || fail "a 120 kB URL answered $status"
pids=()
for i in $(seq 1 50); do
  curl -s -o /dev/null -m 10 "$ALSIM_BAD_URL/api/" & pids+=($!)
done
wait "${pids[@]}"
alive "garbage"

note "read-only, replay disabled, quota"
start_alsim --name ro --read-only --no-replay
alsim_call ro POST /api/v4/bundle/ --data-binary "@$T/ok.tgz"
alsim_expect 403 "Access Denied (/api/v4/bundle/) [API not allowed in read-only mode]"
alsim_call ro PUT /api/v4/badlist/ -d '{}'
assert_eq 403 "$status"
alsim_call ro GET /api/v4/replay/queue/alert/
alsim_expect 404 "Api does not exist (/api/v4/replay/queue/alert/)"
alsim_call ro POST /api/v4/search/alert/ -d '{"query": "*"}'
alsim_expect 200 "" # reading is allowed

note "quota: 10 concurrent calls by default, as upstream; a long poll holds its slot"
start_alsim --name quota --long-poll 60
slots() { curl -s "$ALSIM_QUOTA_URL/_sim/stats" | jq .quota.admin; }
holders=()
for i in $(seq 1 10); do
  alsim_curl quota /api/v4/replay/queue/alert/ -m 120 -o "$T/held.$i" & holders+=($!)
done
held() { [ "$(slots)" = 10 ]; }
wait_until 60 held || fail "10 waiting long polls hold $(slots) quota slots, not 10"
alsim_call quota GET /api/
alsim_expect 503 "You've exceeded your maximum concurrent API calls quota of 10"
assert_eq '""' "$(jq -c .api_response <<<"$body")"
assert_eq 9 "$(slots)" "upstream's 503 ends a slot too (the tracker pops the oldest)"
alsim_call quota GET /api/
alsim_expect 200 "" # so the next call gets in
for i in $(seq 1 10); do
  alsim_call quota PUT /api/v4/replay/queue/alert/ -d "{\"alert_id\": \"a$i\", \"reporting_ts\": \"t\"}"
  alsim_expect 200 ""
done
wait "${holders[@]}"
assert_eq 10 "$(cat "$T"/held.* | jq -r .api_response.alert_id | sort -u | wc -l | tr -d ' ')" \
  "every long poll got a message"
assert_eq 0 "$(slots)" "every slot ended"

note "quota: a slot ends when the answer is made, not when its body is sent"
start_alsim --name q1 --api-quota 1 --fault 'kind=stall-body,ms=600000,path=/api/v4/bundle/'
qsid=$(alsim_seed q1 rng_seed=5 submissions=1 files=1 file_size=20000 alerts=0 | jq -r '.submissions[0]')
alsim_curl q1 "/api/v4/bundle/$qsid/" -o "$T/stalled.bundle" -m 600 &
stalled=$!
wait_until 60 test -s "$T/stalled.bundle" || fail "the stalled download did not start"
alsim_call q1 GET /api/
alsim_expect 200 "" # while half the bundle waits to be sent
pid_alive "$stalled" || fail "the stalled download ended"
kill "$stalled"
wait "$stalled" || true

note "quota: --api-quota 0 is unlimited"
start_alsim --name noquota --api-quota 0 --long-poll 60
holders=()
for i in $(seq 1 12); do
  alsim_curl noquota /api/v4/replay/queue/file/ -m 120 -o /dev/null & holders+=($!)
done
waiting12() { [ "$(curl -s "$ALSIM_NOQUOTA_URL/_sim/stats" | jq .inflight)" = 12 ]; }
wait_until 60 waiting12 || fail "12 long polls are not all waiting"
alsim_call noquota GET /api/
alsim_expect 200 ""
stop_alsim noquota # ends the long polls at once
wait "${holders[@]}" || true
alive "the end"
pid_alive "$ALSIM_BAD_PID" || fail "al-sim is gone"
alsim_finish
echo "alsim_bad: ok"
