# The filestore integration test body, the same for every scheme (bash).
# A per-scheme script sets SCHEME and sources this file:
#
#   SCHEME=ftp . "$(dirname "$0")/filestore_suite.sh"
#
# The table below (setup_<scheme>) starts the real server on loopback and sets:
#   URL         a working store URL (it holds a secret where the scheme has one)
#   SECRET      that secret: it must never appear in any output
#   BAD_URLS    URLs with a wrong password/key: every one must fail with EAUTH
#   DOWN_URL    the same store with nothing listening (or an unusable directory)
#   DOWN_CODE   the error it must give
#   SERVER      server name for server_kill/server_restart ("" for file://)
#   BIG_OPTS    filestore_tool options for the 100 MiB transfers
#   WRITABLE    no for http(s): files are put in place by the test instead
#   RACE        one: of two concurrent uploads of a name exactly one is written;
#               both: the server replaces at commit (the object is still whole);
#               skip: the test server cannot take concurrent writes of one name
#   RAW_DIR     where the server keeps the store's files, hidden temporaries
#               included ("": only what the store lists, for azure and http)
# then the common steps run in order, then extra_<scheme> (scheme-only checks).
# Every output of the tool is kept in $T/all.log and checked for SECRET at the
# end. Data is generated at run time.
#
# With FILESTORE_ONLY=stream_big (the slow tests slow.filestore_stream.<scheme>)
# only the server starts and one large stream (FILESTORE_STREAM_BIG_MIB, 400)
# goes up and comes back.
set -euo pipefail
_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$_here/lib.sh"
. "$_here/servers.sh"

TOOL=$(bin filestore_tool)
BIG_MIB=100
STREAM_MIB=40
NAMES=("plain.bin" "with space.bin" "unicodé ✓ 名前.bin")

# fs ARGS...: runs the tool; sets rc/out/err and appends everything to all.log.
fs() {
  run "$TOOL" "$@"
  { echo "$out"; echo "$err"; } >>"$T/all.log"
}
fs_ok() { # ARGS...: must succeed
  fs "$@"
  [ "$rc" -eq 0 ] || fail "filestore_tool $* failed (rc=$rc): $err"
}
fs_fails() { # CODE ARGS...: must fail with REPLAY_<CODE> (e.g. EAUTH)
  local code=$1
  shift
  fs "$@"
  [ "$rc" -eq 1 ] || fail "filestore_tool $* should fail with $code, rc=$rc out=$out err=$err"
  assert_contains "$err" "error REPLAY_$code" "error of $*"
}
with_opt() { # URL k=v: appends a query option
  case "$1" in *\?*) echo "$1&$2" ;; *) echo "$1?$2" ;; esac
}
pct() { # percent-encodes a value for a URL query
  local s=$1 i c o=""
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case "$c" in [a-zA-Z0-9._~-]) o+=$c ;; *) o+=$(printf '%%%02X' "'$c") ;; esac
  done
  echo "$o"
}
# put_object NAME FILE: stores FILE under NAME (upload, or a copy for http).
put_object() {
  if [ "$WRITABLE" = yes ]; then
    fs_ok "${BIG_OPTS[@]}" "$URL" upload "$2" "$1"
    assert_eq uploaded "$out" "upload of $1"
  else
    mkdir -p "$(dirname "$HTTP_BASE/$1")"
    cp "$2" "$HTTP_BASE/$1"
  fi
}

# ---- the table -----------------------------------------------------------------

setup_file() {
  mkdir -p "$T/store"
  SECRET="fileSecret$RANDOM$RANDOM"
  URL="file://$T/store/bundles?access_key=$SECRET"
  BAD_URLS=()
  DOWN_URL="file:///dev/null/store"
  DOWN_CODE=EIO
  RACE=one # renameat2(RENAME_NOREPLACE)
  SERVER=""
  RAW_DIR="$T/store/bundles"
  BIG_OPTS=()
  WRITABLE=yes
}

setup_ftp() {
  start_vsftpd
  SECRET=$FTP_PASS
  URL="ftp://$FTP_USER:$FTP_PASS@127.0.0.1:$FTP_PORT/bundles"
  BAD_URLS=("ftp://$FTP_USER:wrongPassword1@127.0.0.1:$FTP_PORT/bundles")
  DOWN_URL="ftp://$FTP_USER:$FTP_PASS@127.0.0.1:$(free_port)/bundles"
  DOWN_CODE=ECONN
  SERVER=vsftpd
  RACE=both # RNTO replaces on vsftpd: the last rename wins, whole
  RAW_DIR="$FTP_ROOT/bundles"
  BIG_OPTS=()
  WRITABLE=yes
}

