#!/usr/bin/env bash
# servers.sh under a port race: a test running alongside takes the port free_port
# picked before the server binds it. The server must come up on another port, and
# a server of another test answering on that port must not pass for ours.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/servers.sh"

# A stranger listens on a port: the "server of another test".
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
time.sleep(600)' >"$T/stranger.port" &
stranger=$!
on_exit "kill $stranger"
wait_until 20 test -s "$T/stranger.port" || fail "the stranger did not listen"
taken=$(cat "$T/stranger.port")

# free_port hands out the stranger's port first, as the race would.
eval "$(declare -f free_port | sed '1s/free_port/_real_free_port/')"
free_port() {
  if [ ! -e "$T/handed" ]; then
    : >"$T/handed"
    echo "$taken"
  else
    _real_free_port
  fi
}

note "httpd: its first port is taken"
mkdir -p "$T/root" && echo hello >"$T/root/a.txt"
start_httpd "$T/root" 2>"$T/httpd.err"
[ "$HTTPD_PORT" != "$taken" ] || fail "httpd reported the stranger's port $taken as its own"
assert_eq hello "$(curl -sf "http://127.0.0.1:$HTTPD_PORT/a.txt")" "httpd answers on its new port"
assert_file_contains "$T/httpd.err" "trying another port"

note "sshd: its first port is taken"
rm -f "$T/handed"
start_sshd 2>"$T/sshd.err"
[ "$SSH_PORT" != "$taken" ] || fail "sshd reported the stranger's port $taken as its own"
_server_listens sshd "$SSH_PORT" || fail "sshd does not listen on $SSH_PORT"
assert_file_contains "$T/sshd.err" "trying another port"
note "servers start on another port when theirs is taken"
