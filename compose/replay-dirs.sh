#!/usr/bin/env bash
# Creates the host directories of one Replay side, owned by REPLAY_UID:REPLAY_GID,
# and checks that this user can write them and read replay.yml. Run it as root
# before the first `docker compose up`: a bind-mount source that does not exist is
# created by Docker as root-owned 0755, which uid REPLAY_UID cannot write (the
# services then exit 2 naming the directory).
#
#   sudo ./replay-dirs.sh creator|loader [ENV_FILE]
#
# ENV_FILE (default ./.env) is the Compose .env holding REPLAY_UID, REPLAY_GID and
# the REPLAY_*_DIR paths; relative paths are taken from its directory, as Compose
# does. replay.yml is looked for there as config/replay.yml (appliance add-on) or
# replay.yml (standalone). Existing directories get the owner and mode too.
set -euo pipefail

die() { echo "replay-dirs: $*" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: replay-dirs.sh creator|loader [ENV_FILE]"
side=$1
env_file=${2:-.env}
case "$side" in
  creator) keys=(REPLAY_OUTPUT_DIR REPLAY_CREATOR_WORK_DIR) ;;
  loader) keys=(REPLAY_INPUT_DIR REPLAY_FAILED_DIR REPLAY_LOADER_WORK_DIR) ;;
  *) die "the side is creator or loader, not '$side'" ;;
esac
[ -r "$env_file" ] || die "cannot read $env_file"
[ "$(id -u)" -eq 0 ] || die "run as root (it sets the owner of the directories)"
cd "$(dirname "$env_file")"

# setting KEY: the last KEY=VALUE line of the .env (as Compose reads it), quotes removed.
setting() {
  local v
  v=$(sed -n "s/^[[:space:]]*$1=//p" "$(basename "$env_file")" | tail -1)
  v=${v%$'\r'}; v=${v#[\"\']}; v=${v%[\"\']}
  [ -n "$v" ] || die "$env_file does not set $1"
  printf '%s' "$v"
}
uid=$(setting REPLAY_UID)
gid=$(setting REPLAY_GID)
[[ "$uid" =~ ^[0-9]+$ && "$gid" =~ ^[0-9]+$ ]] || die "REPLAY_UID and REPLAY_GID must be numbers (got $uid:$gid)"
as_user() { setpriv --reuid="$uid" --regid="$gid" --clear-groups "$@"; }

for key in "${keys[@]}"; do
  dir=$(setting "$key")
  install -d -o "$uid" -g "$gid" -m 0770 "$dir"
  as_user test -w "$dir" -a -x "$dir" ||
    die "$key=$dir: made, but uid $uid gid $gid cannot write it (a parent directory it cannot enter, or a root-squashing share?)"
  echo "replay-dirs: $key=$dir owned by $uid:$gid, mode 0770"
done
for f in config/replay.yml replay.yml; do
  if [ -e "$f" ]; then
    as_user test -r "$f" ||
      die "$f is not readable by uid $uid gid $gid: chmod 0644 $f (it holds \${REPLAY_APIKEY}, not the key), or chgrp $gid $f and chmod 0640"
    echo "replay-dirs: $f readable by $uid:$gid"
    exit 0
  fi
done
die "no config/replay.yml or replay.yml next to $env_file"
