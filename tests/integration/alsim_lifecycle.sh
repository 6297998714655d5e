#!/usr/bin/env bash
# al-sim as a process: two instances side by side, data kept across a restart,
# a prompt stop on SIGTERM with long polls waiting, the data directory lock,
# command-line errors, upstream mode (defects B2, B3, B8), fault injection.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"
exe=$(bin al-sim)
ctl=$(bin replay-ctl)

note "command line"
run "$exe" --mode bogus --data "$T/x"
assert_eq 2 "$rc" "bad mode"
assert_contains "$err" "--mode is intended or upstream"
run "$exe" --port
assert_eq 2 "$rc"
run "$exe" --long-poll 1
assert_eq 2 "$rc" "no --data"
assert_contains "$err" "--data DIR is required"
run "$exe" --data "$T/x" --user nocolons
assert_eq 2 "$rc"
run "$exe" --data "$T/x" --fault 'kind=teapot'
assert_eq 2 "$rc" "bad fault spec"
assert_contains "$err" "bad fault spec 'kind=teapot'"
run "$exe" seed --data "$T/x" --submission-state maybe
assert_eq 2 "$rc"
run "$exe" --help
assert_eq 0 "$rc"
assert_contains "$out" "--long-poll SECONDS"
run "$exe" --version
assert_contains "$out" "al-sim"

note "two instances side by side"
start_alsim --name source
start_alsim --name target --user loader:lk:ls:RWE
[ "$ALSIM_SOURCE_PORT" != "$ALSIM_TARGET_PORT" ] || fail "same port twice"
[ "$ALSIM_TARGET_USER" = loader ] && [ "$ALSIM_TARGET_APIKEY" = lk:ls ] || fail "target credentials"
seed=$(alsim_seed source rng_seed=3 submissions=2 alerts=1)
assert_eq 2 "$(curl -s "$ALSIM_SOURCE_URL/_sim/stats" | jq .collections.submission)"
assert_eq 0 "$(curl -s "$ALSIM_TARGET_URL/_sim/stats" | jq .collections.submission)"
alsim_call target GET /api/
alsim_expect 200 ""

note "the data directory is locked"
run "$exe" --data "$ALSIM_SOURCE_DIR" --port 0
assert_eq 1 "$rc"
assert_contains "$err" "is in use by another al-sim process"
run "$exe" seed --data "$ALSIM_SOURCE_DIR"
assert_eq 1 "$rc" "offline seeding of a served directory"

note "a restart keeps documents, files, queues, checkpoints and journals"
for i in 1 2 3; do
  alsim_curl source /api/v4/replay/queue/file/ -X PUT -d "\"/in/f$i.al_bundle\"" >/dev/null
done
alsim_curl source /api/v4/replay/queue/file/ >/dev/null # pops f1
alsim_curl source /api/v4/replay/checkpoint/workflow/ -X PUT -d '{"checkpoint": "2024-02-02T00:00:00Z"}' >/dev/null
sid=$(jq -r '.submissions[0]' <<<"$seed")
alsim_curl source "/api/v4/replay/submission/$sid/" >/dev/null # requested
blob=$(ls "$ALSIM_SOURCE_DIR/files" | head -1)
before=$(curl -s "$ALSIM_SOURCE_URL/_sim/stats" | jq -c .collections)
old_pid=$ALSIM_SOURCE_PID
restart_alsim source
[ "$ALSIM_SOURCE_PID" != "$old_pid" ] || fail "no new process"
pid_alive "$old_pid" && fail "the old process is still running"
assert_eq "$before" "$(curl -s "$ALSIM_SOURCE_URL/_sim/stats" | jq -c .collections)" "documents"
assert_eq '["/in/f2.al_bundle","/in/f3.al_bundle"]' "$(curl -s "$ALSIM_SOURCE_URL/_sim/queue/file" | jq -c .items)"
alsim_call source GET /api/v4/replay/checkpoint/workflow/
assert_eq 2024-02-02T00:00:00Z "$(jq -r .api_response.checkpoint <<<"$body")"
assert_eq requested "$(curl -s "$ALSIM_SOURCE_URL/_sim/doc/submission/$sid" | jq -r .metadata.replay)"
assert_eq "$blob" "$(curl -s "$ALSIM_SOURCE_URL/_sim/blob/$blob" | sha256sum | cut -d' ' -f1)"
alsim_call source GET /api/v4/replay/queue/file/
assert_eq /in/f2.al_bundle "$(jq -r .api_response <<<"$body")" "FIFO order survives"