setup_ftps() {
  start_vsftpd --tls
  SECRET=$FTP_PASS
  URL="ftps://$FTP_USER:$FTP_PASS@127.0.0.1:$FTP_PORT/bundles?verify=false"
  BAD_URLS=("ftps://$FTP_USER:wrongPassword1@127.0.0.1:$FTP_PORT/bundles?verify=false"
            "ftps://$FTP_USER:$FTP_PASS@127.0.0.1:$FTP_PORT/bundles")
  DOWN_URL="ftps://$FTP_USER:$FTP_PASS@127.0.0.1:$(free_port)/bundles?verify=false"
  DOWN_CODE=ECONN
  SERVER=vsftpd
  RACE=both
  RAW_DIR="$FTP_ROOT/bundles"
  BIG_OPTS=()
  WRITABLE=yes
}

setup_sftp() {
  start_sshd
  SECRET=$SSH_PASS
  URL="sftp://$SSH_USER:$SSH_PASS@127.0.0.1:$SSH_PORT/"
  ssh-keygen -q -t ed25519 -N '' -f "$T/stranger_key" >/dev/null
  BAD_URLS=("sftp://$SSH_USER:wrongPassword1@127.0.0.1:$SSH_PORT/"
            "sftp://$SSH_USER@127.0.0.1:$SSH_PORT/?private_key=$T/stranger_key")
  DOWN_URL="sftp://$SSH_USER:$SSH_PASS@127.0.0.1:$(free_port)/"
  DOWN_CODE=ECONN
  SERVER=sshd
  RACE=one # OpenSSH's rename refuses an existing target
  RAW_DIR="$SSH_HOME"
  BIG_OPTS=()
  WRITABLE=yes
}

setup_s3() {
  start_s3rver
  SECRET="s3Secret$RANDOM$RANDOM"
  # s3rver checks the access key id but not SigV4 signatures: the secret is ours.
  URL="s3://$S3_ACCESS:$SECRET@127.0.0.1:$S3_PORT/?s3_bucket=$S3_BUCKET&use_ssl=false"
  BAD_URLS=("s3://WRONGKEY:$SECRET@127.0.0.1:$S3_PORT/?s3_bucket=$S3_BUCKET&use_ssl=false")
  DOWN_URL="s3://$S3_ACCESS:$SECRET@127.0.0.1:$(free_port)/?s3_bucket=$S3_BUCKET&use_ssl=false"
  DOWN_CODE=ECONN
  SERVER=s3rver
  RAW_DIR="$S3_DIR/data/$S3_BUCKET"
  # 100 MiB as a multipart upload (the default is one PUT up to 5 GiB): s3rver
  # writes a PUT in place, so a crash mid-PUT leaves a partial object on it,
  # unlike S3 and MinIO; a multipart upload stays invisible until completed there.
  BIG_OPTS=(--multipart-threshold $((32 << 20)) --part-size $((16 << 20)))
  # Not checked: s3rver ignores If-None-Match (S3 answers 412) and writes objects
  # in place, so two concurrent PUTs of one key interleave on it; S3 does not.
  RACE=skip
  WRITABLE=yes
}

setup_azure() {
  start_azurite
  SECRET=$AZ_KEY
  URL="azure://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT/replay/bundles?use_ssl=false&access_key=$(pct "$AZ_KEY")"
  local wrong
  wrong=$(head -c 64 /dev/urandom | base64 -w0)
  BAD_URLS=("azure://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT/replay/bundles?use_ssl=false&access_key=$(pct "$wrong")")
  DOWN_URL="azure://127.0.0.1:$(free_port)/$AZ_ACCOUNT/replay/bundles?use_ssl=false&access_key=$(pct "$AZ_KEY")"
  DOWN_CODE=ECONN
  SERVER=azurite
  RACE=one # If-None-Match: * on Put Blob
  RAW_DIR=""
  BIG_OPTS=() # the default: one Put Blob (block uploads: extra_azure)
  WRITABLE=yes
}

