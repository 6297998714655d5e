#!/usr/bin/python3
"""The hostile-input corpus (tests/hostile/), made from scratch with the stdlib.

  make.py small DIR   writes the committed cases into DIR/<kind>/ (run once; the
                      files are in git, this says how each was made)
  make.py big DIR     writes the cases too big to commit (decompression bombs)
                      into DIR/<kind>/, at test time

Queue messages and HTTP bodies may hold @IN@, which the driver replaces with its
input directory. CaRT is written here as upstream writes it (RC4 with the default
key, one zlib stream, footer with length and digests)."""
import gzip
import hashlib
import io
import json
import os
import struct
import sys
import tarfile
import zlib

KEY = b"\x03\x01\x04\x01\x05\x09\x02\x06" * 2
BUNDLE_HEADER = {"al": {"type": "archive/bundle/al"}, "name": "x.tgz"}
RESULTS = b'{"submission": {"sid": "hostile"}, "files": {"list": [], "tree": {}, "infos": {}}}'


def rc4(data, key=KEY):
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) & 255
        s[i], s[j] = s[j], s[i]
    out = bytearray(len(data))
    i = j = 0
    for k, b in enumerate(data):
        i = (i + 1) & 255
        j = (j + s[i]) & 255
        s[i], s[j] = s[j], s[i]
        out[k] = b ^ s[(s[i] + s[j]) & 255]
    return bytes(out)


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def cart(data, header=None, footer=None, hlen=None, flen=None, pos=None, comp=None):
    """A CaRT of data; any field may be forced to a hostile value."""
    hdr = header if isinstance(header, bytes) else dumps(header) if header is not None else b""
    out = struct.pack("<4shQ16sQ", b"CART", 1, 0, KEY, len(hdr) if hlen is None else hlen)
    out += rc4(hdr)
    out += rc4(comp if comp is not None else zlib.compress(data, 1))
    if footer is None:
        footer = dumps({"md5": hashlib.md5(data).hexdigest(), "sha1": hashlib.sha1(data).hexdigest(),
                        "sha256": hashlib.sha256(data).hexdigest(), "length": str(len(data))})
    fpos = len(out)
    return out + rc4(footer) + struct.pack("<4sQQQ", b"TRAC", 0, fpos if pos is None else pos,
                                           len(footer) if flen is None else flen)


def info(name, kind=tarfile.REGTYPE, size=0, **kw):
    t = tarfile.TarInfo(name)
    t.type = kind
    t.size = size
    for k, v in kw.items():
        setattr(t, k, v)
    return t