note "SIGTERM ends waiting long polls and exits promptly"
start_alsim --name slow --long-poll 60
pids=()
for i in $(seq 1 10); do # the user's quota of 10 concurrent calls
  alsim_curl slow /api/v4/replay/queue/alert/ -m 120 -o "$T/lp.$i" & pids+=($!)
done
waiting() { [ "$(curl -s "$ALSIM_SLOW_URL/_sim/stats" | jq .inflight)" = 10 ]; }
wait_until 60 waiting || fail "10 long polls are not all waiting"
t0=$(date +%s%N)
stop_alsim slow
ms=$((($(date +%s%N) - t0) / 1000000))
note "stopped in ${ms} ms"
[ "$ms" -lt 8000 ] || fail "SIGTERM took ${ms} ms with long polls waiting (they wait 60 s)"
wait "${pids[@]}" || true
assert_eq 10 "$(cat "$T"/lp.* | jq -c 'select(.api_response == null)' | wc -l | tr -d ' ')" \
  "every waiting long poll answered null"
assert_contains "$(cat "$ALSIM_SLOW_LOG")" "stopping"

note "login sessions expire after --session-duration"
start_alsim --name sess --session-duration 5
t0=$(date +%s%N)
curl -s -c "$T/jar" -H 'Content-Type: application/json' -d '{"user": "admin", "apikey": "devkey:devpass"}' \
  "$ALSIM_SESS_URL/api/v4/auth/login/" >/dev/null
assert_eq '["v4"]' "$(curl -s -b "$T/jar" "$ALSIM_SESS_URL/api/" | jq -c .api_response)"
expired() { [ "$(curl -s -b "$T/jar" "$ALSIM_SESS_URL/api/" | jq -r .api_error_message)" = "Session expired" ]; }
wait_until 60 expired || fail "the session did not expire"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -ge 5000 ] || fail "the session expired after ${ms} ms, before its 5 s"

note "upstream mode: B2, B3, B8"
start_alsim --name up --mode upstream
alsim_seed up rng_seed=4 submissions=1 alerts=0 >/dev/null
alsim_call up GET /api/v4/replay/checkpoint/badlist/
alsim_expect 400 "No data block provided or data block not in JSON format.'"
alsim_call up PUT /api/v4/replay/checkpoint/badlist/ -d '{"checkpoint": "2024-03-03T00:00:00Z"}'
alsim_expect 200 ""
assert_eq '{"checkpoint":"*"}' "$(jq -c .api_response <<<"$body")" "B2: PUT reads and stores nothing"
alsim_call up GET /api/v4/replay/checkpoint/badlist/ -d '{"checkpoint": "2024-03-03T00:00:00Z"}'
assert_eq '{"success":true}' "$(jq -c .api_response <<<"$body")" "B2: a GET with a body stores"
alsim_call up PUT /api/v4/replay/checkpoint/badlist/
assert_eq 2024-03-03T00:00:00Z "$(jq -r .api_response.checkpoint <<<"$body")"
alsim_call up PUT /api/v4/replay/checkpoint/signature/
alsim_expect 400 "SIGNATURE is not a valid message type for this API."
for t in badlist safelist signature workflow; do
  alsim_call up PUT "/api/v4/replay/queue/$t/" -d '{"id": "x"}'
  alsim_expect 400 "${t^^} is not a valid message type for this API."
done
alsim_call up POST /api/v4/search/submission/ -d '{"query": "*", "fl": "sid,times.completed"}'
item=$(jq -c '.api_response.items[0]' <<<"$body")
assert_eq false "$(jq .from_archive <<<"$item")" "B8: items carry from_archive"
alsim_call up PUT /api/v4/replay/queue/submission/ -d "$item"
assert_eq 400 "$status" "B8: the exact-keys check rejects the item"
alsim_call up PUT /api/v4/replay/queue/submission/ -d "$(jq -c 'del(.from_archive)' <<<"$item")"
alsim_expect 200 ""

