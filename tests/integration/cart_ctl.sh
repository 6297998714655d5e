#!/usr/bin/env bash
# replay-ctl cart: round trips, byte-identity with an independent Python writer of
# the upstream algorithm (same zlib), Python's zlib reading our fast mode, and every
# bad input of issue 3: exit code 1, a clear message, no output file and no temp
# file left. Usage errors exit 2. Keys never appear in messages.
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"

CTL=$(bin replay-ctl)
PY=/usr/bin/python3
[ -x "$PY" ] || fail "/usr/bin/python3 is needed (Debian's python3)"
cd "$T"

# Python model of upstream's cart.py (pack_stream / unpack_stream), stdlib only.
cat > cartref.py <<'EOF'
import hashlib, json, struct, sys, zlib

DEFAULT_KEY = b"\x03\x01\x04\x01\x05\x09\x02\x06" * 2

def rc4(key, data):
    s = list(range(256)); j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) & 255; s[i], s[j] = s[j], s[i]
    out = bytearray(len(data)); i = j = 0
    for k, b in enumerate(data):
        i = (i + 1) & 255; j = (j + s[i]) & 255; s[i], s[j] = s[j], s[i]
        out[k] = b ^ s[(s[i] + s[j]) & 255]
    return bytes(out)

def pack(data, header):
    hdr = json.dumps(header, separators=(",", ":"), sort_keys=True).encode() if header else b""
    out = struct.pack("<4shQ16sQ", b"CART", 1, 0, DEFAULT_KEY, len(hdr)) + rc4(DEFAULT_KEY, hdr)
    z = zlib.compressobj(zlib.Z_BEST_SPEED)
    comp = b"".join(z.compress(data[i:i + 65536]) for i in range(0, len(data), 65536)) + z.flush()
    out += rc4(DEFAULT_KEY, comp)
    footer = {"md5": hashlib.md5(data).hexdigest(), "sha1": hashlib.sha1(data).hexdigest(),
              "sha256": hashlib.sha256(data).hexdigest(), "length": str(len(data))}
    ftxt = json.dumps(footer, separators=(",", ":"), sort_keys=True).encode()
    pos = len(out)
    return out + rc4(DEFAULT_KEY, ftxt) + struct.pack("<4sQQQ", b"TRAC", 0, pos, len(ftxt))

def unpack(blob):
    magic, ver, res, key, hlen = struct.unpack("<4shQ16sQ", blob[:38])
    assert magic == b"CART" and ver == 1 and res == 0
    header = json.loads(rc4(key, blob[38:38 + hlen]) or b"{}")
    d = zlib.decompressobj()
    plain = rc4(key, blob[38 + hlen:])  # upstream decrypts the tail with the data keystream too
    data = d.decompress(plain)
    assert d.eof, "zlib stream did not end"
    _, _, pos, flen = struct.unpack("<4sQQQ", blob[-28:])
    footer = json.loads(rc4(key, blob[pos:pos + flen]))
    return header, data, footer

cmd = sys.argv[1]
if cmd == "pack":
    data = open(sys.argv[2], "rb").read()
    header = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    open(sys.argv[3], "wb").write(pack(data, header))
elif cmd == "unpack":
    header, data, footer = unpack(open(sys.argv[2], "rb").read())
    open(sys.argv[3], "wb").write(data)
    print(json.dumps(header, sort_keys=True), json.dumps(footer, sort_keys=True))
elif cmd == "patch":  # patch FILE OFFSET HEXBYTES (negative offset: from the end)
    blob = bytearray(open(sys.argv[2], "rb").read()); off = int(sys.argv[3])
    new = bytes.fromhex(sys.argv[4]); off = off if off >= 0 else len(blob) + off
    blob[off:off + len(new)] = new
    open(sys.argv[2], "wb").write(blob)
elif cmd == "refooter":  # refooter FILE JSON: replace the footer, fix the trailer
    blob = open(sys.argv[2], "rb").read()
    _, _, pos, flen = struct.unpack("<4sQQQ", blob[-28:])
    ftxt = sys.argv[3].encode()
    out = blob[:pos] + rc4(DEFAULT_KEY, ftxt) + struct.pack("<4sQQQ", b"TRAC", 0, pos, len(ftxt))
    open(sys.argv[2], "wb").write(out)
elif cmd == "gen":  # gen FILE SIZE: mixed bytes
    import random
    r = random.Random(int(sys.argv[3])); n = int(sys.argv[3]); parts = []
    while sum(map(len, parts)) < n:
        parts.append(r.randbytes(3000) if r.random() < 0.3 else
                     json.dumps({"sha256": "%064x" % r.getrandbits(256), "n": r.random()}).encode())
    open(sys.argv[2], "wb").write(b"".join(parts)[:n])
