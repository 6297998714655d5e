#!/usr/bin/env bash
# replay-ctl queues against real Redis servers (queues and checkpoints on two):
# depths of queues, processing and :bad lists, consumers, checkpoints (text and
# JSON); --bad shows the reasons; --requeue-bad puts the original bytes back in
# order; URLs from the environment and from replay.yml; passwords never printed;
# an unreachable Redis and a rediss:// URL fail with clear messages.
. "$(dirname "$0")/lib.sh"

tool=$(bin queue_tool)
ctl=$(bin replay-ctl)
start_redis --name persistent
PURL=$REDIS_URL
PPORT=$REDIS_PORT
start_redis --name volatile
redis-cli -p "$REDIS_PORT" CONFIG SET requirepass 'ctl-s3cret' >/dev/null
on_exit "redis-cli -p $REDIS_PORT -a ctl-s3cret --no-auth-warning shutdown nosave"
QURL="redis://:ctl-s3cret@127.0.0.1:$REDIS_PORT/0"
cli() { redis-cli -p "$REDIS_PORT" -a ctl-s3cret --no-auth-warning "$@"; }
export REPLAY_CONFIG_PATH="$T/none.yml" REPLAY_AL_CONFIG_PATH="$T/none-config.yml"
export REPLAY_REDIS_URL=$QURL REPLAY_REDIS_PERSISTENT_URL=$PURL

note "fill: queued items, one held in a processing list, bad ones, a checkpoint"
"$tool" push "$QURL" alert --alerts 4 --prefix C
"$tool" consume "$QURL" alert ctl-1 --hold >"$T/held" 2>"$T/held.err" &
held=$!
on_exit "kill -KILL $held"
wait_until 20 grep -q HOLDING "$T/held" || fail "consumer did not pop: $(cat "$T/held.err")"
cli RPUSH replay_submission 'not json' '{"sid": 42}' '"x"' >/dev/null
"$tool" consume "$QURL" submission ctl-2 --idle-exit 200 2>/dev/null
"$tool" checkpoint "$PURL" set badlist 2024-05-01T12:34:56.123456Z

note "overview, text"
run "$ctl" queues
assert_eq 0 "$rc" "queues exit ($err)"
assert_not_contains "$out$err" "ctl-s3cret" "output"
assert_contains "$out" "queues on redis://:***@127.0.0.1:$REDIS_PORT/0 (from environment)"
assert_eq "replay_alert 3 1 0 1" "$(awk '$1 == "replay_alert"' <<<"$out" | tr -s ' ' | sed 's/^ //')" "alert row"
assert_eq "replay_submission 0 0 3 0" "$(awk '$1 == "replay_submission"' <<<"$out" | tr -s ' ' | sed 's/^ //')" \
  "submission row (ctl-2 closed cleanly: no record)"
assert_contains "$out" "replay_alert:processing:ctl-1  1 item(s), seen 0 s ago"
assert_contains "$out" "checkpoints on $PURL (from environment)"
assert_contains "$out" "badlist    2024-05-01T12:34:56.123456Z"
assert_contains "$out" "safelist   *"

note "overview, JSON"
run "$ctl" queues --json
assert_eq 0 "$rc" "queues --json exit ($err)"
assert_eq "3 1 0" "$(jq -r '.queues[0] | "\(.queued) \(.processing) \(.bad)"' <<<"$out")" "alert counts"
assert_eq "ctl-1 1" "$(jq -r '.queues[0].consumers[0] | "\(.id) \(.items)"' <<<"$out")" "consumer"
assert_eq 3 "$(jq -r '.queues[] | select(.type == "submission") | .bad' <<<"$out")" "submission bad"
assert_eq 7 "$(jq -r '.queues | length' <<<"$out")" "seven queues"
assert_eq "2024-05-01T12:34:56.123456Z" "$(jq -r .checkpoints.badlist <<<"$out")" "checkpoint"