note "faults: HTTP bursts, drops, truncation, stalls, slow bodies"
start_alsim --name faulty --fault 'kind=503,count=2,path=/api/v4/search/' --fault 'kind=502,count=1,path=/api/v4/search/'
q='{"query": "*", "rows": 0}'
alsim_call faulty POST /api/v4/search/alert/ -d "$q"
alsim_expect 503 "You've exceeded your maximum concurrent API calls quota of 10"
alsim_call faulty POST /api/v4/search/alert/ -d "$q"
assert_eq 503 "$status"
alsim_call faulty POST /api/v4/search/alert/ -d "$q"
assert_eq 502 "$status"
assert_contains "$body" "<title>502 Bad Gateway</title>"
alsim_call faulty POST /api/v4/search/alert/ -d "$q"
alsim_expect 200 ""
assert_eq 3 "$(curl -s "$ALSIM_FAULTY_URL/_sim/requests" | jq '[.[] | select(.fault)] | length')"
setf() { curl -sf -X POST -d "{\"replace\": true, \"faults\": [\"$1\"]}" "$ALSIM_FAULTY_URL/_sim/faults" >/dev/null ||
  fail "cannot set fault $1"; }
setf 'kind=drop,method=GET'
set +e; alsim_curl faulty /api/ -o /dev/null; rc=$?; set -e
assert_eq 52 "$rc" "a dropped connection is curl's empty reply"
alsim_seed faulty rng_seed=9 submissions=1 files=1 file_size=200000 alerts=0 >"$T/fs"
fsid=$(jq -r '.submissions[0]' "$T/fs")
setf 'kind=truncate,path=/api/v4/bundle/'
set +e; alsim_curl faulty "/api/v4/bundle/$fsid/" -o "$T/trunc"; rc=$?; set -e
assert_eq 18 "$rc" "a truncated body is curl's partial file"
setf 'kind=stall-body,ms=20000,path=/api/v4/bundle/'
set +e; alsim_curl faulty "/api/v4/bundle/$fsid/" -o "$T/stall" -m 2; rc=$?; set -e
assert_eq 28 "$rc" "a stalled body times the client out"
setf 'kind=slow,rate=100000,path=/api/v4/bundle/'
t0=$(date +%s%N)
alsim_curl faulty "/api/v4/bundle/$fsid/" -o "$T/slow"
[ $((($(date +%s%N) - t0) / 1000000)) -ge 1000 ] || fail "a slow body came too fast"
"$ctl" cart unpack -q -o "$T/slow.tgz" "$T/slow" || fail "a slow body is still complete"
setf 'kind=500,body=text,message=backend exploded'
alsim_call faulty GET /api/
assert_eq 500 "$status"
assert_eq "backend exploded" "$body" "a non-JSON 5xx"
setf 'kind=503,skip=1,count=1,method=PUT'
alsim_call faulty PUT /api/v4/replay/queue/file/ -d '"a"'
alsim_expect 200 ""
alsim_call faulty GET /api/
alsim_expect 200 "" # another method: not faulted
alsim_call faulty PUT /api/v4/replay/queue/file/ -d '"b"'
assert_eq 503 "$status" "the second PUT"
setf 'kind=stall,ms=1500'
t0=$(date +%s%N)
alsim_call faulty GET /api/
[ $((($(date +%s%N) - t0) / 1000000)) -ge 1400 ] || fail "a stalled answer came early"
alsim_expect 200 ""
curl -s -X DELETE "$ALSIM_FAULTY_URL/_sim/faults" >/dev/null
assert_eq '[]' "$(curl -s "$ALSIM_FAULTY_URL/_sim/faults" | jq -c .)"
status=$(curl -s -X POST -o /dev/null -w '%{http_code}' -d '{"faults": ["kind=nope"]}' "$ALSIM_FAULTY_URL/_sim/faults")
assert_eq 400 "$status" "a bad runtime fault spec"
status=$(curl -s -I -o /dev/null -w '%{http_code}' -H "X-USER: admin" -H "X-APIKEY: devkey:devpass" "$ALSIM_FAULTY_URL/api/")
assert_eq 200 "$status" "HEAD"
alsim_finish
echo "alsim_lifecycle: ok"
