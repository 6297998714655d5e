#!/usr/bin/env bash
# The hostile-input corpus (tests/hostile/, issue 14): every case of cases.tsv
# goes through the entry point that reads it in production, and ends as its row
# says. Around every case: the services still run (or exited 2 for a bad
# configuration), nothing is written outside their directories, no secret and no
# control character reaches an output, and a good bundle sent after the hostile
# ones is still imported. The services run once for the whole corpus.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alsim.sh"
. "$(dirname "$0")/loader_lib.sh"
H=$REPLAY_SOURCE_DIR/tests/hostile
PY=/usr/bin/python3
[ -x "$PY" ] || fail "/usr/bin/python3 is needed (Debian's python3)"
CTL=$(bin replay-ctl)
WORKER=$(bin replay-loader-worker)
CFG_SECRET=Hostile-Secret-7       # in the config cases (make.py)
TGT_SECRET=Hostile-Target-Secret9 # the target's API key, in the services' config

# The services' directories live in $R; $R/outside holds canaries no case may touch.
R=$T/root
LOADER_IN=$R/in LOADER_FAILED=$R/failed LOADER_WORK=$R/work
IN=$LOADER_IN
mkdir -p "$R/outside"
echo "canary: not a bundle" >"$R/outside/canary.txt"
(cd "$R/outside" && sha256sum canary.txt >"$T/canary.sum")
"$PY" "$H/make.py" big "$T/big"

start_redis
start_alsim --name target --mode upstream --user "admin:tkey:$TGT_SECRET"
make_bundles 1
good=$(ls "$T/bundles")
loader_config
start_svc loader
start_svc loader-worker

# ---- outcomes ----
mismatches=0
mismatch() { echo "MISMATCH $1: $2" >&2; mismatches=$((mismatches + 1)); }
# expect_text CASE TEXT NEEDLE: TEXT holds NEEDLE, no secret, no control character
# but newline and tab, and is valid UTF-8.
expect_text() {
  case "$2" in *"$3"*) ;; *) mismatch "$1" "expected \"$3\" in: ${2:0:400}"; return ;; esac
  case "$2" in *"$CFG_SECRET"* | *"$TGT_SECRET"*) mismatch "$1" "a secret in: ${2:0:400}" ;; esac
  if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' <<<"$2"; then
    mismatch "$1" "a control character in: $(cat -v <<<"${2:0:400}")"
  fi
  iconv -f UTF-8 -t UTF-8 <<<"$2" >/dev/null 2>&1 || mismatch "$1" "invalid UTF-8 in: $(cat -v <<<"${2:0:400}")"
}
expect_exit() { # CASE WANT: $rc and $err of the last `run`
  [ "$rc" = "$2" ] || mismatch "$1" "exit $rc, expected $2 ($(cat -v <<<"${err:0:300}"))"
}
input() { # INPUT: the path of a committed (kind/file) or generated (big:kind/file) case
  case "$1" in big:*) echo "$T/big/${1#big:}" ;; *) echo "$H/$1" ;; esac
}
alive() { # CASE
  svc_alive loader || fail "the loader died at case $1: $(tail -5 "$T/loader.log")"
  svc_alive loader-worker || fail "the worker died at case $1: $(tail -5 "$T/loader-worker.log")"
}
mapfile -t rows < <(grep -v '^#' "$H/cases.tsv" | grep -v '^$')
rows_of() { local r; for r in "${rows[@]}"; do [ "$(cut -f2 <<<"$r")" != "$1" ] || echo "$r"; done; }
count=0

note "config: the worker exits 2 with a clear message"
while IFS=$'\t' read -r name kind in exp detail; do
  run timeout 60 "$WORKER" --config "$(input "$in")" --log-format text
  expect_exit "$name" "${exp#exit }"
  expect_text "$name" "$err" "$detail"
  count=$((count + 1))
done < <(rows_of config)

note "cart: replay-ctl cart verify exits 1 with the reason"
while IFS=$'\t' read -r name kind in exp detail; do
  run timeout 120 "$CTL" cart verify "$(input "$in")"
  expect_exit "$name" "${exp#exit }"
  expect_text "$name" "$err" "$detail"
  count=$((count + 1))
done < <(rows_of cart)

