#!/usr/bin/python3
"""Hostile inputs for the loader tests, made from real bundles.

  loader_craft.py digest IN OUT      a valid CaRT whose footer sha256 is wrong
  loader_craft.py escape OUT         a CaRTed bundle whose tar has a '../' member
  loader_craft.py link OUT           the same with a symbolic link member
CaRT is decoded and encoded here only as far as these cases need (RC4 of the
footer; the tar is CaRTed by `replay-ctl cart pack`, path in $REPLAY_CTL)."""
import io
import json
import os
import struct
import subprocess
import sys
import tarfile

BUNDLE_HEADER = '{"al": {"type": "archive/bundle/al"}, "name": "x.tgz"}'
RESULTS = b'{"submission": {"sid": "craft"}, "files": {"list": [], "tree": {}, "infos": {}}}'


def rc4(key, data):
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for b in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(b ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def wrong_digest(src, dst):
    data = bytearray(open(src, "rb").read())
    key = bytes(data[14:30])
    pos, length = struct.unpack("<QQ", data[-16:])
    footer = json.loads(rc4(key, bytes(data[pos:pos + length])))
    digest = footer["sha256"]
    footer["sha256"] = ("1" if digest[0] != "1" else "2") + digest[1:]
    plain = json.dumps(footer, sort_keys=True, separators=(",", ":")).encode()
    assert len(plain) == length
    data[pos:pos + length] = rc4(key, plain)
    open(dst, "wb").write(bytes(data))


def bundle_with(dst, member):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("results.json")
        info.size = len(RESULTS)
        tar.addfile(info, io.BytesIO(RESULTS))
        tar.addfile(member, io.BytesIO(b"evil") if member.isfile() else None)
    tgz = dst + ".tgz"
    open(tgz, "wb").write(buf.getvalue())
    subprocess.run([os.environ["REPLAY_CTL"], "cart", "pack", "-j", BUNDLE_HEADER, "-o", dst,
                    tgz], check=True, stdout=subprocess.DEVNULL)
    os.unlink(tgz)


def main():
    what = sys.argv[1]
    if what == "digest":
        wrong_digest(sys.argv[2], sys.argv[3])
    elif what == "escape":
        member = tarfile.TarInfo("../evil")
        member.size = 4
        bundle_with(sys.argv[2], member)
    elif what == "link":
        member = tarfile.TarInfo("link")
        member.type = tarfile.SYMTYPE
        member.linkname = "/etc/passwd"
        bundle_with(sys.argv[2], member)
    else:
        sys.exit("unknown case " + what)


main()
