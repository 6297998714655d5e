#!/usr/bin/env bash
# The REST client against a misbehaving server (badhttp): each failure is a clear
# error or a retry as decisions.md §7 says, never a crash or a hang past the
# timeouts; bundles are never half-written; secrets never printed.
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/alclient_common.sh"

KEY="replaykey:Sup3rSecretValue"

note "client errors are reported with their status and message, never retried"
start_bad s401 status:401
tool --apikey "$KEY" "$BAD_URL" list-get badlist abc
expect_failure REPLAY_EAUTH 401 "Invalid user or APIKey"
assert_eq 1 "$(requests "$BAD_LOG")" "requests for a 401"
assert_not_contains "$err" "Sup3rSecretValue" "stderr"
assert_file_contains "$BAD_LOG" "X-APIKEY: $KEY"

start_bad s403 status:403
tool "$BAD_URL" complete alert A1
expect_failure REPLAY_EAUTH 403 "Access Denied (/api/v4/)"
assert_eq 1 "$(requests "$BAD_LOG")" "requests for a role refusal"

start_bad s403missing "status:403:You are not allowed to modify the alert with the following ID: A1"
tool "$BAD_URL" complete alert A1
expect_failure REPLAY_ENOTFOUND 403 "You are not allowed to modify the alert"
echo keep >"$T/pre"
tool --use-alert "$BAD_URL" download A1 "$T/pre"
expect_failure REPLAY_ENOTFOUND 403 "GET http://127.0.0.1"
assert_contains "$err" "/api/v4/bundle/A1/?use_alert: HTTP 403" "stderr"
[ ! -s "$T/pre" ] || fail "an error answer was written into the bundle file"
assert_eq 2 "$(requests "$BAD_LOG")" "requests for two 403s"

start_bad s404 status:404
tool "$BAD_URL" list-get badlist 0123456789abcdef0123456789abcdef
expect_failure REPLAY_ENOTFOUND 404 "The hash was not found in the badlist."

start_bad s409 status:409
head -c 1000 /dev/urandom >"$T/bundle.bin"
tool "$BAD_URL" import "$T/bundle.bin"
expect_failure REPLAY_EEXIST 409 "Submission 1abc already exists."
assert_eq 1 "$(requests "$BAD_LOG")" "requests for a 409"

start_bad s500 status:500
tool "$BAD_URL" get-checkpoint badlist
expect_failure REPLAY_EHTTP 500 "Internal Server Error"
assert_eq 1 "$(requests "$BAD_LOG")" "requests for a 500"

start_bad s400 "status:400:SearchException: bad query"
tool "$BAD_URL" search alert 'reporting_ts:['
expect_failure REPLAY_EHTTP 400 "SearchException: bad query"

note "502, 503 and 504 bursts are retried until the server answers"
for code in 502 503 504; do
  start_bad "burst$code" "burst:$code:3"
  tool --apikey "$KEY" "$BAD_URL" put-checkpoint workflow '*'
  expect_success
  assert_eq 4 "$(requests "$BAD_LOG")" "requests for a $code burst of 3"
  assert_contains "$err" "HTTP $code" "retry warnings"
  assert_contains "$err" "retry 1 in" "retry warnings"
  assert_not_contains "$err" "Sup3rSecretValue" "retry warnings"
done

start_bad burst_long burst:502:50
TOOL_ATTEMPTS=3 tool "$BAD_URL" get-message file
expect_failure REPLAY_EHTTP 502 "(gave up after 3 attempts)"
assert_eq 3 "$(requests "$BAD_LOG")" "requests with 3 attempts"

note "the daily quota is final, the concurrent-call quota is retried"
start_bad quota quota
tool "$BAD_URL" get-message alert
expect_failure REPLAY_EHTTP 503 "daily maximum API calls quota"
assert_eq 1 "$(requests "$BAD_LOG")" "requests for the daily quota"

note "connections refused, closed early, stalled, silent or truncated"
port=$(free_port)
tool "http://127.0.0.1:$port" check
expect_failure REPLAY_ECONN 0 "(gave up after 4 attempts)"
[ "$secs" -lt 30 ] || fail "connection refused took ${secs}s"

