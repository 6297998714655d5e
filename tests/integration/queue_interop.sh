#!/usr/bin/env bash
# Queue encoding interop with upstream (formats.md §4): messages pushed with
# redis-cli RPUSH in upstream's exact form are read back equal; what we push, a
# plain BLPOP reads as the Python bytes; checkpoints are JSON strings with quotes;
# URLs with password, ACL user, db and a unix socket work; errors are clear.
. "$(dirname "$0")/lib.sh"

tool=$(bin queue_tool)
start_redis
. "$(dirname "$0")/queue_lib.sh"

# Upstream's bytes (CPython json.dumps of the same values).
ALERT='{"alert_id": "5KrKxlKmWHBaQCuXjmhRE1", "reporting_ts": "2024-05-01T12:34:56.123456Z"}'
SUB='{"sid": "3aBcDeFgHiJkLmNoPqRsTu", "times": {"completed": "2024-05-01T12:34:56.123456Z"}}'
FILE='"/tmp/replay/input/alert_5KrKxlKmWHBaQCuXjmhRE1.al_bundle"'
BADLIST='{"attribution": null, "classification": "TLP:C", "enabled": true, "hashes": {"md5": "d41d8cd98f00b204e9800998ecf8427e"}, "sources": [{"name": "\u00e9t\u00e9", "reason": ["a\"b"], "type": "user"}], "updated": "2024-05-01T12:34:56.123456Z", "id": "d41d8cd98f00b204e9800998ecf8427e"}'