setup_http() {
  HTTP_ROOT="$T/www"
  HTTP_BASE="$HTTP_ROOT/files"
  mkdir -p "$HTTP_BASE"
  SECRET="httpSecret$RANDOM$RANDOM"
  start_httpd "$HTTP_ROOT" "reader:$SECRET"
  URL="http://reader:$SECRET@127.0.0.1:$HTTPD_PORT/files"
  BAD_URLS=("http://reader:wrongPassword1@127.0.0.1:$HTTPD_PORT/files")
  DOWN_URL="http://reader:$SECRET@127.0.0.1:$(free_port)/files"
  DOWN_CODE=ECONN
  SERVER=httpd
  RACE=one
  RAW_DIR=""
  BIG_OPTS=()
  WRITABLE=no
}

# ---- the common steps ----------------------------------------------------------------

step_small_round_trip() {
  note "$SCHEME: names with spaces and unicode, exists, download"
  local i=0 n
  for n in "${NAMES[@]}"; do
    head -c $((65536 + i)) /dev/urandom >"$T/small$i"
    put_object "$n" "$T/small$i"
    fs_ok "$URL" exists "$n"
    assert_eq yes "$out" "exists '$n'"
    fs_ok "$URL" download "$n" "$T/back/small$i"
    cmp -s "$T/small$i" "$T/back/small$i" || fail "download of '$n' differs"
    i=$((i + 1))
  done
  fs_ok "$URL" exists "missing.bin"
  assert_eq no "$out" "exists of a missing name"
  fs_fails ENOTFOUND "$URL" download "missing.bin" "$T/back/missing"
  [ ! -e "$T/back/missing" ] || fail "a failed download left a local file"
}

step_list() {
  [ "$WRITABLE" = yes ] || { fs_fails EUNSUPPORTED "$URL" list; return 0; }
  note "$SCHEME: list"
  fs_ok "$URL" list
  local n
  for n in "${NAMES[@]}"; do
    grep -qxF -- "$n" <<<"$out" || fail "list lacks '$n': $out"
  done
  assert_not_contains "$out" ".replay-tmp-" "list"
}

step_no_overwrite() {
  [ "$WRITABLE" = yes ] || { fs_fails EUNSUPPORTED "$URL" upload "$T/small1" "new.bin"; return 0; }
  note "$SCHEME: upload of an existing name is a no-op"
  head -c 1000 /dev/urandom >"$T/other"
  fs_ok "$URL" upload "$T/other" "${NAMES[0]}"
  assert_eq skipped-exists "$out" "second upload"
  fs_ok "$URL" download "${NAMES[0]}" "$T/back/again"
  cmp -s "$T/small0" "$T/back/again" || fail "the existing object was replaced"
}

step_read_only() {
  [ "$WRITABLE" = yes ] || return 0
  note "$SCHEME: read_only=true skips uploads and deletes"
  local ro
  ro=$(with_opt "$URL" read_only=true)
  fs_ok "$ro" upload "$T/other" "ro.bin"
  assert_eq skipped-read-only "$out" "read-only upload"
  fs_ok "$ro" delete "${NAMES[0]}"
  fs_ok "$URL" exists "${NAMES[0]}"
  assert_eq yes "$out" "exists after a read-only delete"
  fs_ok "$URL" exists "ro.bin"
  assert_eq no "$out" "read-only upload wrote something"
}

step_delete() {
  [ "$WRITABLE" = yes ] || { fs_fails EUNSUPPORTED "$URL" delete "${NAMES[1]}"; return 0; }
  note "$SCHEME: delete, and delete of a missing name"
  fs_ok "$URL" delete "${NAMES[1]}"
  fs_ok "$URL" exists "${NAMES[1]}"
  assert_eq no "$out" "exists after delete"
  fs_ok "$URL" delete "${NAMES[1]}"
  fs_ok "$URL" list
  grep -qxF -- "${NAMES[1]}" <<<"$out" && fail "deleted name still listed"
  return 0
}

step_big_round_trip() {
  note "$SCHEME: ${BIG_MIB} MiB round trip"
  head -c $((BIG_MIB << 20)) /dev/urandom >"$T/big"
  put_object "big.bin" "$T/big"
  fs_ok "${BIG_OPTS[@]}" "$URL" download "big.bin" "$T/back/big"
  cmp -s "$T/big" "$T/back/big" || fail "${BIG_MIB} MiB download differs"
  rm -f "$T/back/big"
}

