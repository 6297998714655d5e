#!/usr/bin/env bash
# Chaos on the whole pipeline (issue 14): a source al-sim, the four services, a
# drop directory the test carries across as an operator would, a target al-sim,
# all on one real Redis. While the items travel, a driver SIGKILLs a random service
# at random moments (and starts it again), restarts Redis once without persistence
# (as Assemblyline's redis-volatile: every queued message and processing list is
# lost) and stops the target for a while. In the end every source item is on the
# target exactly once or in the failed directory with a reason, none is missing, no
# file is left in the working directories, and the counts are printed.
#
# Sizes (environment): CHAOS_SUBMISSIONS (default 60; alerts and each list half as
# many), CHAOS_KILLS (default 8), CHAOS_TARGET_DOWN seconds (default 10),
# CHAOS_SEED (the random seed; printed, to replay a run's choices).
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/alsim.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/services.sh"

N=${CHAOS_SUBMISSIONS:-60}
KILLS=${CHAOS_KILLS:-8}
DOWN=${CHAOS_TARGET_DOWN:-10}
SEED=${CHAOS_SEED:-$(((RANDOM << 15) | RANDOM))}
RANDOM=$SEED
HALF=$(((N + 1) / 2))
SERVICES=(creator creator-worker loader loader-worker)
export EMPTY_WAIT_TIME=1 REPLAY_EXPORT_QUIET_SECONDS=1 REPLAY_DRAIN_SECONDS=10
t0=$SECONDS

start_redis
# Each bundle takes 200 ms to start at the source: the replay lasts long enough, on
# a fast machine too, for the kills and outages to land in its middle.
start_alsim --name source --mode upstream --fault kind=stall,ms=200,count=0,path=/api/v4/bundle/
start_alsim --name target --mode upstream
alsim_seed source submissions="$N" alerts="$HALF" files=2 results=2 file_size=4096 \
  badlist="$HALF" safelist="$HALF" signatures="$HALF" workflows="$HALF" \
  submission_state=requested >/dev/null
mkdir -p "$T/out" "$T/in" "$T/failed" "$T/staging"
write_config "$T/replay.yml" <<YML
creator:
  client:
    type: api
    options: {host: "$ALSIM_SOURCE_URL", user: "$ALSIM_SOURCE_USER", apikey: "$ALSIM_SOURCE_APIKEY"}
  alert_input: {threads: 2}
  submission_input: {threads: 2}
  badlist_input: {threads: 1}
  safelist_input: {threads: 1}
  signature_input: {threads: 1}
  workflow_input: {threads: 1}
  output_filestore: "file://$T/out"
  working_directory: "$T/creator-work"
loader:
$(target_client_yaml)
  input_directory: "$T/in"
  failed_directory: "$T/failed"
  working_directory: "$T/loader-work"
  input_threads: 2
  settle_time: 1
  scan_interval: 1
YML

types=(alert submission file result badlist safelist signature workflow)
declare -A expected
alsim_curl source /_sim/stats >"$T/source.stats"
items=0
for t in "${types[@]}"; do
  expected[$t]=$(jq -r --arg t "$t" '.collections[$t]' "$T/source.stats")
  case "$t" in file|result) ;; *) items=$((items + expected[$t])) ;; esac
done
note "seed $SEED: $items items ($N submissions, $HALF alerts, $HALF of each list), $KILLS kills, target down ${DOWN}s"

# --- the air gap ----------------------------------------------------------------
# What the creator-worker finished in out/ (visible names only: its temporaries are
# dot-files) is copied into staging/, renamed into in/ (so the loader never sees half
# a file) and removed from out/. A name still waiting in in/ stays in out/ until the
# loader has taken the first one.
carry_once() {
  local f name
  for f in "$T/out"/*; do
    [ -f "$f" ] || continue
    name=${f##*/}
    [ -e "$T/in/$name" ] && continue
    cp -- "$f" "$T/staging/$name" && mv -- "$T/staging/$name" "$T/in/$name" &&
      rm -f -- "$f" && echo "$name" >>"$T/carried"
  done
}
carry_loop() {
  set +e
  until [ -e "$T/carry.stop" ]; do carry_once; sleep 0.2; done
}
: >"$T/carried"
carry_loop &
carrier=$!
on_exit "touch $T/carry.stop; kill $carrier"

# --- observable state -------------------------------------------------------------

