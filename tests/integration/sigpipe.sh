#!/usr/bin/env bash
# A peer that goes away while we write is an error to report, never a death by
# SIGPIPE (hiredis writes without MSG_NOSIGNAL): every executable ignores SIGPIPE
# from its first line. replay-ctl meets a Redis that stops reading after its first
# reply; the services show SIGPIPE ignored in /proc while they run.
. "$(dirname "$0")/lib.sh"

export REPLAY_AL_CONFIG_PATH=$T/no-config.yml REPLAY_CONFIG_PATH=$T/absent.yml
unset REPLAY_REDIS_URL REPLAY_REDIS_PERSISTENT_URL LOG_LEVEL AL_LOG_LEVEL

note "replay-ctl queues against a Redis that stops reading after its first reply"
# A unix socket, so that the next write after the peer's shutdown fails with EPIPE
# at once (over TCP the first write after a close only draws a reset).
cat >"$T/stop_reading_redis.py" <<'PY'
import socket, sys, threading
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(sys.argv[1])
listener.listen(16)

def whole_command(buf):
    """True once buf holds one RESP array of bulk strings."""
    if not buf.startswith(b"*") or b"\r\n" not in buf:
        return False
    head, rest = buf.split(b"\r\n", 1)
    for _ in range(int(head[1:])):
        if b"\r\n" not in rest:
            return False
        size, rest = rest.split(b"\r\n", 1)
        if len(rest) < int(size[1:]) + 2:
            return False
        rest = rest[int(size[1:]) + 2:]
    return True

def serve(conn):
    buf = b""
    while not whole_command(buf):
        data = conn.recv(65536)
        if not data:
            return
        buf += data
    conn.shutdown(socket.SHUT_RD)  # the client's next write gets EPIPE
    conn.sendall(b"+PONG\r\n")
    threading.Event().wait(60)

while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
PY
sock=$T/redis.sock
python3 "$T/stop_reading_redis.py" "$sock" 2>"$T/fake.log" &
on_exit "kill $!"
wait_until 10 test -S "$sock" || fail "the fake Redis did not start: $(cat "$T/fake.log")"
run env REPLAY_REDIS_URL="unix://$sock" "$(bin replay-ctl)" queues --timeout 2
[ "$rc" -ne 141 ] || fail "replay-ctl was killed by SIGPIPE"
assert_eq 1 "$rc" "replay-ctl exit code when Redis goes away"
assert_contains "$err" "replay-ctl queues: "

note "every service ignores SIGPIPE while it runs"
cat >"$T/api.yml" <<'YML'
creator:
  client: {type: api, options: {host: "http://127.0.0.1:9", apikey: "reader:key"}}
loader:
  client: {type: api, options: {host: "http://127.0.0.1:9", apikey: "writer:key"}}
YML
for svc in replay-creator replay-creator-worker replay-loader replay-loader-worker; do
  REPLAY_HEARTBEAT_FILE=$T/hb-$svc "$(bin "$svc")" --config "$T/api.yml" 2>"$T/$svc.log" &
  pid=$!
  on_exit "kill -9 $pid"
  wait_until 20 grep -q '"message": "Started"' "$T/$svc.log" || fail "$svc did not start: $(cat "$T/$svc.log")"
  ignored=$(awk '/^SigIgn:/ {print $2}' "/proc/$pid/status")
  (( (16#$ignored >> 12) & 1 )) || fail "$svc does not ignore SIGPIPE (SigIgn $ignored)"
  kill -TERM "$pid"; wait "$pid" || fail "$svc did not stop cleanly"
done