step_bad_credentials() {
  local u
  for u in "${BAD_URLS[@]}"; do
    note "$SCHEME: refused login $(printf %s "$u" | sed 's/:[^:@/]*@/:***@/')"
    fs_fails EAUTH "$u" exists "${NAMES[0]}"
  done
}

step_server_down() {
  note "$SCHEME: server down"
  local t0=$SECONDS
  fs_fails "$DOWN_CODE" --connect-timeout 3000 --attempts 2 "$DOWN_URL" upload "$T/small0" "x.bin"
  [ $((SECONDS - t0)) -lt 30 ] || fail "server-down failure took $((SECONDS - t0)) s"
}

# moved PID: bytes the process has read and written through the kernel (the
# local file of an upload or a download; copy_file_range counts too).
moved() { awk '/^[rw]char:/ {n += $2} END {print n + 0}' "/proc/$1/io" 2>/dev/null || echo 0; }
# under_way PID: a sixth of the big file has moved, so the transfer is in full
# swing (or the process is gone: the caller says so).
under_way() { ! pid_alive "$1" || [ "$(moved "$1")" -ge $(((BIG_MIB << 20) / 6)) ]; }

# kill_under_way PID OUT: once the transfer PID (its output in OUT) is under way
# (observed in /proc, not guessed with a sleep), kills the server, or PID itself
# for file://; the transfer must then fail.
kill_under_way() {
  local pid=$1 victim
  wait_until 120 under_way "$pid" || fail "the transfer did not get under way: $(cat "$2")"
  pid_alive "$pid" || fail "the transfer ended before the kill: $(cat "$2")"
  if [ -n "$SERVER" ]; then
    server_kill "$SERVER"
  else
    kill -KILL "$pid"
  fi
  set +e
  wait "$pid"
  victim=$?
  set -e
  cat "$2" >>"$T/all.log"
  [ "$victim" -ne 0 ] || fail "the transfer succeeded although it was killed: $(cat "$2")"
}

# Starts a throttled transfer in the background and kills the other side once
# it is under way.
step_killed_mid_transfer() {
  if [ "$WRITABLE" = yes ]; then
    note "$SCHEME: ${SERVER:-client} killed mid-upload"
    "$TOOL" "${BIG_OPTS[@]}" --max-send-speed $((20 << 20)) "$URL" upload "$T/big" "killed.bin" \
      >"$T/killed.out" 2>&1 &
  else
    note "$SCHEME: server killed mid-download"
    "$TOOL" --max-recv-speed $((20 << 20)) "$URL" download "big.bin" "$T/back/killed" \
      >"$T/killed.out" 2>&1 &
  fi
  kill_under_way $! "$T/killed.out"
  [ -z "$SERVER" ] || server_restart "$SERVER"
  if [ "$WRITABLE" = yes ]; then
    fs_ok "$URL" exists "killed.bin"
    assert_eq no "$out" "object visible after a killed upload"
    fs_ok "$URL" list
    assert_not_contains "$out" "killed.bin" "list after a killed upload"
    fs_ok "${BIG_OPTS[@]}" "$URL" upload "$T/big" "killed.bin"
    assert_eq uploaded "$out" "retry after a killed upload"
    fs_ok "$URL" download "killed.bin" "$T/back/killed"
  else
    [ ! -e "$T/back/killed" ] || fail "a killed download left a local file"
    fs_ok "$URL" download "big.bin" "$T/back/killed"
  fi
  cmp -s "$T/big" "$T/back/killed" || fail "transfer after the retry differs"
  rm -f "$T/back/killed"
}

