#!/usr/bin/env bash
# compose/: the appliance add-on (merged with a stand-in of the Assemblyline
# appliance, tests/integration/packaging/appliance) and the standalone API-mode
# compose, validated by Debian's docker-compose (`config`, no engine needed);
# their replay.yml files pass the project's own config checker.
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"

C=$REPLAY_SOURCE_DIR/compose
FIX=$REPLAY_SOURCE_DIR/tests/integration/packaging
command -v docker-compose >/dev/null || fail "docker-compose is not installed (run scripts/setup)"
/usr/bin/python3 -c 'import yaml' 2>/dev/null || fail "/usr/bin/python3 with python3-yaml is needed (run scripts/setup)"
yq() { /usr/bin/python3 "$FIX/yamlq.py" "$@"; }
CTL=$(bin replay-ctl)
probe=$(yq get replayLivenessCommand <"$REPLAY_SOURCE_DIR/helm/assemblyline-replay/values.yaml")
unset COMPOSE_PROFILES COMPOSE_FILE COMPOSE_PROJECT_NAME

# compose_config NAME DIR FILE...: validates, then $T/NAME.flat from `config`.
compose_config() {
  local name=$1 dir=$2; shift 2
  local args=() f
  for f in "$@"; do args+=(-f "$f"); done
  (cd "$dir" && docker-compose "${args[@]}" config -q) >"$T/$name.out" 2>&1 ||
    fail "docker-compose config -q ($name): $(cat "$T/$name.out")"
  (cd "$dir" && docker-compose "${args[@]}" config) >"$T/$name.yaml" 2>"$T/$name.err" ||
    fail "docker-compose config ($name): $(cat "$T/$name.err")"
  yq flat <"$T/$name.yaml" >"$T/$name.flat" || fail "docker-compose config output ($name) does not parse"
}
has() { grep -qxF -- "$2" "$T/$1.flat" || fail "$1: no line '$2'"; }
hasnt() { ! grep -qF -- "$2" "$T/$1.flat" || fail "$1: unexpected '$2'"; }
get() { yq get "$2" <"$T/$1.yaml"; }
services() { yq get services <"$T/$1.yaml" | jq -r 'keys[]' | tr '\n' ' '; }

# Checks common to the four Replay services of a compose file.
# replay_service NAME SERVICE EXECUTABLE PROFILE
replay_service() {
  local n=$1 s=services.$2
  has "$n" "$s.command[0]=$3"
  has "$n" "$s.command[1]=--config"
  has "$n" "$s.command[2]=/etc/assemblyline/replay.yml"
  has "$n" "$s.profiles[0]=$4"
  has "$n" "$s.healthcheck.test[0]=CMD"
  has "$n" "$s.healthcheck.test[1]=bash"
  has "$n" "$s.healthcheck.test[2]=-c"
  has "$n" "$s.healthcheck.test[3]=$probe"
  has "$n" "$s.user=1000:1000"
  has "$n" "$s.cap_drop[0]=ALL"
  has "$n" "$s.image=assemblyline-replay:0.1.0"
  assert_contains "$(get "$n" "$s.volumes")" "/replay.yml:/etc/assemblyline/replay.yml:ro" "$2 volumes"
  case "$2" in
    *_worker) hasnt "$n" "$s.container_name=" ;;   # scalable with --scale
    *) has "$n" "$s.container_name=$2" ;;
  esac
}
loader_volumes_ok() { # NAME SERVICE INPUT FAILED WORK (host paths)
  local v
  v=$(get "$1" "services.$2.volumes")
  assert_contains "$v" "\"$3:/tmp/replay/input:rw\"" "$2 input directory"
  assert_contains "$v" "\"$4:/tmp/replay/failed:rw\"" "$2 failed directory"
  assert_contains "$v" "\"$5:/tmp/replay/work:rw\"" "$2 work directory"
  assert_not_contains "$v" "/tmp/replay/output" "$2 volumes (upstream's loader mount mistake)"
}

