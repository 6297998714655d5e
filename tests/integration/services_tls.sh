#!/usr/bin/env bash
# The services against an Assemblyline (al-sim --mode upstream) that serves HTTPS with
# a self-signed certificate (issue 14, security): with the default verify the
# creator refuses it, says why, keeps running and queues nothing; with verify: false
# it gets through and warns; the creator-worker trusting the certificate through
# REQUESTS_CA_BUNDLE (as upstream's requests reads it) bundles over HTTPS; the API
# key shows in no log.
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/alsim.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/services.sh"

export EMPTY_WAIT_TIME=1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$T/key.pem" -out "$T/cert.pem" \
  >"$T/req.log" 2>&1 || fail "cannot make a certificate: $(cat "$T/req.log")"
export CURL_CA_BUNDLE=$T/cert.pem # the test's own curl calls; libcurl in the services ignores it
secret=TlsS3cretKey42
start_redis
start_alsim --name source --mode upstream --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" \
  --user "reader:rk:$secret"
case "$ALSIM_SOURCE_URL" in https://*) ;; *) fail "al-sim does not serve HTTPS: $ALSIM_SOURCE_URL" ;; esac
alsim_seed source submissions=3 alerts=3 files=1 results=1 file_size=256 badlist=0 safelist=0 \
  signatures=0 workflows=0 submission_state=requested >/dev/null
config() { # extra client options
  write_config "$T/replay.yml" <<YML
creator:
  client:
    type: api
    options: {host: "$ALSIM_SOURCE_URL", user: reader, apikey: "rk:$secret"$1}
  output_filestore: "file://$T/out"
  working_directory: "$T/work"
  badlist_input: {enabled: false}
  safelist_input: {enabled: false}
  signature_input: {enabled: false}
  workflow_input: {enabled: false}
YML
}
queued() { redis-cli -p "$REDIS_PORT" llen "replay_$1"; }

note "a self-signed certificate is refused by default: said, backed off, nothing queued"
config ""
start_service creator "$T/replay.yml"
wait_for 60 "the refusal logged" grep -q "certificate" "$T/creator.log"
service_alive creator || fail "the creator died on a certificate it does not trust: $(tail -5 "$T/creator.log")"
assert_eq 0 "$(queued alert)" "alerts queued from an untrusted server"
assert_eq 0 "$(queued submission)" "submissions queued from an untrusted server"
stop_service creator

note "verify: false gets through, with a warning"
config ", verify: false"
: >"$T/creator.log"
start_service creator "$T/replay.yml"
wait_for 60 "the alerts queued" bash -c "[ \$(redis-cli -p $REDIS_PORT llen replay_alert) -eq 3 ]"
wait_for 60 "the submissions queued" bash -c "[ \$(redis-cli -p $REDIS_PORT llen replay_submission) -eq 3 ]"
assert_file_contains "$T/creator.log" "TLS certificate verification is disabled for $ALSIM_SOURCE_URL"
stop_service creator

note "the certificate trusted through REQUESTS_CA_BUNDLE: the worker bundles over HTTPS"
config ""
mkdir -p "$T/out"
REQUESTS_CA_BUNDLE=$T/cert.pem start_service creator-worker "$T/replay.yml"
wait_for 120 "six bundles" bash -c "[ \$(ls '$T/out' | grep -c '\\.al_bundle\$') -eq 6 ]"
stop_service creator-worker
grep -q "verification is disabled" "$T/creator-worker.log" && fail "the worker disabled verification"

for f in "$T"/*.log; do
  grep -l -- "$secret" "$f" && fail "the API key is in $f"
done
services_finish
alsim_finish
note "ok"
