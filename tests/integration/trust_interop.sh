#!/usr/bin/env bash
# Trust (issue 16): replay-ctl keygen, and Ed25519 signatures that our code and
# OpenSSL's command line (an independent implementation) agree on both ways: ours
# verify with `openssl pkeyutl -verify -rawin`, OpenSSL's verify with ours; an
# altered byte or the wrong key fails both ways. No key material in any output.
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"

CTL=$(bin replay-ctl)
TOOL=$(bin trust_tool)
command -v openssl >/dev/null || fail "openssl (Debian's openssl) is needed"
cd "$T"

ossl_verify() { # PUB FILE SIG: exit status of OpenSSL's verification
  openssl pkeyutl -verify -pubin -inkey "$1" -rawin -in "$2" -sigfile "$3" >/dev/null 2>&1
}

note "keygen: a private key only its owner reads, a public key, the fingerprint"
run "$CTL" keygen "$T/ours"
assert_eq 0 "$rc" "keygen exit"
assert_eq 600 "$(stat -c %a ours)" "private key mode"
[ -f ours.pub ] || fail "no ours.pub"
[[ "$out" =~ ^SHA256:[0-9a-f]{64}$ ]] || fail "fingerprint printed: '$out'"
fp=$out
raw_fp=$(openssl pkey -pubin -in ours.pub -outform DER | tail -c 32 | sha256sum | cut -d' ' -f1)
assert_eq "SHA256:$raw_fp" "$fp" "fingerprint = sha256 of the raw public key"
assert_eq "$fp" "$("$TOOL" fingerprint ours.pub)" "fingerprint of the loaded key"
openssl pkey -in ours -noout || fail "OpenSSL cannot read our private key"
assert_eq ED25519 "$(openssl pkey -in ours -text -noout | head -1 | awk '{print $1}')" "type"
body=$(sed -n 2p ours)
assert_not_contains "$out$err" "$body" "keygen output"
assert_not_contains "$out$err" "PRIVATE KEY" "keygen output"

note "keygen never overwrites"
cp ours ours.before
run "$CTL" keygen "$T/ours"
assert_eq 1 "$rc" "second keygen exit"
assert_contains "$err" "not overwriting"
cmp -s ours ours.before || fail "keygen replaced the private key"
run "$CTL" keygen
assert_eq 2 "$rc" "keygen without OUT"

note "OpenSSL's key pair"
openssl genpkey -algorithm ed25519 -out theirs.pem 2>/dev/null
openssl pkey -in theirs.pem -pubout -out theirs.pub
chmod 600 theirs.pem
head -c 100000 /dev/urandom > msg
printf '{"format":"assemblyline-replay-manifest"}\n' > small

for m in msg small; do
  note "$m: ours signs, OpenSSL verifies"
  "$TOOL" sign ours "$m" "$m.sig" || fail "sign $m"
  assert_eq 64 "$(stat -c %s "$m.sig")" "raw signature size"
  ossl_verify ours.pub "$m" "$m.sig" || fail "OpenSSL refused our signature of $m"
  "$TOOL" verify ours.pub "$m" "$m.sig" || fail "we refused our signature of $m"

  note "$m: OpenSSL signs, ours verifies"
  openssl pkeyutl -sign -inkey theirs.pem -rawin -in "$m" -out "$m.osig"
  "$TOOL" verify theirs.pub "$m" "$m.osig" || fail "we refused OpenSSL's signature of $m"
  # Ed25519 is deterministic: the same key and message give the same bytes.
  "$TOOL" sign theirs.pem "$m" "$m.sig2"
  cmp -s "$m.osig" "$m.sig2" || fail "our signature with OpenSSL's key differs from OpenSSL's"

  note "$m: one altered byte fails both ways"
  cp "$m" "$m.bad"
  printf '\x00' | dd of="$m.bad" bs=1 seek=5 conv=notrunc status=none
  cmp -s "$m" "$m.bad" && printf '\x01' | dd of="$m.bad" bs=1 seek=5 conv=notrunc status=none
  ! ossl_verify ours.pub "$m.bad" "$m.sig" || fail "OpenSSL verified an altered $m"
  run "$TOOL" verify ours.pub "$m.bad" "$m.sig"
  assert_eq 1 "$rc" "ours on altered $m"
  assert_contains "$err" "does not verify"
  run "$TOOL" verify theirs.pub "$m.bad" "$m.osig"
  assert_eq 1 "$rc" "ours on altered $m, OpenSSL's signature"

  note "$m: the wrong key fails both ways"
  ! ossl_verify theirs.pub "$m" "$m.sig" || fail "OpenSSL verified ours with the wrong key"
  run "$TOOL" verify ours.pub "$m" "$m.osig"
  assert_eq 1 "$rc" "ours with the wrong key"
done

note "a signature file of the wrong size"
head -c 63 msg.sig > short.sig
run "$TOOL" verify ours.pub msg short.sig
assert_eq 1 "$rc" "short signature"
assert_contains "$err" "63 bytes, expected 64"

note "a private key others may read is refused, without key material in the message"
chmod 644 ours
run "$TOOL" sign ours msg x.sig
assert_eq 1 "$rc" "group-readable key"
assert_contains "$err" "readable by its owner only"
assert_not_contains "$err" "$body" "message"
[ ! -e x.sig ] || fail "signed with a refused key"
echo "trust interop: ok"