# Two uploads of the same name at once: the object is one of them, whole. Where
# the backend can refuse a replacement at commit (RACE=one) exactly one wins.
step_concurrent_upload() {
  [ "$WRITABLE" = yes ] && [ "$RACE" != skip ] || return 0
  note "$SCHEME: two concurrent uploads of one name (expect: $RACE)"
  head -c $((6 << 20)) /dev/urandom >"$T/race1"
  head -c $((6 << 20)) /dev/urandom >"$T/race2"
  local p1 p2 r1 r2
  "$TOOL" --max-send-speed $((4 << 20)) "$URL" upload "$T/race1" race.bin >"$T/race1.out" 2>&1 &
  p1=$!
  "$TOOL" --max-send-speed $((4 << 20)) "$URL" upload "$T/race2" race.bin >"$T/race2.out" 2>&1 &
  p2=$!
  wait "$p1" || fail "first concurrent upload failed: $(cat "$T/race1.out")"
  wait "$p2" || fail "second concurrent upload failed: $(cat "$T/race2.out")"
  cat "$T/race1.out" "$T/race2.out" >>"$T/all.log"
  r1=$(tail -1 "$T/race1.out")
  r2=$(tail -1 "$T/race2.out")
  fs_ok "$URL" download race.bin "$T/back/race"
  if cmp -s "$T/back/race" "$T/race1"; then
    [ "$RACE" = both ] || assert_eq "uploaded skipped-exists" "$r1 $r2" "race outcomes"
  elif cmp -s "$T/back/race" "$T/race2"; then
    [ "$RACE" = both ] || assert_eq "skipped-exists uploaded" "$r1 $r2" "race outcomes"
  else
    fail "after two concurrent uploads the object is neither of them"
  fi
}

step_cancel() {
  [ "$WRITABLE" = yes ] || return 0
  note "$SCHEME: cancellation stops an upload and leaves nothing"
  fs_fails ECANCELED "${BIG_OPTS[@]}" --max-send-speed $((10 << 20)) --cancel-after 700 \
    "$URL" upload "$T/big" "canceled.bin"
  fs_ok "$URL" exists "canceled.bin"
  assert_eq no "$out" "object visible after a canceled upload"
}

step_secret_masked() {
  note "$SCHEME: a URL with a secret is masked in log lines and errors"
  fs_ok --log-url "$URL" exists "${NAMES[0]}"
  assert_contains "$err" "***" "log of the URL"
  assert_not_contains "$err" "$SECRET" "log of the URL"
  if grep -qF -- "$SECRET" "$T/all.log"; then
    fail "the secret appeared in the tool's output: $(grep -nF -- "$SECRET" "$T/all.log" | head -3)"
  fi
}

# ---- streamed uploads (replay_filestore_upload_stream) ------------------------------------

# raw_names: every name the server keeps for the store, hidden temporaries too.
raw_names() {
  if [ -n "$RAW_DIR" ]; then
    find "$RAW_DIR" -mindepth 1 -printf '%P\n' 2>/dev/null || true
  else
    fs_ok "$URL" list
    echo "$out"
  fi
}

# gone NAME WHAT: NAME is not visible, and the server keeps no file for it.
gone() {
  fs_ok "$URL" exists "$1"
  assert_eq no "$out" "exists after $2"
  fs_ok "$URL" list
  grep -qF -- "$1" <<<"$out" && fail "$1 listed after $2"
  local raw
  raw=$(raw_names)
  grep -qF -- "$1" <<<"$raw" && fail "$2 left $(grep -F -- "$1" <<<"$raw" | head -1)"
  return 0
}

# produced: the bytes the producer wrote in the last run (its stderr line).
produced() { sed -n 's/^producer calls [0-9]* bytes \([0-9]*\) .*/\1/p' <<<"$err" | tail -1; }

step_stream() {
  if [ "$WRITABLE" != yes ]; then
    note "$SCHEME: a streamed upload is refused before anything is produced"
    fs_fails EUNSUPPORTED "$URL" stream-upload gen:1000 stream.bin
    assert_contains "$err" "producer calls 0" "refused stream"
    return 0
  fi
  local seekable=no
  [ "$SCHEME" = file ] && seekable=yes
  note "$SCHEME: a ${STREAM_MIB} MiB stream from a pipe arrives whole"
  head -c $((STREAM_MIB << 20)) "$T/big" >"$T/stream"
  fs_ok "$URL" stream-upload - stream.bin < <(cat "$T/stream")
  assert_eq uploaded "$out" "streamed upload"
  assert_contains "$err" "producer calls 1 bytes $((STREAM_MIB << 20)) seekable $seekable"
  fs_ok "$URL" download stream.bin "$T/back/stream"
  cmp -s "$T/stream" "$T/back/stream" || fail "the streamed object differs"
  note "$SCHEME: a stream shorter than one part"
  "$TOOL" generate 1000 >"$T/gen1000"
  fs_ok "$URL" stream-upload gen:1000 "${NAMES[2]}.stream"
  fs_ok "$URL" download "${NAMES[2]}.stream" "$T/back/gen1000"
  cmp -s "$T/gen1000" "$T/back/gen1000" || fail "the short streamed object differs"
  note "$SCHEME: a stream to an existing name, or to a read-only store, is not produced"
  fs_ok "$URL" stream-upload gen:1000 stream.bin
  assert_eq skipped-exists "$out" "stream over an existing name"
  assert_contains "$err" "producer calls 0" "stream over an existing name"
  fs_ok "$URL" download stream.bin "$T/back/stream"
  cmp -s "$T/stream" "$T/back/stream" || fail "a stream replaced an existing object"
  fs_ok "$(with_opt "$URL" read_only=true)" stream-upload gen:1000 ro-stream.bin
  assert_eq skipped-read-only "$out" "read-only stream"
  assert_contains "$err" "producer calls 0" "read-only stream"
  rm -f "$T/back/stream"
}