note "--bad shows the reasons"
run "$ctl" queues --bad submission
assert_eq 0 "$rc" "queues --bad exit ($err)"
assert_contains "$out" '#0 {"reason": "not valid JSON: '
assert_contains "$out" '#1 {"reason": "submission message: \"sid\" must be a non-empty string, got an integer"'
assert_contains "$out" "    not json"
run "$ctl" queues --bad submission --limit 1 --json
assert_eq 1 "$(jq length <<<"$out")" "--limit 1"
assert_eq "ctl-2" "$(jq -r '.[0].header.consumer' <<<"$out")" "header as JSON"
assert_eq 8 "$(jq -r '.[0].length' <<<"$out")" "original length"
run "$ctl" queues --bad alert
assert_contains "$out" "replay_alert:bad is empty"

note "--requeue-bad puts the original bytes back, in order, at the tail"
cli RPUSH replay_submission '{"sid": "already-queued"}' >/dev/null
run "$ctl" queues --requeue-bad submission
assert_eq 0 "$rc" "requeue exit ($err)"
assert_contains "$out" "requeued 3 message(s) from replay_submission:bad to replay_submission"
assert_eq 0 "$(cli LLEN replay_submission:bad)" "bad list emptied"
assert_eq '{"sid": "already-queued"}|not json|{"sid": 42}|"x"' \
  "$(cli --raw LRANGE replay_submission 0 -1 | paste -sd'|')" "queue after requeue"
"$tool" consume "$QURL" submission ctl-3 --idle-exit 200 2>/dev/null >"$T/again"
assert_contains "$(cat "$T/again")" "ACKED already-queued"
assert_eq 3 "$(cli LLEN replay_submission:bad)" "cause not fixed: back in :bad"
run "$ctl" queues --requeue-bad all
assert_contains "$out" "requeued 3 message(s) from replay_submission:bad"
cli DEL replay_submission >/dev/null

note "URLs from replay.yml (--config)"
cat >"$T/replay.yml" <<EOF
redis:
  url: redis://:ctl-s3cret@127.0.0.1:$REDIS_PORT/0
  persistent_url: $PURL
EOF
run env -u REPLAY_REDIS_URL -u REPLAY_REDIS_PERSISTENT_URL "$ctl" --config "$T/replay.yml" queues
assert_eq 0 "$rc" "queues with replay.yml ($err)"
assert_contains "$out" "(from replay.yml)"
assert_not_contains "$out$err" "ctl-s3cret" "output"

note "failures: unreachable Redis, rediss://, wrong password, usage"
dead=$(free_port)
start=$SECONDS
run env REPLAY_REDIS_URL="redis://:hidden-pw@127.0.0.1:$dead/0" "$ctl" queues --timeout 1
assert_eq 1 "$rc" "unreachable Redis"
assert_contains "$err" "no connection to Redis at redis://:***@127.0.0.1:$dead/0"
assert_not_contains "$err" "hidden-pw"
[ $((SECONDS - start)) -le 10 ] || fail "gave up after $((SECONDS - start)) s with --timeout 1"
run env REPLAY_REDIS_URL="rediss://127.0.0.1:$REDIS_PORT/0" "$ctl" queues
assert_eq 2 "$rc" "rediss is a configuration error"
assert_contains "$err" "hiredis 0.14 has no TLS"
run env REPLAY_REDIS_URL="redis://:nope@127.0.0.1:$REDIS_PORT/0" "$ctl" queues
assert_eq 1 "$rc" "wrong password"
assert_contains "$err" "credentials refused"
run "$ctl" queues --requeue-bad alerts
assert_eq 2 "$rc" "unknown type"
assert_contains "$err" 'unknown queue type "alerts"'
run "$ctl" queues --bogus
assert_eq 2 "$rc" "unknown option"
run "$ctl" queues --help
assert_eq 0 "$rc" "help"
assert_contains "$out" "--requeue-bad TYPE"
echo "queue_ctl: ok"
