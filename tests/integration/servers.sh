# Starters for the file servers of the filestore tests (bash). Source it after
# lib.sh:
#
#   . "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"
#   . "$REPLAY_SOURCE_DIR/tests/integration/servers.sh"
#
# Each start_<server> picks a free loopback port, keeps its files in a directory
# under $T, waits until the server answers, registers its stop with on_exit, and
# exports what a test needs to build a URL (port, user, password, keys, root).
# A server that cannot start fails the test with the reason (its log's tail).
#
#   start_vsftpd [--tls]   FTP_PORT FTP_USER FTP_PASS FTP_ROOT FTP_DIR [FTP_CERT]
#   start_sshd             SSH_PORT SSH_USER SSH_PASS SSH_HOME SSH_DIR SSH_KEY
#                          (private user key, no passphrase) SSH_KEY_PASS_FILE
#                          (another key, under passphrase $SSH_KEY_PASS) SSH_HOST_PUB
#   start_s3rver           S3_PORT S3_BUCKET S3_ACCESS S3_SECRET S3_DIR
#   start_azurite          AZ_PORT AZ_ACCOUNT AZ_KEY AZ_DIR
#   start_httpd ROOT [USER:PASS]
#                          HTTPD_PORT: read-only static files of ROOT
#                          (tests/integration/filestore_httpd, built first)
#
# server_kill NAME     kills the server NAME (vsftpd, sshd, s3rver, azurite, httpd) and
#                      every process it started, at once (SIGKILL), as a crash.
# server_restart NAME  starts it again on the same port with the same files.
#
# vsftpd and sshd need local system users: each start creates one with a unique
# name (home = its root under $T) and on_exit removes it. This needs root, which
# the test machines and CI have; without it the start fails and says so.

# _server_user PREFIX HOME: creates a system user (name in $_server_user_name)
# with HOME as home directory. The user is deleted at exit.
_server_user() {
  [ "$(id -u)" -eq 0 ] || fail "creating a local user for $1 needs root (useradd)"
  command -v useradd >/dev/null || fail "useradd is missing"
  _server_user_name="rpl$1$$$RANDOM"
  _server_user_name=${_server_user_name:0:31}
  # The user must be able to reach its home under $T (mktemp made it 0700).
  chmod o+x "$T"
  useradd -M -d "$2" -s /bin/sh "$_server_user_name" >/dev/null 2>&1 ||
    fail "useradd $_server_user_name failed"
  on_exit "userdel $_server_user_name"
}

_server_password() {
  head -c 18 /dev/urandom | base64 | tr -d '/+=' | head -c 20
}

# _server_launch NAME LOG CMD...: starts CMD in its own session (so that
# server_kill can kill the server with all its per-connection children) and
# records its pid in _server_pid_NAME.
_server_launch() {
  local name=$1 log=$2
  shift 2
  setsid "$@" >>"$log" 2>&1 </dev/null &
  local pid=$!
  disown "$pid" # no "Killed" job notice from server_kill
  eval "_server_pid_$name=$pid"
  eval "_server_cmd_$name=\$(printf '%q ' \"\$@\")"
  eval "_server_log_$name=\$log"
}

_server_pid() { eval "echo \${_server_pid_$1:-}"; }

# _server_tree PID: PID and all its descendants (sshd gives each connection its
# own session, so the process group is not enough).
_server_tree() {
  local child
  echo "$1"
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    _server_tree "$child"
  done
}

# Kills server NAME and every process it started, at once, as a crash would.
server_kill() {
  local pid pids
  pid=$(_server_pid "$1")
  [ -n "$pid" ] || fail "server_kill: $1 was not started"
  kill -STOP "$pid" 2>/dev/null || true
  pids=$(_server_tree "$pid")
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
  wait_until 60 bash -c "! kill -0 $pid 2>/dev/null" || fail "$1 (pid $pid) did not die"
}

_server_stop() { # NAME: TERM the session, KILL after 5 s
  local pid
  pid=$(_server_pid "$1")
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || true
  wait_until 5 bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL -- "-$pid" 2>/dev/null || true
}

server_restart() {
  local name=$1 cmd log port
  cmd=$(eval "echo \${_server_cmd_$name:-}")
  log=$(eval "echo \${_server_log_$name:-}")
  [ -n "$cmd" ] || fail "server_restart: $name was not started"
  case "$name" in
    vsftpd) port=$FTP_PORT ;;
    sshd) port=$SSH_PORT ;;
    s3rver) port=$S3_PORT ;;
    azurite) port=$AZ_PORT ;;
    httpd) port=$HTTPD_PORT ;;
  esac
  wait_until 60 bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null" ||
    fail "$name: port $port still in use, cannot restart"
  eval "_server_launch $name \"$log\" $cmd"
  _server_wait "$name" "$port" ||
    fail "$name did not start again on 127.0.0.1:$port: $(tail -5 "$log" 2>/dev/null | tr '\n' ' ')"
}