step_stream_failures() {
  [ "$WRITABLE" = yes ] || return 0
  local at
  # within the first part (S3: one PUT, Azure: one Put Blob), and after two parts
  for at in 1 $((20 << 20)); do
    note "$SCHEME: a producer failing after $at bytes leaves nothing and no temporary"
    fs_fails EIO --fail-after "$at" "$URL" stream-upload gen:$((STREAM_MIB << 20)) failed.stream
    assert_contains "$err" "the producer failed: failing on purpose" "failed producer"
    # s3rver has no AbortMultipartUpload (405, logged); S3 and MinIO drop the parts
    [ "$SCHEME" != s3 ] || [ "$at" -eq 1 ] ||
      assert_contains "$err" "DELETE /$S3_BUCKET/failed.stream?uploadId=" "the abort"
    gone failed.stream "a failed producer"
  done
  note "$SCHEME: no descriptor or thread is left by a loop of failed streams"
  fs_fails EIO --repeat 6 --fail-after $((10 << 20)) "$URL" stream-upload gen:$((20 << 20)) \
    loop.stream
  local fds threads
  fds=$(grep '^fds ' <<<"$err" || true)
  threads=$(grep '^threads ' <<<"$err" || true)
  [ -n "$fds" ] && [ "$(cut -d' ' -f2 <<<"$fds")" = "$(cut -d' ' -f3 <<<"$fds")" ] ||
    fail "descriptors after the first and the last failure: '$fds'"
  [ "$threads" = "threads 1 1" ] || fail "threads after the first and the last failure: '$threads'"
  gone loop.stream "failed streams"
}

step_stream_cancel() {
  [ "$WRITABLE" = yes ] || return 0
  note "$SCHEME: cancellation stops a stream, its upload and its producer"
  local t0=$SECONDS total=$((BIG_MIB << 20))
  fs_fails ECANCELED --source-rate $((10 << 20)) --cancel-after 700 "$URL" \
    stream-upload "gen:$total" canceled.stream
  [ $((SECONDS - t0)) -lt 60 ] || fail "a canceled stream took $((SECONDS - t0)) s"
  # the producer does not look at the token: the upload side stopped it (EPIPE);
  # file:// has no upload side, its producer wrote on and nothing was committed
  [ "$SCHEME" = file ] || [ "$(produced)" -lt "$total" ] ||
    fail "the producer of a canceled stream wrote everything: $err"
  gone canceled.stream "a canceled stream"
}

step_stream_killed() {
  [ "$WRITABLE" = yes ] || return 0
  note "$SCHEME: ${SERVER:-the client} killed mid-stream"
  cat "$T/big" | "$TOOL" --source-rate $((20 << 20)) "$URL" stream-upload - killed.stream \
    >"$T/killed-stream.out" 2>&1 &
  kill_under_way $! "$T/killed-stream.out"
  # the upload failed first: its error is reported, not the producer's EPIPE
  assert_not_contains "$(cat "$T/killed-stream.out")" "the producer failed" "killed stream"
  [ -z "$SERVER" ] || server_restart "$SERVER"
  fs_ok "$URL" exists killed.stream
  assert_eq no "$out" "object visible after a killed stream"
  fs_ok "$URL" list
  assert_not_contains "$out" "killed.stream" "list after a killed stream"
  fs_ok "$URL" stream-upload - killed.stream < <(cat "$T/big")
  assert_eq uploaded "$out" "stream again after a kill"
  fs_ok "$URL" download killed.stream "$T/back/killed-stream"
  cmp -s "$T/big" "$T/back/killed-stream" || fail "the stream after the kill differs"
  rm -f "$T/back/killed-stream"
}

