#!/usr/bin/env bash
# What the loader remembers: a restart (clean or SIGKILL) does not queue the same
# files again; a file still present requeue_after seconds after it was queued is
# queued again once its message is gone (lost with a Redis that did not persist),
# never while the queue still holds a backlog; files that went are forgotten.
# The sync check warns while the target loads nothing, and sees the import.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"
. "$(dirname "$0")/loader_lib.sh"

start_redis
start_alsim --name target --mode upstream
make_bundles 2
loader_config "requeue_after: 3" "sync_check_interval: 2"
cp "$T/bundles"/* "$T/in/"
passes() { grep -c 'Pass over' "$T/loader.log" || true; }
# wait_passes N: N more passes of the loader, from its debug log.
wait_passes() {
  local target=$(($(passes) + $1))
  wait_for 60 "$1 more passes" bash -c "[ \$(grep -c 'Pass over' '$T/loader.log') -ge $target ]"
}
start_svc loader env LOG_LEVEL=DEBUG
wait_for 60 "two files queued" bash -c "[ \$(redis-cli -p $REDIS_PORT llen replay_file) = 2 ]"

note "restarts, clean and SIGKILL: nothing queued again"
stop_svc loader
start_svc loader env LOG_LEVEL=DEBUG
wait_for 60 "the state read back" log_has loader "Remembering 2 queued file(s)"
wait_passes 3
kill_svc loader
start_svc loader env LOG_LEVEL=DEBUG
wait_passes 3
assert_eq 2 "$(queue_len)" "messages after the restarts"
assert_eq 2 "$(log_count loader 'Queueing file: ')" "files queued"

note "past requeue_after with the messages still queued: a backlog, not a loss"
wait_for 60 "requeue_after passed" bash -c "[ \$(( \$(date +%s) - \$(stat -c %Y '$T/work/loader_state.jsonl') )) -ge 4 ]"
wait_passes 3
assert_eq 2 "$(queue_len)" "messages while the queue holds them"
assert_eq 0 "$(log_count loader 'Queueing again')" "files queued again"

note "the messages lost (Redis emptied): both queued again, once"
redis-cli -p "$REDIS_PORT" del replay_file >/dev/null
wait_for 60 "both queued again" bash -c "[ \$(grep -c 'Queueing again' '$T/loader.log') -ge 2 ]"
wait_passes 3
assert_eq 2 "$(queue_len)" "messages after the loss"
assert_eq 2 "$(log_count loader 'Queueing again')" "files queued again"

note "a file that went is forgotten, in the state file too"
rm "$T/in/$(ls "$T/in" | head -1)"
wait_for 60 "the state file holds one file" bash -c "[ \$(wc -l <'$T/work/loader_state.jsonl') = 2 ]"

note "the worker loads both messages' file once; the twin message finds nothing"
start_svc loader-worker
wait_for 60 "the input emptied" dir_empty "$T/in"
wait_for 60 "no message left" nothing_held
assert_eq 1 "$(imports_total)" "imports"
log_has loader "Haven't received a new bundle since the last check!" ||
  fail "the sync check never warned while nothing was loaded"
wait_for 60 "the sync check sees the import" log_has loader "The target loaded 0 alert(s) and 1 submission(s)"
loader_finish