target_stats() { alsim_curl target /_sim/stats -f --max-time 10 >"$T/target.stats"; }
all_arrived() {
  local t
  target_stats || return 1
  for t in "${types[@]}"; do
    [ "$(jq -r --arg t "$t" '.collections[$t]' "$T/target.stats")" -ge "${expected[$t]}" ] || return 1
  done
}
# Messages waiting or held in any replay_* list, the unusable (:bad) ones aside.
queued() {
  redis-cli -p "$REDIS_PORT" eval "local n = 0
    for _, k in ipairs(redis.call('keys', 'replay_*')) do
      if redis.call('type', k).ok == 'list' and not string.find(k, ':bad', 1, true) then
        n = n + redis.call('llen', k)
      end
    end
    return n" 0
}
visible_files() { find "$1" -maxdepth 1 -type f ! -name '.*' | wc -l; }
source_done() {
  check_count source alert 'metadata.replay:done' "${expected[alert]}" &&
    check_count source submission 'metadata.replay:done' "${expected[submission]}"
}
pipeline_idle() {
  [ "$(queued)" = 0 ] && [ "$(visible_files "$T/out")" = 0 ] &&
    [ "$(visible_files "$T/in")" = 0 ] && source_done
}
# Drained: idle and everything arrived, or idle with nothing changing for 30 s
# (what is missing then will not come, and the accounting below names it).
idle_since="" idle_state=""
drained() {
  pipeline_idle || { idle_since=""; return 1; }
  all_arrived && return 0
  local state; state="$(wc -l <"$T/carried")/$(ls "$T/failed" | wc -l)"
  if [ "$state" != "$idle_state" ] || [ -z "$idle_since" ]; then
    idle_since=$SECONDS idle_state=$state
  fi
  [ $((SECONDS - idle_since)) -ge 30 ]
}

# --- the driver -----------------------------------------------------------------------

for s in "${SERVICES[@]}"; do start_service "$s" "$T/replay.yml"; done
redis_at=$((KILLS / 3)) down_at=$((2 * KILLS / 3)) down_since="" in_flight=0
end_outage() {
  restart_alsim target
  note "target back after $((SECONDS - down_since))s"
  down_since=""
}
BUNDLES=$((expected[alert] + expected[submission]))
carried_at_least() { [ "$(wc -l <"$T/carried")" -ge "$1" ]; }
for i in $(seq 1 "$KILLS"); do
  # Spread over the run whatever the machine's speed: kill i once i/(KILLS+2) of the
  # bundles have crossed the gap, then 0 to 0.5 s later, in the middle of whatever
  # the services are doing.
  wait_for 300 "bundles carried before kill $i" carried_at_least $((i * BUNDLES / (KILLS + 2)))
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", (r % 51) / 100 }')"
  victim=${SERVICES[$((RANDOM % 4))]}
  service_alive "$victim" || fail "$victim died before kill $i: $(tail -5 "$T/$victim.log")"
  state=done
  all_arrived || { state="in flight"; in_flight=$((in_flight + 1)); }
  note "kill $i: $victim ($state; $(wc -l <"$T/carried") files carried)"
  kill_service "$victim"
  start_service "$victim" "$T/replay.yml"
  if [ "$i" = "$redis_at" ]; then
    note "Redis restarts without its data ($(queued) messages queued or held)"
    restart_redis
  fi
  if [ "$i" = "$down_at" ]; then
    note "the target stops for ${DOWN}s"
    stop_alsim target
    down_since=$SECONDS
  fi
  [ -n "$down_since" ] && [ $((SECONDS - down_since)) -ge "$DOWN" ] && end_outage
done
if [ -n "$down_since" ]; then
  # The length of the outage is the scenario, not a wait for an event.
  sleep $((DOWN - (SECONDS - down_since) > 0 ? DOWN - (SECONDS - down_since) : 0))
  end_outage
fi
[ "$in_flight" -ge $(((KILLS + 1) / 2)) ] || fail "only $in_flight of $KILLS kills hit a running replay"

wait_for $((240 + items / 2)) "the pipeline drained after $KILLS kills" drained
touch "$T/carry.stop"
wait "$carrier" || true
services_finish

# --- the accounting ------------------------------------------------------------------

note "what the target holds against the source"
account_rc=0
replay_check account "$ALSIM_SOURCE_URL" "$ALSIM_TARGET_URL" "$T/failed" || account_rc=$?
# A creator-worker killed while writing into the output leaves its hidden temporary
# there (a store shared by replicas: removed once a day old): counted, not failed
# on. The loader removes its own state's temporaries when it starts again.
temporaries() { find "$1" -maxdepth 1 -name '.*.replay-tmp-*' | wc -l; }
temporaries=$(temporaries "$T/out") state_temporaries=$(temporaries "$T/loader-work")
note "items $items, kills $KILLS ($in_flight in flight), Redis restarts 1, target down ${DOWN}s," \
  "files carried $(wc -l <"$T/carried"), temporaries left by kills: $temporaries uploads," \
  "$state_temporaries loader states," \
  "wall time $((SECONDS - t0))s, seed $SEED"
[ "$account_rc" = 0 ] || fail "items lost or duplicated (seed $SEED)"
assert_eq "" "$(ls -A "$T/creator-work")" "files left in the creator's working directory"
# loader_state.jsonl is the loader's memory of what it queued (kept on purpose).
assert_eq "" "$(ls -A "$T/loader-work" | grep -vxF 'loader_state.jsonl' || true)" \
  "files left in the loader's working directory"
assert_eq "" "$(ls -A "$T/in")" "files left in the input directory"
assert_eq 0 "$(visible_files "$T/out")" "files left in the output"
for q in alert submission badlist safelist signature workflow file; do
  assert_eq 0 "$(redis-cli -p "$REDIS_PORT" llen "replay_$q:bad")" "replay_$q:bad"
done
alsim_finish
note "ok"