# _server_listens NAME PORT: PORT is listened on by NAME's own process tree (not
# by a server of a test running alongside that took the port first).
_server_listens() {
  local tree owner
  tree=" $(_server_tree "$(_server_pid "$1")" | tr '\n' ' ') "
  for owner in $(ss -Hltnp "sport = :$2" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2); do
    case "$tree" in *" $owner "*) return 0 ;; esac
  done
  return 1
}

# _server_wait NAME PORT: waits until NAME listens on PORT (0), or NAME exited
# (1: most often the port was taken between free_port and the bind, the caller
# tries another). The bound is for a loaded machine (node's s3rver and azurite
# start slowly there); past it the test fails with the log.
_server_wait() {
  local log pid end=$((SECONDS + 120))
  log=$(eval "echo \${_server_log_$1:-}")
  pid=$(_server_pid "$1")
  until _server_listens "$1" "$2"; do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$SECONDS" -lt "$end" ] ||
      fail "$1 did not start on 127.0.0.1:$2: $(tail -5 "$log" 2>/dev/null | tr '\n' ' ')"
    sleep 0.1
  done
}

# _server_start NAME LOG PORTVAR CONFIGURE CMD...: picks a free port into PORTVAR,
# runs CONFIGURE (writes the port into the server's config; may be :), launches
# CMD and waits for it; a server that exits at start (its port taken meanwhile
# by a test running alongside) is started again on another port, five times at
# most. CMD's words may name the port as @PORT@.
_server_start() {
  local name=$1 log=$2 portvar=$3 configure=$4 attempt port arg
  shift 4
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    eval "$portvar=$port"
    "$configure"
    local cmd=()
    for arg in "$@"; do cmd+=("${arg//@PORT@/$port}"); done
    _server_launch "$name" "$log" "${cmd[@]}"
    [ "$attempt" -gt 1 ] || on_exit "_server_stop $name"
    _server_wait "$name" "$port" && return 0
    echo "$name exited at start on port $port (attempt $attempt); trying another port" >&2
  done
  fail "$name did not start in 5 attempts: $(tail -5 "$log" 2>/dev/null | tr '\n' ' ')"
}

