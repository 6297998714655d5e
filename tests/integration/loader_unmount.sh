#!/usr/bin/env bash
# The input directory made unreadable, then unmounted, for a while: the loader
# logs the errors, forgets nothing, and queues nothing again when the directory
# is back; the files are then imported once each.
# Needs root (bind mounts, and a loader running as another user, for whom
# permissions count); runs in a private mount namespace so no mount outlives it.
if [ -z "${LOADER_MOUNT_NS:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "FAIL: this test needs root (bind mounts, setpriv)" >&2; exit 1; }
  exec unshare --mount --propagation private env LOADER_MOUNT_NS=1 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"
. "$(dirname "$0")/loader_lib.sh"

start_redis
start_alsim --name target --mode upstream
make_bundles 10
mapfile -t b < <(cd "$T/bundles" && ls)

note "unreadable: a loader running as nobody, its input directory chmod 000"
chmod 755 "$T"
mkdir -p "$T/pin" "$T/pwork"
cp "$T/bundles/${b[0]}" "$T/bundles/${b[1]}" "$T/bundles/${b[2]}" "$T/pin/"
touch "$T/loader.hb"
chown -R 65534:65534 "$T/pin" "$T/pwork" "$T/loader.hb"
LOADER_IN=$T/pin LOADER_WORK=$T/pwork LOADER_FAILED=$T/pfailed loader_config
start_svc loader setpriv --reuid=65534 --regid=65534 --clear-groups
wait_for 60 "three files queued" bash -c "[ \$(redis-cli -p $REDIS_PORT llen replay_file) = 3 ]"
chmod 000 "$T/pin"
wait_for 60 "the walk error logged" log_has loader "/pin: Permission denied"
log_has loader "nothing is forgotten" || fail "the incomplete walk was not reported as such"
chmod 755 "$T/pin"
wait_for 60 "the walk complete again" log_has loader "The walk of $T/pin is complete again"
assert_eq 3 "$(queue_len)" "messages queued after the directory came back"
assert_eq 3 "$(log_count loader 'Queueing file: ')" "files queued"
stop_svc loader
redis-cli -p "$REDIS_PORT" del replay_file >/dev/null
mv "$T/loader.log" "$T/loader-nobody.log"
rm -f "$T/loader.hb"

note "unmounted: the input directory is a bind mount that goes away and comes back"
mkdir -p "$T/real" "$T/in"
mount --bind "$T/real" "$T/in" || fail "mount --bind failed"
on_exit "umount -l '$T/in'"
cp "$T/bundles"/* "$T/in/"
loader_config
start_svc loader
wait_for 60 "ten files queued" bash -c "[ \$(redis-cli -p $REDIS_PORT llen replay_file) = 10 ]"
umount "$T/in" || fail "umount failed"
dir_empty "$T/in" || fail "the mount point is not empty"
wait_for 60 "the missing mount noticed" log_has loader "is not the directory seen before (a mount may be missing)"
wait_for 60 "the walk reported incomplete" log_has loader "The walk of $T/in is incomplete"
mount --bind "$T/real" "$T/in" || fail "mount --bind failed"
wait_for 60 "the mount back" log_has loader "is the one seen before again"
wait_for 60 "the walk complete again" log_has loader "The walk of $T/in is complete again"
assert_eq 10 "$(queue_len)" "messages queued after the mount came back"
assert_eq 10 "$(log_count loader 'Queueing file: ')" "files queued"

note "the worker imports each once"
start_svc loader-worker
wait_for 120 "every bundle imported" target_has_all
wait_for 60 "the input directory emptied" dir_empty "$T/real"
_imports
assert_eq 10 "$(jq 'length' "$T/.imports")" "import attempts"
loader_finish
