#!/usr/bin/env bash
# TLS of the REST client against a real TLS server (openssl s_server) with a
# self-signed certificate: verification is on by default and its failure is final
# (REPLAY_EAUTH: the server did not prove who it is; never retried); verify: false (--insecure) and a CA file (option, or
# REQUESTS_CA_BUNDLE as upstream's requests reads it) get through. The server
# answers HTML, so getting through shows as "not an Assemblyline JSON envelope".
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"
. "$REPLAY_SOURCE_DIR/tests/integration/alclient_common.sh"

command -v openssl >/dev/null || fail "openssl is not installed"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$T/key.pem" -out "$T/cert.pem" \
  >"$T/req.log" 2>&1 || fail "cannot make a certificate: $(cat "$T/req.log")"
port=$(free_port)
openssl s_server -accept "127.0.0.1:$port" -cert "$T/cert.pem" -key "$T/key.pem" -www -quiet \
  >"$T/s_server.log" 2>&1 &
on_exit "kill $!"
wait_port "$port"
URL="https://127.0.0.1:$port"

note "a self-signed certificate is refused, once, without retries"
tool "$URL" check
expect_failure REPLAY_EAUTH 0 "certificate"
assert_not_contains "$err" "retry" "stderr"

note "verify: false gets through and says so"
tool --insecure "$URL" check
expect_failure REPLAY_EPROTO 200 "not an Assemblyline JSON envelope"
assert_contains "$err" "TLS certificate verification is disabled for $URL"

note "the server's CA, as an option or through REQUESTS_CA_BUNDLE, gets through"
tool --ca "$T/cert.pem" "$URL" check
expect_failure REPLAY_EPROTO 200 "not an Assemblyline JSON envelope"
assert_not_contains "$err" "verification is disabled" "stderr"
REQUESTS_CA_BUNDLE="$T/cert.pem" tool "$URL" check
expect_failure REPLAY_EPROTO 200 "not an Assemblyline JSON envelope"
echo "alclient_tls: passed"