# _vsftpd_conf: vsftpd.conf for $FTP_PORT (and FTPS when $_vsftpd_tls is YES).
_vsftpd_conf() {
  local pasv
  pasv=$(free_port)
  pasv=$((pasv - pasv % 100))
  cat >"$FTP_DIR/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$FTP_PORT
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
local_root=$FTP_ROOT
chroot_local_user=YES
allow_writeable_chroot=YES
pasv_enable=YES
pasv_address=127.0.0.1
pasv_min_port=$pasv
pasv_max_port=$((pasv + 99))
seccomp_sandbox=NO
secure_chroot_dir=$FTP_DIR/empty
pam_service_name=vsftpd
utf8_filesystem=YES
xferlog_enable=NO
vsftpd_log_file=$FTP_DIR/vsftpd.log
max_per_ip=50
EOF
  if [ "$_vsftpd_tls" = YES ]; then
    FTP_CERT="$FTP_DIR/cert.pem"
    [ -f "$FTP_CERT" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
      -keyout "$FTP_DIR/key.pem" -out "$FTP_CERT" >/dev/null 2>&1 ||
      fail "openssl could not make the FTPS test certificate"
    cat >>"$FTP_DIR/vsftpd.conf" <<EOF
ssl_enable=YES
rsa_cert_file=$FTP_CERT
rsa_private_key_file=$FTP_DIR/key.pem
allow_anon_ssl=NO
force_local_data_ssl=NO
force_local_logins_ssl=NO
require_ssl_reuse=NO
ssl_ciphers=HIGH
EOF
    export FTP_CERT
  fi
}

# start_vsftpd [--tls]: FTP with a local user chrooted in $FTP_ROOT; with --tls
# the server also speaks explicit FTPS (AUTH TLS) with a self-signed certificate
# ($FTP_CERT), allowed but not required.
start_vsftpd() {
  local tls=NO
  [ "${1:-}" = --tls ] && tls=YES
  [ -x /usr/sbin/vsftpd ] || fail "vsftpd is not installed (run scripts/setup)"
  FTP_DIR="$T/vsftpd"
  FTP_ROOT="$FTP_DIR/root"
  mkdir -p "$FTP_ROOT" "$FTP_DIR/empty"
  chmod 755 "$FTP_DIR" "$FTP_DIR/empty"
  _server_user ftp "$FTP_ROOT"
  FTP_USER=$_server_user_name
  FTP_PASS=$(_server_password)
  echo "$FTP_USER:$FTP_PASS" | chpasswd || fail "chpasswd for $FTP_USER failed"
  chown "$FTP_USER" "$FTP_ROOT"
  _vsftpd_tls=$tls
  _server_start vsftpd "$FTP_DIR/stderr.log" FTP_PORT _vsftpd_conf \
    /usr/sbin/vsftpd "$FTP_DIR/vsftpd.conf"
  export FTP_PORT FTP_USER FTP_PASS FTP_ROOT FTP_DIR
}

# _sshd_conf: sshd_config for $SSH_PORT.
_sshd_conf() {
  cat >"$SSH_DIR/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $SSH_DIR/host_key
PidFile $SSH_DIR/sshd.pid
AuthorizedKeysFile $SSH_DIR/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin no
AllowUsers $SSH_USER
MaxStartups 50
MaxSessions 50
Subsystem sftp internal-sftp
EOF
}

# start_sshd: OpenSSH on a high port, internal-sftp, password and key logins for
# a local user whose home is $SSH_HOME.
start_sshd() {
  [ -x /usr/sbin/sshd ] || fail "sshd is not installed (run scripts/setup)"
  SSH_DIR="$T/sshd"
  SSH_HOME="$SSH_DIR/home"
  mkdir -p "$SSH_HOME" /run/sshd
  _server_user ssh "$SSH_HOME"
  SSH_USER=$_server_user_name
  SSH_PASS=$(_server_password)
  echo "$SSH_USER:$SSH_PASS" | chpasswd || fail "chpasswd for $SSH_USER failed"
  chown "$SSH_USER" "$SSH_HOME"
  ssh-keygen -q -t ed25519 -N '' -f "$SSH_DIR/host_key" >/dev/null ||
    fail "ssh-keygen (host key) failed"
  ssh-keygen -q -t ed25519 -N '' -C replay-test -f "$SSH_DIR/user_key" >/dev/null ||
    fail "ssh-keygen (user key) failed"
  SSH_KEY_PASS=$(_server_password)
  ssh-keygen -q -t ed25519 -N "$SSH_KEY_PASS" -C replay-test2 -f "$SSH_DIR/user_key_pass" \
    >/dev/null || fail "ssh-keygen (user key with passphrase) failed"
  cat "$SSH_DIR/user_key.pub" "$SSH_DIR/user_key_pass.pub" >"$SSH_DIR/authorized_keys"
  SSH_KEY="$SSH_DIR/user_key"
  SSH_KEY_PASS_FILE="$SSH_DIR/user_key_pass"
  SSH_HOST_PUB="$SSH_DIR/host_key.pub"
  _server_start sshd "$SSH_DIR/stderr.log" SSH_PORT _sshd_conf \
    /usr/sbin/sshd -D -f "$SSH_DIR/sshd_config" -E "$SSH_DIR/sshd.log"
  export SSH_PORT SSH_USER SSH_PASS SSH_HOME SSH_DIR SSH_KEY SSH_KEY_PASS SSH_KEY_PASS_FILE \
    SSH_HOST_PUB
}

# start_s3rver: S3 emulator with bucket $S3_BUCKET, credentials S3RVER/S3RVER.
start_s3rver() {
  local s3rver
  s3rver=$(npm_tool s3rver)
  S3_DIR="$T/s3rver"
  mkdir -p "$S3_DIR/data"
  S3_BUCKET=replay-test
  S3_ACCESS=S3RVER
  S3_SECRET=S3RVER
  _server_start s3rver "$S3_DIR/s3rver.log" S3_PORT : "$s3rver" -d "$S3_DIR/data" -p @PORT@ \
    -a 127.0.0.1 --silent --configure-bucket "$S3_BUCKET" --no-vhost-buckets
  export S3_PORT S3_BUCKET S3_ACCESS S3_SECRET S3_DIR
}

# start_azurite: Azure Blob emulator, development account devstoreaccount1.
start_azurite() {
  local azurite
  azurite=$(npm_tool azurite-blob)
  AZ_DIR="$T/azurite"
  mkdir -p "$AZ_DIR/data"
  AZ_ACCOUNT=devstoreaccount1
  # Azurite's published development key (documented by Microsoft, not a secret).
  AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
  _server_start azurite "$AZ_DIR/azurite.log" AZ_PORT : "$azurite" --blobHost 127.0.0.1 \
    --blobPort @PORT@ -l "$AZ_DIR/data" --skipApiVersionCheck --loose --silent --disableTelemetry
  export AZ_PORT AZ_ACCOUNT AZ_KEY AZ_DIR
}

# start_httpd ROOT [USER:PASS]: the tests' static file server over ROOT.
start_httpd() {
  local httpd
  httpd=$(bin filestore_httpd)
  mkdir -p "$T/httpd"
  _server_start httpd "$T/httpd/httpd.log" HTTPD_PORT : "$httpd" @PORT@ "$@"
  export HTTPD_PORT
}