note "http: replay-ctl request against a server answering the case's body"
args=()
while IFS=$'\t' read -r name kind in exp detail; do args+=(--body "$(input "$in")"); done < <(rows_of http)
"$(bin badhttp)" --port-file "$T/bad.port" --log "$T/bad.log" --log-body-max 0 "${args[@]}" ok \
  >/dev/null 2>"$T/bad.err" &
on_exit "kill -KILL $!"
wait_for 30 "badhttp listening" test -s "$T/bad.port"
printf 'creator:\n  client:\n    type: api\n    options: {host: "http://127.0.0.1:%s", user: admin, apikey: "tkey:%s"}\n' \
  "$(cat "$T/bad.port")" "$TGT_SECRET" >"$T/ctl.yml"
while IFS=$'\t' read -r name kind in exp detail; do
  run env REPLAY_AL_CONFIG_PATH="$T/none.yml" timeout 120 "$CTL" --config "$T/ctl.yml" \
    request submission 0123456789abcdefABCDEF
  expect_exit "$name" "${exp#exit }"
  expect_text "$name" "$err" "$detail"
  count=$((count + 1))
done < <(rows_of http)

note "queue: messages for the worker end in replay_file:bad with the reason"
n=$(queue_len replay_file:bad)
while IFS=$'\t' read -r name kind in exp detail; do
  sed "s|@IN@|$IN|g" "$(input "$in")" | redis-cli -p "$REDIS_PORT" -x rpush replay_file >/dev/null
  n=$((n + 1))
  if wait_until 60 bash -c "[ \$(redis-cli -p $REDIS_PORT llen replay_file:bad) -ge $n ]"; then
    expect_text "$name" "$(redis-cli -p "$REDIS_PORT" --no-raw lindex replay_file:bad -1 | head -c 2000)" "$detail"
  else
    mismatch "$name" "not in replay_file:bad after 60 s"
    n=$(queue_len replay_file:bad)
  fi
  alive "$name"
  count=$((count + 1))
done < <(rows_of queue)

note "bundle, batch: files in the input directory end in the failed directory with the reason"
while IFS=$'\t' read -r name kind in exp detail; do
  cp "$(input "$in")" "$T/stage.tmp"
  mv "$T/stage.tmp" "$IN/$(basename "$in")"