# The slow test: a large stream, generated (no source file), up and back.
step_stream_big() {
  local mib=${FILESTORE_STREAM_BIG_MIB:-400}
  note "$SCHEME: a ${mib} MiB stream arrives whole"
  "$TOOL" generate $((mib << 20)) | "$TOOL" --rss "$URL" stream-upload - big.stream \
    >"$T/big-stream.out" 2>&1 || fail "the big stream failed: $(cat "$T/big-stream.out")"
  cat "$T/big-stream.out" >>"$T/all.log"
  assert_contains "$(cat "$T/big-stream.out")" "bytes $((mib << 20)) " "the big stream"
  fs_ok "$URL" download big.stream "$T/back/big-stream"
  cmp -s <("$TOOL" generate $((mib << 20))) "$T/back/big-stream" ||
    fail "the ${mib} MiB stream differs"
  note "$SCHEME: $(grep peak_rss "$T/big-stream.out")"
}

# ---- scheme-only checks ------------------------------------------------------------------

extra_file() {
  note "file: a 64-character name is sharded as upstream does"
  local sha
  sha=$(sha256sum "$T/small0" | cut -c1-64)
  fs_ok "$URL" upload "$T/small0" "$sha"
  [ -f "$T/store/bundles/${sha:0:1}/${sha:1:1}/${sha:2:1}/${sha:3:1}/$sha" ] ||
    fail "64-character name not stored under its shard"
  note "file: the killed upload left only a hidden temporary"
  ls -A "$T/store/bundles" | grep -q '^\.killed\.bin\.replay-tmp-[A-Za-z0-9]\{12\}$' ||
    fail "no temporary left by the killed upload: $(ls -A "$T/store/bundles")"
}

extra_sftp() {
  note "sftp: key login, absolute base, key with passphrase"
  local base="$SSH_HOME/keyed"
  local k="sftp://$SSH_USER@127.0.0.1:$SSH_PORT$base?private_key=$SSH_KEY"
  fs_ok "$k" upload "$T/small0" "${NAMES[2]}"
  [ -f "$base/${NAMES[2]}" ] || fail "key login upload not under $base"
  local kp="sftp://$SSH_USER@127.0.0.1:$SSH_PORT$base?private_key=$SSH_KEY_PASS_FILE&private_key_pass=$(pct "$SSH_KEY_PASS")"
  fs_ok "$kp" download "${NAMES[2]}" "$T/back/keyed"
  cmp -s "$T/small0" "$T/back/keyed" || fail "download with the passphrase key differs"
  fs_fails EAUTH "sftp://$SSH_USER@127.0.0.1:$SSH_PORT$base?private_key=$SSH_KEY_PASS_FILE&private_key_pass=wrongPass1" \
    exists "${NAMES[2]}"
  note "sftp: validate_host=true checks ~/.ssh/known_hosts"
  mkdir -p "$T/home/.ssh"
  echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$SSH_HOST_PUB")" >"$T/home/.ssh/known_hosts"
  HOME="$T/home" fs_ok "$(with_opt "$URL" validate_host=true)" exists "${NAMES[0]}"
  ssh-keygen -q -t ed25519 -N '' -f "$T/other_host" >/dev/null
  echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$T/other_host.pub")" >"$T/home/.ssh/known_hosts"
  HOME="$T/home" fs_fails EAUTH "$(with_opt "$URL" validate_host=true)" exists "${NAMES[0]}"
}

extra_s3() {
  note "s3: a single PUT of 40 MiB; an upload above the threshold skips an existing name"
  head -c $((40 << 20)) /dev/urandom >"$T/mid"
  fs_ok "$URL" upload "$T/mid" "single.bin"
  fs_ok "$URL" download "single.bin" "$T/back/single"
  cmp -s "$T/mid" "$T/back/single" || fail "single PUT differs"
  fs_ok --multipart-threshold $((8 << 20)) --part-size $((5 << 20)) "$URL" upload "$T/mid" \
    "${NAMES[0]}"
  assert_eq skipped-exists "$out" "multipart upload over an existing name"
  note "s3: a missing bucket is created at open; keys are base names"
  local u="s3://$S3_ACCESS:$SECRET@127.0.0.1:$S3_PORT/ignored/path?s3_bucket=fresh-bucket&use_ssl=false"
  fs_ok "$u" upload "$T/small0" "dir/sub/key.bin"
  [ -f "$S3_DIR/data/fresh-bucket/key.bin._S3rver_object" ] || fail "key not the base name"
  fs_ok "$u" exists "key.bin"
  assert_eq yes "$out" "base-name key"
}