def tgz(members, results=RESULTS, fmt=tarfile.PAX_FORMAT):
    """A gzip tar: results.json (unless None), then (TarInfo, bytes) members."""
    buf = io.BytesIO()
    # gzip's header time 0: the same bytes on every run.
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=fmt) as tar:
        if results is not None:
            tar.addfile(info("results.json", size=len(results)), io.BytesIO(results))
        for t, data in members:
            tar.addfile(t, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def bundle(members, results=RESULTS):
    return cart(tgz(members, results), BUNDLE_HEADER)


def declared_size_tar(size_text):
    """A tar whose member's pax header declares size_text bytes, and no data."""
    t = info("big.bin")
    raw = t.tobuf(tarfile.PAX_FORMAT)  # a ustar header of size 0
    pax_record = b" size=" + size_text.encode() + b"\n"
    n = len(pax_record) + 1
    while len(str(n)) + len(pax_record) != n:
        n = len(str(n)) + len(pax_record)
    rec = str(n).encode() + pax_record
    ph = info("././@PaxHeader", kind=tarfile.XHDTYPE, size=len(rec)).tobuf(tarfile.USTAR_FORMAT)
    body = rec + b"\0" * (-len(rec) % 512)
    res = info("results.json", size=len(RESULTS)).tobuf(tarfile.USTAR_FORMAT)
    res += RESULTS + b"\0" * (-len(RESULTS) % 512)
    return res + ph + body + raw + b"\0" * 1024


def deep(n, open_="[", close="]"):
    return (open_ * n + close * n).encode()


def write(d, kind, name, data):
    os.makedirs(os.path.join(d, kind), exist_ok=True)
    with open(os.path.join(d, kind, name), "wb") as f:
        f.write(data)


def small(d):
    # config: replay.yml as a service reads it (@IN@ is not used here).
    good = ('loader:\n  input_directory: "/tmp/in"\n'
            '  client: {type: api, options: {host: "http://127.0.0.1:9", user: u, '
            'apikey: "u:Hostile-Secret-7"}}\n')
    write(d, "config", "empty.yml", b"")
    write(d, "config", "zero_filled.yml", b"\0" * 4096)
    write(d, "config", "truncated.yml", good.encode()[:60])
    write(d, "config", "invalid_utf8.yml", b'loader:\n  input_directory: "/tmp/\xff\xfe"\n')
    laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 12):
        laughs += "a%d: &a%d [%s]\n" % (i, i, ", ".join(["*a%d" % (i - 1)] * 10))
    write(d, "config", "alias_bomb.yml", (laughs + "loader:\n  rescan: *a11\n").encode())
    write(d, "config", "int_overflow.yml", b"loader:\n  input_threads: 99999999999999999999999999\n")
    write(d, "config", "negative.yml", b"loader:\n  input_threads: -1\n")
    write(d, "config", "secret_bad_value.yml", (good + "  input_threads: many\n").encode())

    # queue: raw messages for replay_file (the loader-worker's queue).
    write(d, "queue", "empty.msg", b"")
    write(d, "queue", "zero_filled.msg", b"\0" * 64)
    write(d, "queue", "truncated.msg", b'"@IN@/submission_cut')
    write(d, "queue", "deep_nesting.msg", deep(5000))
    write(d, "queue", "invalid_utf8.msg", b'"@IN@/submission_\xff\xfe.al_bundle"')
    write(d, "queue", "int_overflow.msg", b"123456789012345678901234567890e99999")
    write(d, "queue", "nul_in_name.msg", b'"@IN@/submission_x\\u0000.al_bundle"')
    write(d, "queue", "newline_traversal.msg", b'"@IN@/x\\n/../../etc/passwd.al_bundle"')
    write(d, "queue", "object.msg", b'{"path": "@IN@/submission_obj.al_bundle"}')
    write(d, "queue", "device.msg", b'"/dev/zero/submission_z.al_bundle"')

    # cart: CaRT files for replay-ctl cart verify (cart_ctl.sh has the plain cuts).
    data = b"hostile cart data\n" * 8
    write(d, "cart", "zero_filled.cart", b"\0" * 4096)
    write(d, "cart", "hlen_overflow.cart", cart(data, hlen=2**64 - 1))
    write(d, "cart", "flen_overflow.cart", cart(data, flen=2**64 - 1))
    write(d, "cart", "pos_overflow.cart", cart(data, pos=2**64 - 1))
    foot = {"md5": hashlib.md5(data).hexdigest(), "sha1": hashlib.sha1(data).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest()}
    write(d, "cart", "length_overflow.cart",
          cart(data, footer=dumps(dict(foot, length="99999999999999999999999999"))))
    write(d, "cart", "length_negative.cart", cart(data, footer=dumps(dict(foot, length="-1"))))
    write(d, "cart", "footer_invalid_utf8.cart",
          cart(data, footer=b'{"length": "\xff\xfe", "sha256": "00"}'))
    write(d, "cart", "header_deep_nesting.cart", cart(data, header=deep(5000)))
    write(d, "cart", "header_invalid_utf8.cart", cart(data, header=b'{"name": "\xc0\xaf"}'))

    # bundle: .al_bundle files the loader-worker checks (loader_bad_inputs.sh has
    # "../evil", a symbolic link, empty, truncated, corrupt and a wrong digest).
    write(d, "bundle", "absolute_member.al_bundle", bundle([(info("/etc/hostile", size=4), b"evil")]))
    write(d, "bundle", "nested_traversal.al_bundle",
          bundle([(info("a/b/../../../hostile", size=4), b"evil")]))
    write(d, "bundle", "hard_link.al_bundle",
          bundle([(info("hl", kind=tarfile.LNKTYPE, linkname="/etc/passwd"), None)]))
    write(d, "bundle", "char_device.al_bundle",
          bundle([(info("null", kind=tarfile.CHRTYPE, devmajor=1, devminor=3), None)]))
    write(d, "bundle", "fifo_member.al_bundle", bundle([(info("fifo", kind=tarfile.FIFOTYPE), None)]))
    write(d, "bundle", "newline_member.al_bundle",
          bundle([(info("../x\nresults.json", size=4), b"evil")]))
    write(d, "bundle", "results_symlink.al_bundle",
          bundle([(info("results.json", kind=tarfile.SYMTYPE, linkname="/etc/passwd"), None)],
                 results=None))
    write(d, "bundle", "results_deep_nesting.al_bundle",
          bundle([], results=b'{"a": ' + deep(5000) + b"}"))
    write(d, "bundle", "results_invalid_utf8.al_bundle",
          bundle([], results=b'{"submission": {"sid": "\xed\xa0\x80"}}'))
    write(d, "bundle", "results_array.al_bundle", bundle([], results=b"[]"))
    write(d, "bundle", "results_int_overflow.al_bundle",
          bundle([], results=b'{"n": 1' + b"0" * 5000 + b"e99999999999999999999}"))
    write(d, "bundle", "no_results.al_bundle",
          bundle([(info("other.json", size=2), b"{}")], results=None))
    write(d, "bundle", "size_overflow.al_bundle",
          cart(declared_size_tar("18446744073709551616"), BUNDLE_HEADER))
    write(d, "bundle", "size_bomb.al_bundle",
          cart(declared_size_tar("107374182400"), BUNDLE_HEADER))
    write(d, "bundle", "wrong_cart_type.al_bundle",
          cart(tgz([]), {"al": {"type": "archive/cart"}, "name": "x.tgz"}))
    write(d, "bundle", "zero_filled.al_bundle", b"\0" * 8192)

    # batch: list exports (.al_json, .al_json.cart).
    write(d, "batch", "badlist_deep_nesting.al_json", b"[" + deep(5000) + b"]")
    write(d, "batch", "badlist_invalid_utf8.al_json", b'[{"id": "\xff"}]')
    write(d, "batch", "badlist_zero_filled.al_json", b"\0" * 4096)
    write(d, "batch", "badlist_empty.al_json", b"")
    write(d, "batch", "badlist_int_overflow.al_json", b'[{"id": 1e99999999999999999999}]')
    write(d, "batch", "badlist_not_objects.al_json", b'["a", 1, null]')
    write(d, "batch", "safelist_truncated.al_json.cart", cart(b'[{"id": "a"}]')[:-10])
    write(d, "batch", "safelist_wrong_digest.al_json.cart",
          cart(b"[]", footer=dumps({"length": "2", "sha256": "0" * 64})))

    # http: bodies of a 200 answer to replay-ctl request (GET /api/v4/replay/...).
    write(d, "http", "empty.body", b"")
    write(d, "http", "zero_filled.body", b"\0" * 512)
    write(d, "http", "truncated.body", b'{"api_response": {"success": tr')
    write(d, "http", "not_json.body", b"<html><body>Proxy error</body></html>")
    write(d, "http", "deep_nesting.body", b'{"api_response": ' + deep(5000) + b"}")
    write(d, "http", "invalid_utf8.body",
          b'{"api_response": null, "api_error_message": "\xff\xfe", "api_status_code": 200}')
    write(d, "http", "int_overflow.body",
          b'{"api_response": {"success": true}, "api_status_code": 1e999999999}')
    write(d, "http", "terminal_escape.body",
          b'{"api_response": null, "api_error_message": "\\u001b[2J\\u001b]0;pwned\\u0007",'
          b' "api_status_code": 500}')


