#!/usr/bin/env bash
# replay-ctl status with a real Redis, al-sim target and a running replay-loader:
# queues, :bad lists, checkpoints, the failed directory and heartbeat ages, as a
# table and as JSON; exit 0 when nothing needs attention and 1 when something
# does (a :bad entry, a failed file, a stale or missing heartbeat, a Redis or
# failed directory that cannot be read); passwords masked; bad usage exits 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"
. "$(dirname "$0")/loader_lib.sh"
ctl=$(bin replay-ctl)
tool=$(bin queue_tool)
F=$T/failed

start_redis
start_alsim --name target --mode upstream
loader_config
mkdir -p "$F"
export REPLAY_CONFIG_PATH=$T/replay.yml REPLAY_AL_CONFIG_PATH=$T/none.yml
start_svc loader
wait_for 30 "the loader's heartbeat" test -e "$T/loader.hb"

note "nothing needs attention: exit 0"
run "$ctl" status --heartbeat "loader=$T/loader.hb"
assert_eq 0 "$rc" "status exit ($out $err)"
assert_contains "$out" "queues on $REDIS_URL (from replay.yml)"
assert_contains "$out" "checkpoints on $REDIS_URL (from replay.yml)"
assert_contains "$out" "failed directory $F: 0 file(s)"
assert_contains "$out" "heartbeats (stale after 30 s)"
[[ "$out" =~ loader\ +ok\ +[0-9]+\ s\ ago\ +$T/loader.hb ]] || fail "no fresh loader heartbeat row: $out"
assert_contains "$out" "nothing needs attention"
run "$ctl" status --json --heartbeat "loader=$T/loader.hb"
assert_eq 0 "$rc" "status --json exit ($err)"
assert_eq "0 7 0 ok" "$(jq -r '"\(.attention | length) \(.redis.queues | length) \(.failed.count) \(.heartbeats[0].state)"' <<<"$out")" "JSON"

note "a :bad entry, a checkpoint, a failed file, a stale and a missing heartbeat"
redis-cli -p "$REDIS_PORT" RPUSH replay_submission 'not json' >/dev/null
"$tool" consume "$REDIS_URL" submission st-1 --idle-exit 200 2>/dev/null
"$tool" checkpoint "$REDIS_URL" set signature 2024-05-01T12:34:56.123456Z
printf 'x' >"$F/submission_bad.al_bundle"
printf '{"reason": "refused by the target: HTTP 400", "time": "2024-05-01T12:00:00.000000Z"}\n' \
  >"$F/submission_bad.al_bundle.error.json"
touch -d '-5 minutes' "$T/old.hb"
run "$ctl" status --heartbeat "loader=$T/loader.hb" --heartbeat "old=$T/old.hb" --heartbeat "gone=$T/gone.hb"
assert_eq 1 "$rc" "status exit with things to look at ($err)"
assert_contains "$out" "signature  2024-05-01T12:34:56.123456Z"
assert_contains "$out" "failed directory $F: 1 file(s)"
assert_contains "$out" "  submission_bad.al_bundle  2024-05-01T12:00:00.000000Z  refused by the target: HTTP 400"
[[ "$out" =~ old\ +stale\ +3[0-9][0-9]\ s\ ago ]] || fail "no stale row: $out"
[[ "$out" =~ gone\ +missing\ +-\ +$T/gone.hb ]] || fail "no missing row: $out"
assert_contains "$out" "needs attention:"
assert_contains "$out" "  - replay_submission:bad holds 1 message(s): replay-ctl queues --bad submission"
assert_contains "$out" "  - 1 file(s) in the failed directory $F: replay-ctl failed list"
assert_contains "$out" "  - heartbeat old ($T/old.hb) is 3"
assert_contains "$out" "  - heartbeat gone ($T/gone.hb): No such file or directory"
run "$ctl" status --json --stale 600 --heartbeat "old=$T/old.hb"
assert_eq 1 "$rc" "status --json exit"
assert_eq "ok 2" "$(jq -r '"\(.heartbeats[0].state) \(.attention | length)"' <<<"$out")" "--stale 600"
assert_eq "refused by the target: HTTP 400" "$(jq -r '.failed.newest[0].reason' <<<"$out")" "newest reason"

note "without --heartbeat: the configured file (REPLAY_HEARTBEAT_FILE)"
run env REPLAY_HEARTBEAT_FILE="$T/loader.hb" "$ctl" status --json
assert_eq "configured ok $T/loader.hb" "$(jq -r '.heartbeats[0] | "\(.name) \(.state) \(.file)"' <<<"$out")" "configured heartbeat"

note "a Redis that does not answer, a missing failed directory, a file in its place"
port=$(free_port)
touch "$T/a-file"
for d in "$T/no-such-dir" "$T/a-file"; do
  sed "s|failed_directory: \"$F\"|failed_directory: \"$d\"|" "$T/replay.yml" >"$T/other.yml"
  run env REPLAY_REDIS_URL="redis://:st-s3cret@127.0.0.1:$port/0" "$ctl" --config "$T/other.yml" \
    status --timeout 2 --heartbeat "loader=$T/loader.hb"
  assert_eq 1 "$rc" "status with Redis down and failed_directory $d"
  assert_not_contains "$out$err" "st-s3cret" "output"
  assert_contains "$out" "queues on redis://:***@127.0.0.1:$port/0: "
  assert_contains "$out" "  - Redis: "
  assert_contains "$out" "  - cannot read the failed directory $d: "
  [[ "$out" =~ loader\ +ok ]] || fail "the heartbeat part is missing when Redis is down: $out"
done

note "--no-failed and --no-heartbeat leave those parts out (a source-side host)"
sed "s|failed_directory: \"$F\"|failed_directory: \"$T/no-such-dir\"|" "$T/replay.yml" >"$T/other.yml"
run "$ctl" --config "$T/other.yml" status --no-failed --no-heartbeat --json
assert_eq 1 "$rc" "status --no-failed --no-heartbeat with a :bad entry"
assert_eq "null 0 1" "$(jq -r '"\(.failed) \(.heartbeats | length) \(.attention | length)"' <<<"$out")" "parts left out"
redis-cli -p "$REDIS_PORT" DEL replay_submission:bad >/dev/null
run env REPLAY_HEARTBEAT_FILE="$T/gone.hb" "$ctl" --config "$T/other.yml" status --no-failed --no-heartbeat
assert_eq 0 "$rc" "status --no-failed --no-heartbeat, nothing else to look at ($out)"
assert_not_contains "$out" "failed directory"
assert_not_contains "$out" "heartbeats"
assert_contains "$out" "nothing needs attention"

note "bad usage and configuration exit 2"
for args in "--stale 0" "--stale x" "--timeout 0" "--heartbeat noequals" "--heartbeat =x" \
  "--heartbeat x=" "extra" "--bogus" "--no-heartbeat --heartbeat a=b"; do
  # shellcheck disable=SC2086
  run "$ctl" status $args
  assert_eq 2 "$rc" "status $args"
  assert_contains "$err" "usage: replay-ctl status"
done
run "$ctl" status --help
assert_eq 0 "$rc" "status --help"
assert_contains "$out" "Exit codes: 0 nothing needs attention, 1 something does"
run "$ctl" --config "$T/nope.yml" status
assert_eq 2 "$rc" "status with a missing config"
stop_svc loader
alsim_finish