note "the config checker rejects a bad replay.yml (so its OK below means something)"
printf 'loader:\n  input_threads: six\n' >"$T/bad.yml"
run "$CTL" --config "$T/bad.yml" config --check
[ "$rc" -eq 2 ] || fail "replay-ctl config --check on a bad file: exit $rc, expected 2 ($out $err)"
assert_contains "$err" "input_threads" "config --check message"

note "appliance add-on"
A=$T/appliance
cp -r "$FIX/appliance" "$A"
cp "$C/replay-compose.yaml" "$A/"
cp "$C/replay.yml" "$A/config/replay.yml"
cat "$C/replay.env.example" >>"$A/.env"
compose_config addon "$A" docker-compose.yaml replay-compose.yaml
assert_eq "alerter_minimal redis replay_creator replay_creator_worker replay_loader replay_loader_worker ui_full ui_minimal " \
  "$(services addon)" "services of appliance + add-on"
replay_service addon replay_creator replay-creator replay-creator
replay_service addon replay_creator_worker replay-creator-worker replay-creator
replay_service addon replay_loader replay-loader replay-loader
replay_service addon replay_loader_worker replay-loader-worker replay-loader
for s in replay_creator replay_creator_worker replay_loader replay_loader_worker; do
  v=$(get addon "services.$s.volumes")
  # From the appliance's core service: its config files, .env, network, restart policy.
  assert_contains "$v" "\"$A/config/config.yml:/etc/assemblyline/config.yml:ro\"" "$s volumes"
  assert_contains "$v" "\"$A/config/classification.yml:/etc/assemblyline/classification.yml:ro\"" "$s volumes"
  assert_contains "$v" "\"$A/config/replay.yml:/etc/assemblyline/replay.yml:ro\"" "$s volumes"
  has addon "services.$s.networks.core={}"
  has addon "services.$s.restart=unless-stopped"
  has addon "services.$s.environment.ELASTIC_PASSWORD=fixture-elastic-password"
  has addon "services.$s.environment.REPLAY_APIKEY=replay:change-me"
  has addon "services.$s.environment.REPLAY_REDIS_URL=redis://redis:6379/0"
  has addon "services.$s.environment.REPLAY_REDIS_PERSISTENT_URL=redis://redis:6379/0"
  has addon "services.$s.depends_on.redis.condition=service_started"
done
has addon "services.replay_creator_worker.networks.external={}"
v=$(get addon services.replay_creator.volumes)
assert_contains "$v" '"/tmp/replay/files:/tmp/replay/output:rw"' "creator output (as the upstream docker run)"
assert_contains "$v" '"/tmp/replay/creator:/tmp/replay/work:rw"' "creator work (as the upstream docker run)"
loader_volumes_ok addon replay_loader /tmp/replay/files /tmp/replay/failed /tmp/replay/loader
loader_volumes_ok addon replay_loader_worker /tmp/replay/files /tmp/replay/failed /tmp/replay/loader
# Operator settings in .env reach the services.
cat >>"$A/.env" <<'ENV'
REPLAY_INPUT_DIR=/srv/replay/in
REPLAY_FAILED_DIR=/srv/replay/failed
REPLAY_LOADER_WORK_DIR=/srv/replay/work
REPLAY_UID=1500
REGISTRY=registry.example.org/
REPLAY_VERSION=9.9.9
ENV
compose_config addon-env "$A" docker-compose.yaml replay-compose.yaml
loader_volumes_ok addon-env replay_loader_worker /srv/replay/in /srv/replay/failed /srv/replay/work
has addon-env "services.replay_loader_worker.user=1500:1000"
has addon-env "services.replay_loader_worker.image=registry.example.org/assemblyline-replay:9.9.9"

note "standalone API-mode compose"
S=$T/standalone
cp -r "$C/standalone" "$S"
run bash -c "cd '$S' && docker-compose config -q"
[ "$rc" -ne 0 ] || fail "standalone compose validated without its .env"
cp "$S/replay.env.example" "$S/.env"
compose_config standalone "$S" docker-compose.yaml
assert_eq "redis replay_creator replay_creator_worker replay_loader replay_loader_worker " \
  "$(services standalone)" "standalone services"