done < <(rows_of bundle; rows_of batch)
# failed_record NAME: the .error.json of the failed file whose original path is
# $IN/NAME (NAME.error.json, or found by its content: a long name gets a shortened
# record name).
failed_record() {
  local f=$LOADER_FAILED/$1.error.json
  [ ! -f "$f" ] || { echo "$f"; return 0; }
  [ ! -e "$IN/$1" ] || return 1
  for f in "$LOADER_FAILED"/*.error.json; do
    [ "$(jq -r .original_path "$f" 2>/dev/null)" = "$IN/$1" ] && { echo "$f"; return 0; }
  done
  return 1
}
expect_failed() { # CASE NAME NEEDLE
  local rec
  if wait_until 120 failed_record "$2" >/dev/null; then
    rec=$(failed_record "$2")
    [ -f "$LOADER_FAILED/$(jq -r .file "$rec")" ] || mismatch "$1" "the file itself is not in the failed directory"
    expect_text "$1" "$(jq -r .reason "$rec")" "$3"
    [ ! -e "$IN/$2" ] || mismatch "$1" "still in the input directory"
  else
    mismatch "$1" "not in the failed directory after 120 s"
  fi
}
while IFS=$'\t' read -r name kind in exp detail; do
  expect_failed "$name" "$(basename "$in")" "$detail"
  count=$((count + 1))
done < <(rows_of bundle; rows_of batch)
alive "bundle and batch cases"

note "dirent: directory entries the loader must not queue, or the worker fails"
recipe() { # NAME: makes the entry in $IN, prints its name there
  case "$1" in
  char_device) mknod "$IN/null.al_bundle" c 1 3 && echo null.al_bundle ;;
  socket) "$PY" -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$IN/sock.al_bundle" &&
    echo sock.al_bundle ;;
  fifo_in_subdirectory) mkdir -p "$IN/sub" && mkfifo "$IN/sub/fifo.al_bundle" && echo sub/fifo.al_bundle ;;
  dangling_symlink) ln -s "$R/nowhere" "$IN/dangling.al_bundle" && echo dangling.al_bundle ;;
  symlink_to_directory) ln -s "$R/outside" "$IN/outside.al_bundle" && echo outside.al_bundle ;;
  hard_link_outside) ln "$R/outside/canary.txt" "$IN/hardlink.al_bundle" && echo hardlink.al_bundle ;;
  newline_name) head -c 4096 /dev/zero >"$IN/new"$'\n'"line.al_bundle" && echo "new"$'\n'"line.al_bundle" ;;
  invalid_utf8_name) head -c 4096 /dev/zero >"$IN/"$'\xff\xfe'".al_bundle" && echo $'\xff\xfe'".al_bundle" ;;
  long_name) local l; l=$(printf 'x%.0s' $(seq 245)).al_bundle; head -c 4096 /dev/zero >"$IN/$l" && echo "$l" ;;
  *) fail "no recipe $1" ;;
  esac
}
# as_logged NAME: NAME as the text log writes it (control characters and bytes
# that are not UTF-8 as \n, \r, \t, \xNN).
as_logged() {
  "$PY" -c 'import sys
s = sys.argv[1].encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
esc = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
print("".join(c if " " <= c != "\x7f" else esc.get(c, "\\x%02x" % ord(c)) for c in s), end="")' "$1"
}
declare -A made
while IFS=$'\t' read -r name kind in exp detail; do
  made[$name]=$(recipe "${in#recipe:}")
done < <(rows_of dirent)
while IFS=$'\t' read -r name kind in exp detail; do
  entry=${made[$name]}
  case "$exp" in
  skipped)
    line="Not queueing $IN/$(as_logged "$entry"): "
    if wait_until 60 log_has loader "$line"; then
      expect_text "$name" "$(grep -aF -- "$line" "$T/loader.log" | head -1)" "$detail"
    else
      mismatch "$name" "no \"Not queueing\" line in the loader's log after 60 s"
    fi
    [ -e "$IN/$entry" ] || [ -L "$IN/$entry" ] || mismatch "$name" "the entry was removed"
    ! log_has loader "Queueing file: $IN/$(as_logged "$entry")" ||
      mismatch "$name" "the loader says it queued a file it did not queue"
    ;;
  failed) expect_failed "$name" "$entry" "$detail" ;;
  *) fail "unknown outcome $exp for $name" ;;
  esac
  count=$((count + 1))
done < <(rows_of dirent)

note "nothing lost: a good bundle after the hostile ones is imported"
cp "$T/bundles/$good" "$T/stage.tmp" && mv "$T/stage.tmp" "$IN/$good"
wait_for 120 "the good bundle loaded" bash -c "[ ! -e '$IN/$good' ]"
sid=${good#submission_}; sid=${sid%.al_bundle}
assert_eq 1 "$(imports_ok "$sid")" "imports of the good bundle"
assert_eq 1 "$(jq '[.[] | select(.status == 200)] | length' "$T/.imports")" \
  "successful imports: only the good bundle"
alive "the good bundle"

note "nothing written outside the services' directories, no secret in the logs"
(cd "$R/outside" && sha256sum -c --quiet "$T/canary.sum") || fail "a canary outside was changed"
assert_eq "canary.txt" "$(ls -A "$R/outside")" "files outside"
assert_eq "failed in outside work" "$(ls -A "$R" | tr '\n' ' ' | sed 's/ $//')" "entries of the root"
for f in /etc/hostile "$R/hostile" "$T/hostile" "$LOADER_WORK/hostile"; do
  [ ! -e "$f" ] || fail "$f was written"
done
for log in loader loader-worker; do
  assert_not_contains "$(cat "$T/$log.log")" "$TGT_SECRET" "$log.log"
  # One event a line: a name with a newline or a server's escape sequence cannot
  # forge a line or reach a terminal.
  forged=$(grep -av '^20[0-9][0-9]-' "$T/$log.log" | head -3 | cat -v || true)
  [ -z "$forged" ] || fail "lines of $log.log that are not log lines: $forged"
  ! grep -aq $'\x1b' "$T/$log.log" || fail "an escape character in $log.log"
done
loader_finish
assert_eq "${#rows[@]}" "$count" "cases run"
[ "$mismatches" -eq 0 ] || fail "$mismatches of $count cases did not end as cases.tsv says"
echo "hostile_corpus: $count cases ok"