EOF
ref() { "$PY" cartref.py "$@"; }

# no_output NAME: neither NAME nor a temp file beside it exists.
no_output() {
  [ ! -e "$1" ] || fail "$1 exists after a failure"
  local tmps
  tmps=$(find . -maxdepth 1 -name ".$(basename "$1").*" | wc -l) # any temporary name
  [ "$tmps" -eq 0 ] || fail "temp files of $1 left behind"
}

# expect_bad FILE NEEDLE: unpack and verify both exit 1 naming the problem, no output.
expect_bad() {
  run "$CTL" cart unpack -o out.bin "$1"
  assert_eq 1 "$rc" "unpack exit code for $1 ($err)"
  assert_contains "$err" "$2" "unpack stderr for $1"
  assert_contains "$err" "replay-ctl cart unpack: $1: " "unpack stderr for $1"
  no_output out.bin
  run "$CTL" cart verify "$1"
  assert_eq 1 "$rc" "verify exit code for $1 ($err)"
  assert_contains "$err" "$2" "verify stderr for $1"
}

note "round trips in both modes, and Python's zlib reads both"
ref gen data.bin 300000
for mode in "" --fast; do
  rm -f data.bin.cart back.bin py.bin
  run "$CTL" cart pack $mode data.bin
  assert_eq 0 "$rc" "pack $mode: $err"
  assert_contains "$out" "packed data.bin.cart: 300000 bytes of data"
  run "$CTL" cart unpack -o back.bin data.bin.cart
  assert_eq 0 "$rc" "unpack $mode: $err"
  cmp -s data.bin back.bin || fail "unpack $mode gave other bytes"
  meta=$(ref unpack data.bin.cart py.bin)
  cmp -s data.bin py.bin || fail "Python's zlib read other bytes from $mode output"
  assert_contains "$meta" '{"name": "data.bin"}' "header seen by Python"
  assert_contains "$meta" "\"sha256\": \"$(sha256sum < data.bin | cut -d' ' -f1)\"" "footer"
done

note "default mode is byte-identical to the upstream algorithm"
rm -f data.bin.cart
"$CTL" cart pack -q -j '{"al":{"type":"archive/bundle/al"}}' -n 'x.tgz' data.bin
ref pack data.bin want.cart '{"name": "x.tgz", "al": {"type": "archive/bundle/al"}}'
cmp data.bin.cart want.cart || fail "CaRT bytes differ from the upstream algorithm"
printf 'Hello, world!' | "$CTL" cart pack -o hello.cart -
assert_eq 269 "$(stat -c %s hello.cart)" "size of the worked example"
printf '' | "$CTL" cart pack -o empty.cart -
assert_eq 255 "$(stat -c %s empty.cart)" "size of the empty example"

note "info, verify, stdin and stdout"
run "$CTL" cart info data.bin.cart
assert_eq 0 "$rc" "info: $err"
assert_eq '{"al": {"type": "archive/bundle/al"}, "name": "x.tgz"}' \
  "$(echo "$out" | "$PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["header"], sort_keys=True))')"
run "$CTL" cart verify data.bin.cart
assert_eq 0 "$rc" "verify: $err"
assert_contains "$out" '"verified":{"length":300000,'
"$CTL" cart unpack -o - data.bin.cart < /dev/null | cmp -s - data.bin || fail "unpack to stdout"
"$CTL" cart unpack -o - - < data.bin.cart | cmp -s - data.bin || fail "unpack stdin to stdout"

note "existing output: refused without --force, replaced with it"
cp hello.cart keep.cart
echo old > out.bin
run "$CTL" cart unpack -o out.bin hello.cart
assert_eq 1 "$rc" "exit code when the output exists"
assert_contains "$err" "out.bin already exists"
assert_eq old "$(cat out.bin)"
run "$CTL" cart unpack -f -o out.bin hello.cart
assert_eq 0 "$rc" "unpack --force: $err"
assert_eq "Hello, world!" "$(cat out.bin)"
rm -f out.bin

note "custom keys (base64, padded to 16 like the cart CLI) stay out of messages"
printf 'VGVzdCBEYSBLZXkgIQ==\n' > key.txt   # "Test Da Key !"
run "$CTL" cart pack -k VGVzdCBEYSBLZXkgIQ== -o keyed.cart data.bin
assert_eq 0 "$rc" "pack with a key: $err"
run "$CTL" cart verify --key-file key.txt keyed.cart
assert_eq 0 "$rc" "verify with the key file: $err"
run "$CTL" cart unpack -o out.bin keyed.cart
assert_eq 1 "$rc" "unpack without the key"
assert_contains "$err" "packed with a custom key"
no_output out.bin
run "$CTL" cart unpack -k d3Jvbmcga2V5IGhlcmU= -o out.bin keyed.cart
assert_eq 1 "$rc" "unpack with a wrong key"
assert_contains "$err" "does not decrypt with this key"
assert_not_contains "$err" "d3Jvbmcga2V5IGhlcmU=" "stderr"
no_output out.bin