replay_service standalone replay_creator replay-creator creator
replay_service standalone replay_creator_worker replay-creator-worker creator
replay_service standalone replay_loader replay-loader loader
replay_service standalone replay_loader_worker replay-loader-worker loader
for s in replay_creator replay_creator_worker replay_loader replay_loader_worker; do
  has standalone "services.$s.environment.REPLAY_AL_HOST=https://assemblyline.example.org:443"
  has standalone "services.$s.environment.REPLAY_APIKEY=replay:change-me"
  has standalone "services.$s.environment.REPLAY_REDIS_URL=redis://redis:6379/0"
  has standalone "services.$s.depends_on.redis.condition=service_healthy"
  assert_contains "$(get standalone "services.$s.volumes")" "\"$S/replay.yml:/etc/assemblyline/replay.yml:ro\"" "$s volumes"
done
loader_volumes_ok standalone replay_loader_worker "$S/data/input" "$S/data/failed" "$S/data/loader"
has standalone "services.redis.command[2]=yes"
assert_contains "$(get standalone services.redis.volumes)" '"redis-data:/data:rw"' "redis volume"

note "permissions as 1000:1000 and 2000:2000: image directories, host directories made as the docs say, the services' start"
# What a container sees without a Docker engine: the image's directories
# (docker/image-dirs.sh under a scratch root), the host directories made by
# compose/replay-dirs.sh (the documented step), and the services run as the user.
command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed"
[ "$(id -u)" -eq 0 ] || fail "the permission checks change owners and switch users: run as root (as CI does)"
chmod 0755 "$T"
IMG=$T/image
sh "$REPLAY_SOURCE_DIR/docker/image-dirs.sh" "$IMG"
DIRS=$C/replay-dirs.sh
start_redis
for ids in 1000:1000 2000:2000; do
  uid=${ids%:*} gid=${ids#*:}
  AS=(setpriv --reuid="$uid" --regid="$gid" --clear-groups)
  as() { "${AS[@]}" "$@"; }
  P=$T/perm-$uid
  cp -r "$FIX/appliance" "$P"
  cp "$C/replay-compose.yaml" "$P/"
  cp "$C/replay.yml" "$P/config/replay.yml"
  chmod 0644 "$P/config/replay.yml"
  cat "$C/replay.env.example" >>"$P/.env"
  cat >>"$P/.env" <<ENV
REPLAY_OUTPUT_DIR=$P/srv/out
REPLAY_CREATOR_WORK_DIR=$P/srv/creator
REPLAY_INPUT_DIR=$P/srv/in
REPLAY_FAILED_DIR=$P/srv/failed
REPLAY_LOADER_WORK_DIR=$P/srv/loader
REPLAY_UID=$uid
REPLAY_GID=$gid
ENV
  compose_config "perm-$uid" "$P" docker-compose.yaml replay-compose.yaml
  for s in replay_creator replay_creator_worker replay_loader replay_loader_worker; do
    has "perm-$uid" "services.$s.user=$uid:$gid"
  done
  loader_volumes_ok "perm-$uid" replay_loader_worker "$P/srv/in" "$P/srv/failed" "$P/srv/loader"
  # Docker makes a missing bind source root-owned 0755: the loader worker, run as
  # the user on such a directory, stops at once naming it.
  mkdir -p "$P/srv"
  install -d -m 0755 "$P/srv/in" "$P/srv/failed" "$P/srv/loader"
  printf 'loader:\n  client: {type: api, options: {host: "http://127.0.0.1:9", user: u, apikey: "u:k"}}\n  input_directory: "%s"\n  failed_directory: "%s"\n  working_directory: "%s"\n  input_threads: 1\nredis: {url: "%s", persistent_url: "%s"}\n' \
    "$P/srv/in" "$P/srv/failed" "$P/srv/loader" "$REDIS_URL" "$REDIS_URL" >"$P/loader.yml"
  chmod 0644 "$P/loader.yml"
  run as "$(bin replay-loader-worker)" --config "$P/loader.yml" --log-format text
  assert_eq 2 "$rc" "$ids: exit code of the loader worker on Docker-made directories"
  assert_contains "$err" "Bad configuration: loader.input_directory: " "$ids: loader worker on Docker-made directories"
  # The documented step, then what each side's user can do there.
  for side in creator loader; do
    run "$DIRS" $side "$P/.env"
    [ "$rc" -eq 0 ] || fail "$ids: replay-dirs.sh $side: exit $rc: $err"
  done
  for d in out creator in failed loader; do
    assert_eq "$uid:$gid 770" "$(stat -c '%u:%g %a' "$P/srv/$d")" "$ids: owner and mode of $d"
    as test -w "$P/srv/$d" || fail "$ids: $P/srv/$d is not writable by $ids"
  done
  # replay.yml bound into the image's /etc/assemblyline: readable by the user.
  cp -p "$P/config/replay.yml" "$IMG/etc/assemblyline/replay.yml"
  as cat "$IMG/etc/assemblyline/replay.yml" >/dev/null ||
    fail "$ids: the image's /etc/assemblyline/replay.yml is not readable by $ids ($(stat -c '%A %u:%g' "$IMG/etc/assemblyline"))"
  # The loader and its worker start as the user on those directories: each
  # touches its heartbeat (its threads run), and stops cleanly on SIGTERM.
  install -d -o "$uid" -g "$gid" "$P/hb"
  for svc in loader loader-worker; do
    REPLAY_HEARTBEAT_FILE=$P/hb/$svc "${AS[@]}" "$(bin replay-$svc)" --config "$P/loader.yml" --log-format text \
      >"$P/$svc.log" 2>&1 &
    pid=$!
    on_exit "kill -KILL $pid 2>/dev/null"
    wait_until 60 test -e "$P/hb/$svc" ||
      fail "$ids: replay-$svc wrote no heartbeat within 60 s: $(tail -5 "$P/$svc.log")"
    kill -TERM "$pid"
    wait "$pid" && rc=0 || rc=$?
    assert_eq 0 "$rc" "$ids: exit code of replay-$svc after SIGTERM ($(tail -3 "$P/$svc.log"))"
  done
  # An unreadable replay.yml is reported by the documented step.
  chmod 0600 "$P/config/replay.yml"
  run "$DIRS" loader "$P/.env"
  assert_eq 2 "$rc" "$ids: replay-dirs.sh with an unreadable replay.yml"
  assert_contains "$err" "config/replay.yml is not readable by uid $uid gid $gid" "$ids: replay-dirs.sh"
done
# The standalone .env's relative paths are the compose directory's, as Compose reads them.
run "$DIRS" loader "$S/.env"
[ "$rc" -eq 0 ] || fail "replay-dirs.sh loader on the standalone .env: exit $rc: $err"
assert_eq "1000:1000 770" "$(stat -c '%u:%g %a' "$S/data/input")" "standalone input directory"
run "$DIRS" sideways "$P/.env"
assert_eq 2 "$rc" "replay-dirs.sh with an unknown side"

note "replay.yml files pass the config checker"
for f in "$C/replay.yml" "$C/standalone/replay.yml"; do
  run "$CTL" --config "$f" config --check
  [ "$rc" -eq 0 ] || fail "replay-ctl config --check $f: exit $rc: $err"
  run env REPLAY_AL_HOST=https://al.example.org REPLAY_APIUSER=replay REPLAY_APIKEY=k:secret \
    "$CTL" --config "$f" config --check
  [ "$rc" -eq 0 ] || fail "replay-ctl config --check $f with its variables set: exit $rc: $err"
  assert_eq "api" "$(yq get creator.client.type <"$f")" "$f creator client"
  assert_eq "api" "$(yq get loader.client.type <"$f")" "$f loader client"
done
assert_eq "http://ui:5000" "$(yq get loader.client.options.host <"$C/replay.yml")" "add-on API host"
assert_eq '${REPLAY_AL_HOST}' "$(yq get loader.client.options.host <"$C/standalone/replay.yml")" "standalone API host"
note "compose OK"
