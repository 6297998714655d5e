#!/usr/bin/env python3
"""Writes a manifest (issue 16, docs/trust.md) with nothing of ours: json, hashlib
and OpenSSL's command line, for the target side's tests.

usage: manifest_make.py OUTDIR SOURCE SEQUENCE PREVIOUS [--key PRIV.pem] [--raw] FILE...

PREVIOUS is the hex sha256 of the manifest before it, or "none". Each FILE is a
path (listed with its base name, size and sha256) or NAME=SIZE=SHA256 (a file
that will never arrive). With --key the manifest names the key's fingerprint and
gets its .sig from `openssl pkeyutl -sign -rawin`. With --raw, the JSON object
read from stdin replaces the manifest built (for bad inputs; still signed with
--key). Prints the manifest's path and its sha256."""
import hashlib, json, os, subprocess, sys

def sha(data):
    return hashlib.sha256(data).hexdigest()

def fingerprint(priv):
    der = subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return "SHA256:" + sha(der[-32:])

def entry(spec):
    if "=" in spec:
        name, size, digest = spec.split("=")
        return {"name": name, "size": int(size), "sha256": digest, "type": "submission",
                "ids": [name.split("_")[1].split(".")[0]]}
    data = open(spec, "rb").read()
    name = os.path.basename(spec)
    return {"name": name, "size": len(data), "sha256": sha(data),
            "type": name.split("_")[0], "ids": [name.split("_")[1].split(".")[0]]}

def main():
    args = sys.argv[1:]
    key = raw = None
    if "--key" in args:
        i = args.index("--key")
        key = args[i + 1]
        del args[i:i + 2]
    if "--raw" in args:
        args.remove("--raw")
        raw = json.load(sys.stdin)
    out, source, seq, prev, files = args[0], args[1], int(args[2]), args[3], args[4:]
    created = "2026-12-04T13:20:%02d.000000Z" % (seq % 60)
    m = raw if raw is not None else {
        "format": "assemblyline-replay-manifest", "version": 1, "source": source,
        "sequence": seq, "created": created,
        "previous_sha256": None if prev == "none" else prev,
        "key": fingerprint(key) if key else None,
        "files": [entry(f) for f in files]}
    path = os.path.join(out, "replay_manifest_%s_%d.json" % (created, seq))
    data = (json.dumps(m, separators=(",", ":")) + "\n").encode()
    tmp = os.path.join(out, ".tmp-manifest")
    if key:
        with open(tmp, "wb") as f:
            f.write(data)
        subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", tmp,
                        "-out", os.path.join(out, os.path.basename(path) + ".sig")], check=True)
        os.unlink(tmp)
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)
    print(path, sha(data))

main()