start_bad close close
tool "$BAD_URL" check
expect_failure REPLAY_ECONN 0 "gave up after 4 attempts"
assert_eq 4 "$(requests "$BAD_LOG")" "requests closed early"

start_bad close2 close:2
tool "$BAD_URL" put-message alert '{"alert_id": "A1", "reporting_ts": "2024-01-01T00:00:00.000000Z"}'
expect_success
assert_eq 3 "$(requests "$BAD_LOG")" "requests until the server answered"
[ "$(grep -c '"alert_id": "A1"' "$BAD_LOG")" = 3 ] || fail "a retried request lost its body"

start_bad stall stall
TOOL_ATTEMPTS=2 tool "$BAD_URL" download S1 "$T/stalled.bundle"
expect_failure REPLAY_ETIMEDOUT 200 "(gave up after 2 attempts)"
[ "$secs" -lt 40 ] || fail "two stalled attempts took ${secs}s (low-speed time 3 s)"
[ ! -s "$T/stalled.bundle" ] || fail "a stalled download left bytes in the output"

start_bad silent silent
TOOL_ATTEMPTS=1 tool "$BAD_URL" get-message alert
expect_failure REPLAY_ETIMEDOUT 0 "GET $BAD_URL/api/v4/replay/queue/alert/"
[ "$secs" -lt 30 ] || fail "a silent server held the client for ${secs}s"

start_bad truncate truncate
TOOL_ATTEMPTS=2 tool "$BAD_URL" download S1 "$T/truncated.bundle"
expect_failure REPLAY_ECONN 200 "(gave up after 2 attempts)"
[ ! -s "$T/truncated.bundle" ] || fail "a truncated download left bytes in the output"
assert_eq 2 "$(requests "$BAD_LOG")" "requests for a truncated body"

note "a download into a pipe cannot be rewound, so it is not retried once bytes went out"
start_bad trpipe truncate
run timeout 60 bash -c "'$ALCLIENT_TOOL' --attempts 3 --backoff-base 20 '$BAD_URL' download S1 - |
  cat >/dev/null; exit \${PIPESTATUS[0]}"
expect_failure REPLAY_EIO 200 "; cannot retry: the output cannot be rewound"
assert_eq 1 "$(requests "$BAD_LOG")" "requests for a truncated download into a pipe"

note "bodies that are not what the call expects"
start_bad html500 nonjson:500
tool "$BAD_URL" check
expect_failure REPLAY_EHTTP 500 "<!doctype html> <html><title>Oops</title> <p>upstream broke</p>"
assert_eq 1 "$(requests "$BAD_LOG")" "requests for a non-JSON 500"

start_bad html503 nonjson:503
TOOL_ATTEMPTS=2 tool "$BAD_URL" check
expect_failure REPLAY_EHTTP 503 "gave up after 2 attempts"

start_bad e200 error200
tool "$BAD_URL" put-checkpoint badlist '*'
expect_failure REPLAY_EPROTO 200 "415 Unsupported Media Type"

start_bad redirect redirect
tool "$BAD_URL" check
expect_failure REPLAY_EHTTP 302 "redirect to http://127.0.0.1:1/api/v4/ not followed"
assert_eq 1 "$(requests "$BAD_LOG")" "requests for a redirect"

printf '<html>maintenance</html>' >"$T/html"
start_bad html200 --body "$T/html" --content-type text/html ok
tool "$BAD_URL" get-message file
expect_failure REPLAY_EPROTO 200 "not an Assemblyline JSON envelope: <html>maintenance</html>"

printf '{"api_response": {"items": [], "total": 0}, "api_error_message": "", "pad": "%s"}' \
  "$(head -c 300000 /dev/zero | tr '\0' x)" >"$T/big.json"
start_bad big --body "$T/big.json" ok
tool --max-json 100000 "$BAD_URL" search alert '*'
expect_failure REPLAY_ETOOBIG 200 "larger than 100000 bytes"
tool --max-json 400000 "$BAD_URL" search alert '*'
expect_success