note "upstream RPUSH, our consumer: read back equal"
for pair in "alert:$ALERT" "submission:$SUB" "file:$FILE" "badlist:$BADLIST"; do
  type=${pair%%:*}
  msg=${pair#*:}
  cli RPUSH "replay_$type" "$msg" >/dev/null
  run "$tool" consume "$REDIS_URL" "$type" interop-1 --idle-exit 300 --print json
  assert_eq 0 "$rc" "consume $type exit ($err)"
  assert_eq "ACKED $msg" "$(grep '^ACKED' <<<"$out")" "$type read back"
  assert_eq 0 "$(cli LLEN "replay_$type:processing:interop-1")" "$type processing list after ack"
done

note "our producer, upstream BLPOP: Python's bytes"
"$tool" push "$REDIS_URL" alert --json '{"alert_id":"5KrKxlKmWHBaQCuXjmhRE1","reporting_ts":"2024-05-01T12:34:56.123456Z"}'
assert_eq "$ALERT" "$(cli --raw BLPOP replay_alert 1 | sed -n 2p)" "alert bytes"
"$tool" push "$REDIS_URL" submission --json '{ "sid" : "3aBcDeFgHiJkLmNoPqRsTu", "times": {"completed":"2024-05-01T12:34:56.123456Z"} }'
assert_eq "$SUB" "$(cli --raw BLPOP replay_submission 1 | sed -n 2p)" "submission bytes"
"$tool" push "$REDIS_URL" file --json '"/tmp/replay/input/alert_5KrKxlKmWHBaQCuXjmhRE1.al_bundle"'
assert_eq "$FILE" "$(cli --raw BLPOP replay_file 1 | sed -n 2p)" "file bytes"
"$tool" push "$REDIS_URL" badlist --json '{"attribution":null,"classification":"TLP:C","enabled":true,"hashes":{"md5":"d41d8cd98f00b204e9800998ecf8427e"},"sources":[{"name":"été","reason":["a\"b"],"type":"user"}],"updated":"2024-05-01T12:34:56.123456Z","id":"d41d8cd98f00b204e9800998ecf8427e"}'
assert_eq "$BADLIST" "$(cli --raw BLPOP replay_badlist 1 | sed -n 2p)" "badlist bytes"
"$tool" push "$REDIS_URL" alert --alerts 3 --prefix X
assert_eq 3 "$(cli LLEN replay_alert)" "three alerts pushed"
assert_eq '{"alert_id": "X0", "reporting_ts": "2024-05-01T12:34:56.123456Z"}' \
  "$(cli --raw LPOP replay_alert)" "typed alert bytes, FIFO order"
cli DEL replay_alert >/dev/null

note "a consumer id that cannot name a key is refused"
run "$tool" consume "$REDIS_URL" alert 'bad id*' --idle-exit 1
assert_eq 1 "$rc" "bad consumer id"
assert_contains "$err" 'consumer id "bad id*": must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ -'

note "a producer refuses a wrong shape before it reaches Redis"
run "$tool" push "$REDIS_URL" alert --json '{"id": "no alert_id"}'
assert_eq 1 "$rc" "push of a wrong shape"
assert_contains "$err" 'alert message without "alert_id"'
assert_eq 0 "$(cli LLEN replay_alert)" "nothing pushed"

note "checkpoints: JSON strings with the quotes, '*' when absent, advance never goes back"
cli HSET replay_checkpoints badlist '"2024-05-01T00:00:00.000000Z"' >/dev/null
assert_eq "2024-05-01T00:00:00.000000Z" "$("$tool" checkpoint "$REDIS_URL" get badlist)" "get"
assert_eq "*" "$("$tool" checkpoint "$REDIS_URL" get safelist)" "absent checkpoint"
cli HSET replay_checkpoints workflow '' >/dev/null
assert_eq "*" "$("$tool" checkpoint "$REDIS_URL" get workflow)" "empty checkpoint"
"$tool" checkpoint "$REDIS_URL" set safelist "2024-06-01T01:02:03.456789Z"
assert_eq '"2024-06-01T01:02:03.456789Z"' "$(cli --raw HGET replay_checkpoints safelist)" "stored bytes"
assert_eq kept "$("$tool" checkpoint "$REDIS_URL" advance safelist 2024-06-01T01:02:03Z)" "older (no fraction)"
assert_eq advanced "$("$tool" checkpoint "$REDIS_URL" advance safelist 2024-06-01T01:02:03.5Z)" "newer"
assert_eq '"2024-06-01T01:02:03.5Z"' "$(cli --raw HGET replay_checkpoints safelist)" "advanced bytes"
assert_eq advanced "$("$tool" checkpoint "$REDIS_URL" advance signature 2020-01-01T00:00:00Z)" "first value"
cli HSET replay_checkpoints signature 'not json' >/dev/null
run "$tool" checkpoint "$REDIS_URL" get signature
assert_eq 1 "$rc" "corrupt checkpoint"
assert_contains "$err" 'checkpoint "signature" in replay_checkpoints is not a JSON string'
run "$tool" checkpoint "$REDIS_URL" get alert
assert_eq 1 "$rc" "checkpoint of a queue without one"
assert_contains "$err" "only badlist, safelist, signature and workflow"

note "password, ACL user and database"
cli CONFIG SET requirepass 'pa ss@w0rd' >/dev/null
on_exit "redis-cli -p $REDIS_PORT -a 'pa ss@w0rd' --no-auth-warning shutdown nosave"
AUTHURL="redis://:pa%20ss%40w0rd@127.0.0.1:$REDIS_PORT/2"
"$tool" push "$AUTHURL" file --json '"/in/a.al_bundle"'
assert_eq 1 "$(redis-cli -p "$REDIS_PORT" -a 'pa ss@w0rd' --no-auth-warning -n 2 LLEN replay_file)" "pushed to db 2"
redis-cli -p "$REDIS_PORT" -a 'pa ss@w0rd' --no-auth-warning ACL SETUSER replay on '>us3rpw' '~*' '+@all' >/dev/null
run "$tool" consume "redis://replay:us3rpw@127.0.0.1:$REDIS_PORT/2" file acl-1 --idle-exit 300
assert_eq 0 "$rc" "consume as ACL user ($err)"
assert_contains "$out" "ACKED /in/a.al_bundle"
run "$tool" push "redis://:wrongpass@127.0.0.1:$REDIS_PORT/0" file --json '"/x"'
assert_eq 1 "$rc" "wrong password"
assert_contains "$err" "REPLAY_EAUTH"
assert_not_contains "$err" "wrongpass"
run "$tool" push "redis://127.0.0.1:$REDIS_PORT/0" file --json '"/x"'
assert_eq 1 "$rc" "no password"
assert_contains "$err" "NOAUTH"
run "$tool" push "redis://:pa%20ss%40w0rd@127.0.0.1:$REDIS_PORT/99" file --json '"/x"'
assert_eq 1 "$rc" "db out of range"
assert_contains "$err" "DB index is out of range"
assert_contains "$err" "REPLAY_ECONFIG"
assert_not_contains "$err" "w0rd"
run "$tool" push "rediss://127.0.0.1:$REDIS_PORT/0" file --json '"/x"'
assert_eq 1 "$rc" "rediss"
assert_contains "$err" "hiredis 0.14 has no TLS"

note "unix socket"
sockdir="$T/sock"
mkdir -p "$sockdir"
redis-server --port 0 --unixsocket "$sockdir/r.sock" --dir "$sockdir" --save '' --daemonize yes \
  --pidfile "$sockdir/pid" --logfile "$sockdir/log" >/dev/null
on_exit "redis-cli -s $sockdir/r.sock shutdown nosave"
wait_until 10 redis-cli -s "$sockdir/r.sock" ping || fail "unix-socket redis did not start"
"$tool" push "unix://$sockdir/r.sock?db=1" alert --alerts 1 --prefix U
assert_eq 1 "$(redis-cli -s "$sockdir/r.sock" -n 1 LLEN replay_alert)" "pushed through the socket"
echo "queue_interop: ok"
