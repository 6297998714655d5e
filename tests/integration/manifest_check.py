#!/usr/bin/env python3
"""Checks the manifests of a creator-worker's output directory (issue 16), with
nothing of ours: json, hashlib and OpenSSL's command line.

usage: manifest_check.py OUTDIR [--pub PUB.pem] [--listed-all]

Exit 0 when: manifests are replay_manifest_<created>_<sequence>.json whose
sequences run 1..N without a gap or repeat; each names the previous one's sha256
(null for the first); each lists files that exist with that size and sha256; with
--pub, each has a .sig that `openssl pkeyutl -verify -rawin` accepts and names
PUB's fingerprint; with --listed-all, every bundle and export of OUTDIR is listed.
Prints "manifests N files M" (M: distinct names listed)."""
import hashlib, json, os, re, subprocess, sys

def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()

def fingerprint(pub):
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", pub, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return "SHA256:" + hashlib.sha256(der[-32:]).hexdigest()

def main():
    out, args = sys.argv[1], sys.argv[2:]
    pub = args[args.index("--pub") + 1] if "--pub" in args else None
    names = sorted(os.listdir(out))
    manifests = []
    for n in names:
        m = re.fullmatch(r"replay_manifest_(.+)_(\d+)\.json", n)
        if m:
            manifests.append((int(m.group(2)), n))
    manifests.sort()
    if not manifests:
        sys.exit("no manifest in " + out)
    prev, listed = None, set()
    for i, (seq, n) in enumerate(manifests):
        path = os.path.join(out, n)
        raw = open(path, "rb").read()
        doc = json.loads(raw)
        if seq != i + 1 or doc["sequence"] != seq:
            sys.exit(f"{n}: sequence {doc['sequence']}, expected {i + 1}")
        if doc["format"] != "assemblyline-replay-manifest" or doc["version"] != 1:
            sys.exit(f"{n}: format")
        if doc["previous_sha256"] != prev:
            sys.exit(f"{n}: previous_sha256 {doc['previous_sha256']}, expected {prev}")
        if pub:
            if doc["key"] != fingerprint(pub):
                sys.exit(f"{n}: key {doc['key']}")
            r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub,
                                "-rawin", "-in", path, "-sigfile", path + ".sig"],
                               capture_output=True)
            if r.returncode != 0:
                sys.exit(f"{n}: OpenSSL does not verify its signature")
        elif doc["key"] is not None or os.path.exists(path + ".sig"):
            sys.exit(f"{n}: signed without a key")
        for f in doc["files"]:
            fp = os.path.join(out, f["name"])
            if not os.path.isfile(fp):
                sys.exit(f"{n}: lists {f['name']}, which is not there")
            if os.path.getsize(fp) != f["size"] or sha(fp) != f["sha256"]:
                sys.exit(f"{n}: {f['name']}: size or sha256 differ")
            if not f["ids"] or f["type"] not in ("alert", "submission", "badlist", "safelist",
                                                 "signature", "workflow"):
                sys.exit(f"{n}: {f['name']}: type {f['type']} ids {f['ids']}")
            listed.add(f["name"])
        prev = hashlib.sha256(raw).hexdigest()
    if "--listed-all" in args:
        data = {n for n in names if n.endswith((".al_bundle", ".al_json.cart"))}
        if data != listed:
            sys.exit(f"not listed: {sorted(data - listed)[:5]}; listed, absent: "
                     f"{sorted(listed - data)[:5]}")
    print(f"manifests {len(manifests)} files {len(listed)}")

main()
