#!/usr/bin/env bash
# replay-ctl config: the effective configuration as `key = value` lines and, with
# --json, as JSON; API keys and passwords masked in both; the Redis URLs it shows
# are the ones status and queues use (checked against a real redis-server);
# --check and --for; bad usage and bad configuration exit 2.
. "$(dirname "$0")/lib.sh"
ctl=$(bin replay-ctl)
start_redis
redis-cli -p "$REDIS_PORT" CONFIG SET requirepass 'Cfg-RedisPw9' >/dev/null
on_exit "redis-cli -p $REDIS_PORT -a Cfg-RedisPw9 --no-auth-warning shutdown nosave"
export REPLAY_AL_CONFIG_PATH=$T/no-config.yml REPLAY_CONFIG_PATH=$T/replay.yml
cat >"$T/replay.yml" <<YML
creator:
  client: {type: api, options: {host: "http://127.0.0.1:9", apikey: "reader:Cfg-ApiKey7"}}
loader:
  input_directory: "$T/in"
redis: {url: "redis://:Cfg-RedisPw9@127.0.0.1:$REDIS_PORT/0", persistent_url: "redis://:Cfg-RedisPw9@127.0.0.1:$REDIS_PORT/1"}
YML

note "key = value lines, secrets masked"
run "$ctl" config
assert_eq 0 "$rc" "config exit ($err)"
assert_contains "$out" "creator.client.options.apikey = reader:***"
assert_contains "$out" "loader.input_directory = $T/in"
assert_contains "$out" "redis.url = redis://:***@127.0.0.1:$REDIS_PORT/0"
assert_contains "$out" 'creator.submission_input.filter_queries = ["metadata.replay:requested"]'
assert_not_contains "$out$err" "Cfg-ApiKey7" "config output"
assert_not_contains "$out$err" "Cfg-RedisPw9" "config output"

note "--json: the same, as JSON"
run "$ctl" config --json
assert_eq 0 "$rc" "config --json exit ($err)"
assert_eq "reader:*** $T/in" "$(jq -r '"\(.creator.client.options.apikey) \(.loader.input_directory)"' <<<"$out")" "JSON"
assert_not_contains "$out" "Cfg-ApiKey7" "config --json output"
assert_not_contains "$out" "Cfg-RedisPw9" "config --json output"

note "the URLs shown are the ones the other commands use"
run "$ctl" status --json
assert_eq "redis://:***@127.0.0.1:$REDIS_PORT/0 7" "$(jq -r '"\(.redis.redis) \(.redis.queues | length)"' <<<"$out")" "status on the configured Redis"
assert_not_contains "$out$err" "Cfg-RedisPw9" "status output"

note "--check and --for"
run "$ctl" config --check --for creator
assert_eq 0 "$rc" "config --check --for creator ($err)"
assert_contains "$out" "$T/replay.yml: valid"
run "$ctl" config --check --for loader
assert_eq 2 "$rc" "the loader's client is direct (not built)"

note "bad usage and configuration exit 2"
for args in "--for" "--for nobody" "extra" "--bogus"; do
  # shellcheck disable=SC2086
  run "$ctl" config $args
  assert_eq 2 "$rc" "config $args"
  assert_contains "$err" "usage: replay-ctl"
done
printf 'creator: [1\n' >"$T/bad.yml"
run "$ctl" --config "$T/bad.yml" config --json
assert_eq 2 "$rc" "config of a broken file"
run "$ctl" config --help
assert_eq 0 "$rc" "config --help"
assert_contains "$out" "--json"
