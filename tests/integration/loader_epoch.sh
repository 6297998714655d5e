#!/usr/bin/env bash
# A queue Redis that loses its data (restarted without persistence, as
# Assemblyline's redis-volatile) loses the messages of files already queued: the
# loader notices the new epoch and queues every file still in the input directory
# again at once, not requeue_after (an hour here) later; each is imported once.
# Also: a loader that starts after the Redis lost its data (its state names the
# epoch its files were queued in) queues them again; the temporary a killed
# loader's state write left is removed at start.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"
. "$(dirname "$0")/loader_lib.sh"

start_redis
start_alsim --name target --mode upstream
make_bundles 2
loader_config "requeue_after: 3600"
cp "$T/bundles"/* "$T/in/"
# What a loader killed while saving its state leaves: removed at start.
mkdir -p "$T/work" && touch "$T/work/.loader_state.jsonl.replay-tmp-AbCd12345678"
start_svc loader
wait_for 60 "two files queued" bash -c "[ \$(redis-cli -p $REDIS_PORT llen replay_file) = 2 ]"
[ ! -e "$T/work/.loader_state.jsonl.replay-tmp-AbCd12345678" ] ||
  fail "the temporary of a killed loader's state was left"

note "the queue Redis restarts without its data"
restart_redis
wait_for 60 "the loss noticed" log_has loader "The queue Redis lost its data"
wait_for 60 "both queued again" bash -c "[ \$(redis-cli -p $REDIS_PORT llen replay_file) = 2 ]"
assert_eq 4 "$(log_count loader 'Queueing file: ')" "files queued, before and after the loss"

note "the Redis loses its data while no loader runs: the next loader queues them again"
# Its state remembers both files as queued, in the Redis that is gone (the chaos run
# found a loader killed just after queueing, then the Redis restarted, then the
# loader started again: those files waited forever).
stop_svc loader
restart_redis
start_svc loader
wait_for 60 "the loss noticed at start" bash -c "[ \$(grep -cF 'The queue Redis lost its data' '$T/loader.log') -ge 2 ]"
wait_for 60 "both queued again" bash -c "[ \$(redis-cli -p $REDIS_PORT llen replay_file) = 2 ]"
assert_eq 6 "$(log_count loader 'Queueing file: ')" "files queued, over the two losses"

note "the worker imports each once"
start_svc loader-worker
wait_for 60 "the input emptied" dir_empty "$T/in"
wait_for 60 "no message left" nothing_held
assert_eq 2 "$(imports_total)" "imports"
loader_finish