def big(d):
    # YAML nested 100,000 levels deep (a recursive reader runs out of stack).
    write(d, "config", "deep_nesting.yml", b"loader: " + deep(100000))
    write(d, "config", "deep_mapping.yml", b"loader: " + b"{a: " * 100000 + b"}" * 100000)
    # A CaRT of 14 declared bytes inflating to 512 MiB of zeros (about 500 KiB).
    z = zlib.compressobj(9)
    chunk = b"\0" * (1 << 20)
    comp = b"".join(z.compress(chunk) for _ in range(512)) + z.flush()
    data = b"14 bytes here\n"
    foot = dumps({"length": "14", "md5": hashlib.md5(data).hexdigest(),
                  "sha1": hashlib.sha1(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest()})
    write(d, "cart", "inflate_bomb.cart", cart(b"", footer=foot, comp=comp))
    # A bundle whose CaRT says 14 bytes and inflates a tar of 512 MiB (a zero member).
    write(d, "bundle", "inflate_bomb.al_bundle", cart(b"", BUNDLE_HEADER, footer=foot, comp=comp))
    # An HTTP answer of 96 MiB of JSON whitespace and one object.
    write(d, "http", "huge.body", b" " * (96 << 20) + b'{"api_response": {"success": true}}')


if __name__ == "__main__":
    {"small": small, "big": big}[sys.argv[1]](sys.argv[2])
