#!/usr/bin/env bash
# Runs the executables with known secrets in every place a secret can be
# (API keys, filestore and Redis URL passwords, from the file and from the
# environment) through their normal, error and debug paths, and greps all their
# output for those secrets.
. "$(dirname "$0")/lib.sh"
grep -q '^REPLAY_TEST_HOOKS:BOOL=ON' "$REPLAY_BUILD_DIR/CMakeCache.txt" ||
  fail "this test needs a build with -DREPLAY_TEST_HOOKS=ON (the crash-loop fault hook)"

secrets=(S3cretApiKeyCreator S3cretApiKeyLoader FtpPassw0rdXyz RedisPassw0rdQrs AzureKeyMnop42 HostPassw0rdUvw)
export REPLAY_AL_CONFIG_PATH=$T/no-config.yml
export LOADER_KEY="writer:${secrets[1]}"
export REPLAY_REDIS_URL="redis://:${secrets[3]}@127.0.0.1:1/0"
cat >"$T/replay.yml" <<YML
creator:
  client: {type: api, options: {host: "http://proxyuser:${secrets[5]}@127.0.0.1:9", apikey: "reader:${secrets[0]}"}}
  output_filestore: "ftp://drop:${secrets[2]}@127.0.0.1:1/out?access_key=${secrets[4]}"
loader:
  client: {type: api, options: {host: "http://127.0.0.1:9", apikey: "\${LOADER_KEY}"}}
  unknown_key: 1
YML
log=$T/all-output
{
  for svc in replay-creator replay-creator-worker replay-loader replay-loader-worker; do
    "$(bin "$svc")" --config "$T/replay.yml" --print-config || true
    REPLAY_HEARTBEAT_FILE=$T/hb LOG_LEVEL=DEBUG REPLAY_TEST_FAULT=crash-loop timeout -s TERM 3 \
      "$(bin "$svc")" --config "$T/replay.yml" --log-format text || true
    REPLAY_HEARTBEAT_FILE=$T/hb LOG_LEVEL=DEBUG timeout -s TERM 2 "$(bin "$svc")" --config "$T/replay.yml" || true
  done
  "$(bin replay-ctl)" --config "$T/replay.yml" config || true
  "$(bin replay-ctl)" --config "$T/replay.yml" config --check --for loader || true
  "$(bin replay-ctl)" --config "$T/replay.yml" config --json || true
  "$(bin replay-ctl)" --config "$T/replay.yml" status --timeout 1 || true
  "$(bin replay-ctl)" --config "$T/replay.yml" status --json --timeout 1 || true
  "$(bin replay-ctl)" --config "$T/replay.yml" request --attempts 1 alert a1 || true
  # A host with a password and a scheme the client refuses.
  sed "s#http://proxyuser#ftp://proxyuser#" "$T/replay.yml" >"$T/bad-host.yml"
  "$(bin replay-creator)" --config "$T/bad-host.yml" || true
  # A config error whose value is a secret.
  printf 'creator:\n  client:\n    options:\n      apikey: [%s]\n' "${secrets[0]}" >"$T/bad.yml"
  "$(bin replay-loader)" --config "$T/bad.yml" || true
} >"$log" 2>&1
grep -q "Starting thread" "$log" || fail "the services did not run: $(head -20 "$log")"
grep -q '"apikey": "reader:\*\*\*"' "$log" || fail "the printed configuration lacks the masked key"
for s in "${secrets[@]}"; do
  if grep -n -- "$s" "$log" >&2; then fail "secret $s appears in the output above"; fi
done