printf 'PK\003\004 not a cart file at all' >"$T/zip"
start_bad notcart --body "$T/zip" --content-type application/octet-stream ok
tool "$BAD_URL" download S1 "$T/notcart.bundle"
expect_failure REPLAY_EPROTO 200 "not a CaRT file"
[ ! -s "$T/notcart.bundle" ] || fail "a non-CaRT answer was written"

start_bad envdl ok
tool "$BAD_URL" download S1 "$T/env.bundle"
expect_failure REPLAY_EPROTO 200 "a JSON envelope came back where a bundle was expected"

note "a stream that goes round (a repeated paging id, the same page again) ends with EPROTO"
page() { # PREFIX NEXT_ID: a full stream page of 100 items named PREFIX1..PREFIX100
  local items
  items=$(for i in $(seq 1 99); do printf '{"id": "%s%d"}, ' "$1" "$i"; done; printf '{"id": "%s100"}' "$1")
  printf '{"api_response": {"offset": 0, "rows": 100, "total": null, "items": [%s], "next_deep_paging_id": "%s"}, "api_error_message": "", "api_status_code": 200}' \
    "$items" "$2"
}
page B "pit1,AAA" >"$T/p_b"
page C "pit1,AAA" >"$T/p_c"
start_bad echo_id --body "$T/p_b" --body "$T/p_c" ok
tool "$BAD_URL" stream alert '*'
expect_failure REPLAY_EPROTO 200 'next_deep_paging_id "pit1,AAA" came again'
assert_eq 2 "$(requests "$BAD_LOG")" "pages fetched from a server that repeats its paging id"
page B "pit2,BBB" >"$T/p_b2"
start_bad same_page --body "$T/p_b" --body "$T/p_b2" ok
tool "$BAD_URL" stream alert '*'
expect_failure REPLAY_EPROTO 200 "the same full page came twice"
assert_eq 2 "$(requests "$BAD_LOG")" "pages fetched from a server that ignores the paging id"
page D "pit3,A" >"$T/p_d"
page E "pit3,B" >"$T/p_e"
page F "pit3,A" >"$T/p_f"
start_bad cycle --body "$T/p_d" --body "$T/p_e" --body "$T/p_f" ok
tool "$BAD_URL" stream alert '*'
expect_failure REPLAY_EPROTO 200 'next_deep_paging_id "pit3,A" came again'
assert_eq 3 "$(requests "$BAD_LOG")" "pages fetched from a server that cycles over two ids"

note "a good bundle is streamed to the file byte for byte"
{ printf 'CART'; head -c 300000 /dev/urandom; } >"$T/good.cart"
start_bad cart --body "$T/good.cart" --content-type application/octet-stream ok
tool --use-alert "$BAD_URL" download A1 "$T/got.cart"
expect_success
cmp "$T/good.cart" "$T/got.cart" || fail "downloaded bundle differs"
assert_contains "$err" "downloaded 300004 bytes"

note "cancellation ends a wait at once: a silent server, a back-off"
start_bad cancel1 silent
TOOL_ATTEMPTS=0 tool --cancel-after 500 --low-speed-time 60 "$BAD_URL" get-message alert
expect_failure REPLAY_ECANCELED 0 "canceled by shutdown"
[ "$secs" -lt 10 ] || fail "cancel took ${secs}s"

start_bad cancel2 close
TOOL_ATTEMPTS=0 tool --cancel-after 1500 --backoff-base 60000 --backoff-cap 60000 "$BAD_URL" check
expect_failure REPLAY_ECANCELED 0 "canceled while waiting to retry"
[ "$secs" -lt 15 ] || fail "cancel during back-off took ${secs}s"

note "one connection is reused across calls"
start_bad reuse ok
tool --repeat 3 "$BAD_URL" put-checkpoint safelist '*'
expect_success
assert_eq 3 "$(grep -c '^=== request [0-9]* connection 1$' "$BAD_LOG")" "requests on connection 1"
echo "alclient_badhttp: all scenarios passed"