note "bad inputs: exit 1, clear message, nothing left behind"
cp hello.cart base.cart      # 269 bytes: header 38, data 21, footer 182, trailer 28
: > empty.file
expect_bad empty.file "empty input: not a CaRT file"
for cut in 20 38 45 59 100 241 250; do
  head -c "$cut" base.cart > "cut$cut.cart"
done
expect_bad cut20.cart "20 of the 38 header bytes"
expect_bad cut38.cart "the input ends inside the compressed data"
expect_bad cut45.cart "the input ends inside the compressed data"
expect_bad cut59.cart "0 of the 28 trailer bytes"
expect_bad cut100.cart "no TRAC trailer"
expect_bad cut241.cart "no TRAC trailer"
expect_bad cut250.cart "no TRAC trailer"
cp base.cart magic.cart; ref patch magic.cart 0 58595a5a
expect_bad magic.cart "not a CaRT file (no CART magic)"
cp base.cart version.cart; ref patch version.cart 4 0200
expect_bad version.cart "unsupported CaRT version 2"
cp base.cart pos.cart; ref patch pos.cart -16 0000000000010000
expect_bad pos.cart "trailer puts the footer at offset 1099511627776"
cp base.cart deflate.cart; ref patch deflate.cart 40 00
expect_bad deflate.cart "cannot decompress the data"
cp base.cart lying.cart; ref refooter lying.cart '{"length":"14"}'
expect_bad lying.cart "length mismatch: footer says 14 bytes, data has 13"
cp base.cart digest.cart
ref refooter digest.cart '{"md5":"6cd3556deb0da54bca060b4c39479839","sha256":"0000000000000000000000000000000000000000000000000000000000000000"}'
expect_bad digest.cart "sha256 mismatch"
cp base.cart hlen.cart; ref patch hlen.cart 30 0000000001000000
expect_bad hlen.cart "optional header length 4294967296 is over the 1048576-byte limit"
run "$CTL" cart info hlen.cart
assert_eq 1 "$rc" "info of a 4 GiB header length"
run "$CTL" cart info pos.cart
assert_eq 1 "$rc" "info of a footer outside the file"
assert_contains "$err" "do not fit a file of 269 bytes"
run "$CTL" cart verify --require-digests empty.cart
assert_eq 0 "$rc" "verify --require-digests of a full footer: $err"
cp base.cart bare.cart; ref refooter bare.cart '{}'
run "$CTL" cart verify --require-digests bare.cart
assert_eq 1 "$rc" "verify --require-digests without digests"
assert_contains "$err" "CaRT footer has no md5"

note "a CaRT inside a CaRT"
run "$CTL" cart pack -o nested.cart hello.cart
assert_eq 1 "$rc" "packing a CaRT"
assert_contains "$err" "already is a CaRT file"
no_output nested.cart
run "$CTL" cart pack --nested -o nested.cart hello.cart
assert_eq 0 "$rc" "pack --nested: $err"
run "$CTL" cart unpack -o out.bin nested.cart
assert_eq 1 "$rc" "unpacking a nested CaRT"
assert_contains "$err" "holds another CaRT file"
no_output out.bin
run "$CTL" cart verify nested.cart   # the outer CaRT itself is intact
assert_eq 0 "$rc" "verify of a nested CaRT: $err"
run "$CTL" cart unpack --nested -o out.bin nested.cart
assert_eq 0 "$rc" "unpack --nested: $err"
cmp -s out.bin hello.cart || fail "nested unpack gave other bytes"
rm -f out.bin

note "usage errors exit 2"
for args in "cart" "cart frob x" "cart pack" "cart pack a b" "cart pack --bogus x" \
            "cart pack -k %%% data.bin" "cart pack -j [1] data.bin" "cart info -" \
            "cart info -o x hello.cart" "cart unpack --key-file missing.key hello.cart"; do
  run "$CTL" $args
  assert_eq 2 "$rc" "exit code of '$args' ($err)"
done
run "$CTL" cart pack --footer '{"a":' -o f.cart data.bin
assert_eq 2 "$rc" "bad --footer"
no_output f.cart
run "$CTL" cart --help
assert_eq 0 "$rc" "cart --help"
assert_contains "$out" "replay-ctl cart pack"
run "$CTL" cart unpack nothere.cart
assert_eq 1 "$rc" "missing input"
assert_contains "$err" "cannot open nothere.cart"
echo "cart_ctl: all checks passed"