# Service SAS for the container (sr=c), signed with the account key.
azure_sas() {
  local se=2099-01-01T00:00:00Z sv=2018-11-09 sp=racwdl key_hex sig
  key_hex=$(printf %s "$AZ_KEY" | base64 -d | od -An -tx1 -v | tr -d ' \n')
  # Fields: sp st se resource si sip spr sv sr snapshot rscc rscd rsce rscl rsct
  # (the trailing empty ones count: no command substitution around it).
  sig=$(printf '%s\n\n%s\n/blob/%s/replay\n\n\n\n%s\nc\n\n\n\n\n\n' "$sp" "$se" "$AZ_ACCOUNT" "$sv" |
        openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key_hex" -binary | base64 -w0)
  echo "sv=$sv&sr=c&sp=$sp&se=$se&sig=$(pct "$sig")"
}

extra_azure() {
  note "azure: block upload (Put Block + Put Block List), and no replacement by it"
  local blocks=(--multipart-threshold $((32 << 20)) --part-size $((16 << 20)))
  fs_ok "${blocks[@]}" "$URL" upload "$T/big" "blocks.bin"
  assert_eq uploaded "$out" "block upload"
  fs_ok "$URL" download "blocks.bin" "$T/back/blocks"
  cmp -s "$T/big" "$T/back/blocks" || fail "block upload differs"
  rm -f "$T/back/blocks"
  # (azurite may lose recent writes when killed: store the name again first)
  fs_ok "$URL" upload "$T/small0" "taken.bin"
  fs_ok "${blocks[@]}" "$URL" upload "$T/big" "taken.bin"
  assert_eq skipped-exists "$out" "block upload over an existing name"
  note "azure: SAS token"
  local sas
  sas=$(azure_sas)
  local u="azure://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT/replay/sas?use_ssl=false&sas_token=$(pct "$sas")"
  fs_ok "$u" upload "$T/small0" "${NAMES[2]}"
  assert_eq uploaded "$out" "upload with a SAS token"
  fs_ok "$u" list
  assert_contains "$out" "${NAMES[2]}" "list with a SAS token"
  fs_ok "$u" download "${NAMES[2]}" "$T/back/sas"
  cmp -s "$T/small0" "$T/back/sas" || fail "download with a SAS token differs"
  local sig=${sas##*sig=}
  grep -qF -- "$sig" "$T/all.log" && fail "the SAS signature appeared in the output"
  note "azure: allow_directory_access keeps the relative name"
  fs_ok "$(with_opt "$URL" allow_directory_access=true)" upload "$T/small0" "deep/dir/x.bin"
  fs_ok "$URL" exists "x.bin"
  assert_eq no "$out" "blob stored flat although allow_directory_access=true"
}

extra_http() {
  note "http: redirects are followed, missing names are not found"
  fs_ok "http://reader:$SECRET@127.0.0.1:$HTTPD_PORT/redirect/files" download "${NAMES[0]}" \
    "$T/back/redirected"
  cmp -s "$T/small0" "$T/back/redirected" || fail "download through a redirect differs"
}

# ---- run -------------------------------------------------------------------------------------

mkdir -p "$T/back"
: >"$T/all.log"
"setup_$SCHEME"
if [ "${FILESTORE_ONLY:-}" = stream_big ]; then
  step_stream_big
  step_secret_masked
  exit 0
fi
step_small_round_trip
step_list
step_no_overwrite
step_read_only
step_delete
step_big_round_trip
step_bad_credentials
step_server_down
step_killed_mid_transfer
step_concurrent_upload
step_cancel
step_stream
step_stream_failures
step_stream_cancel
step_stream_killed
if declare -F "extra_$SCHEME" >/dev/null; then
  "extra_$SCHEME"
fi
step_secret_masked
note "$SCHEME: all filestore checks passed"
