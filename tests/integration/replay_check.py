#!/usr/bin/env python3
"""Checks what Replay wrote against what an al-sim instance holds (for the
end-to-end tests). Standard library only; CaRT files are decoded with replay-ctl
($REPLAY_CTL), which checks their digests.

  replay_check.py bundles OUTDIR ALSIM_URL alert|submission [--exact]
      every alert (submission) of al-sim has exactly one valid bundle in OUTDIR
      (with --exact: and no other bundle of that kind is there); a valid bundle is
      a CaRT (digests checked) of a gzip'd tar whose members are results.json and
      sha256-named files, whose results.json names the document.
  replay_check.py batches OUTDIR ALSIM_URL badlist|safelist|signature|workflow [--once]
      every document of the collection is in at least one batch file (with --once:
      in exactly one); every batch is a CaRT of a JSON array of documents with "id".
  replay_check.py ids ALSIM_URL INDEX
      prints the ids of the collection, one per line.
  replay_check.py account SOURCE_URL TARGET_URL FAILED_DIR
      what the target holds against what the source holds, per collection: every
      source document is on the target once or covered by a file of FAILED_DIR (a
      bundle named after it, a batch holding it) whose .error.json gives a reason; no
      document the source does not hold. Documents are keyed by id, workflows by name. Prints a table and the totals (lost,
      duplicated, failed files, bundles imported more than once).
Exit status 0 when the check holds, 1 with the reasons on stderr otherwise."""
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.request

SHA256 = re.compile(r"^[0-9a-f]{64}$")


def docs(url, collection):
    with urllib.request.urlopen(f"{url}/_sim/docs/{collection}") as r:
        return json.load(r)


def uncart(path):
    with tempfile.NamedTemporaryFile() as out:
        proc = subprocess.run([os.environ["REPLAY_CTL"], "cart", "unpack", "-f", "-o", out.name,
                               path], capture_output=True, text=True)
        if proc.returncode != 0:
            raise ValueError(f"not a valid CaRT: {proc.stderr.strip()}")
        with open(out.name, "rb") as f:
            return f.read()


def check_bundle(path, kind, doc_id):
    data = uncart(path)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = tar.getnames()
        for m in tar.getmembers():
            if not m.isfile() or (m.name != "results.json" and not SHA256.match(m.name)):
                raise ValueError(f"unexpected member {m.name!r}")
        if "results.json" not in names:
            raise ValueError("no results.json")
        results = json.load(tar.extractfile("results.json"))
    if kind == "alert":
        got = (results.get("alert") or {}).get("alert_id")
    else:
        got = (results.get("submission") or {}).get("sid")
    if got != doc_id:
        raise ValueError(f"results.json holds {kind} {got!r}")


def cmd_bundles(outdir, url, kind, exact=False):
    want = set(docs(url, kind))
    prefix, suffix = f"{kind}_", ".al_bundle"
    have = {n[len(prefix):-len(suffix)]: n for n in os.listdir(outdir)
            if n.startswith(prefix) and n.endswith(suffix)}
    errors = [f"missing bundle of {kind} {i}" for i in sorted(want - set(have))]
    if exact:
        errors += [f"unexpected bundle {have[i]}" for i in sorted(set(have) - want)]
    for i in sorted(want & set(have)):
        try:
            check_bundle(os.path.join(outdir, have[i]), kind, i)
        except Exception as e:  # noqa: BLE001 - every failure is a reason to report
            errors.append(f"{have[i]}: {e}")
    return errors, f"{len(want & set(have))} {kind} bundles checked"


def cmd_batches(outdir, url, collection, once=False):
    want = set(docs(url, collection))
    seen = {}
    errors = []
    for n in sorted(os.listdir(outdir)):
        if not (n.startswith(collection + "_") and n.endswith(".al_json.cart")):
            continue
        try:
            items = json.loads(uncart(os.path.join(outdir, n)))
            if not isinstance(items, list) or not items:
                raise ValueError("not a non-empty JSON array")
            for it in items:
                seen[it["id"]] = seen.get(it["id"], 0) + 1
        except Exception as e:  # noqa: BLE001
            errors.append(f"{n}: {e}")
    errors += [f"{collection} {i} is in no batch" for i in sorted(want - set(seen))]
    errors += [f"unknown {collection} {i} in a batch" for i in sorted(set(seen) - want)]
    if once:
        errors += [f"{collection} {i} is in {k} batches" for i, k in sorted(seen.items()) if k > 1]
    return errors, f"{len(seen)} {collection} documents in batches"


COLLECTIONS = ["alert", "submission", "file", "result",
               "badlist", "safelist", "signature", "workflow"]


def failed_cover(failed_dir):
    """(ids covered by the failed files, errors): each failed file needs a reason."""
    covered, errors = set(), []
    for n in sorted(os.listdir(failed_dir)):
        if n.startswith(".") or n.endswith(".error.json"):
            continue
        try:
            with open(os.path.join(failed_dir, n + ".error.json")) as f:
                reason = json.load(f).get("reason")
            if not isinstance(reason, str) or not reason.strip():
                raise ValueError("no reason")
        except Exception as e:  # noqa: BLE001
            errors.append(f"failed file {n} without a reason: {e}")
        m = re.match(r"^(alert|submission)_(.+)\.al_bundle$", n)
        if m:
            covered.add(m.group(2))
        elif n.endswith(".al_json.cart"):
            covered.update(it["id"] for it in json.loads(uncart(os.path.join(failed_dir, n))))
    return covered, errors


def keyed(documents, collection):
    """{key: ids of the documents with it}: the id, but a workflow's name, since
    Assemblyline gives every added workflow a new id and the loader matches by name."""
    out = {}
    for i, d in documents.items():
        out.setdefault(d.get("name") if collection == "workflow" else i, set()).add(i)
    return out


def cmd_account(source, target, failed_dir):
    covered, errors = failed_cover(failed_dir)
    lost = dup = 0
    print(f"  {'collection':<11} {'source':>7} {'target':>7} {'failed':>7} {'lost':>5} {'extra':>5}")
    for c in COLLECTIONS:
        src, dst = keyed(docs(source, c), c), keyed(docs(target, c), c)
        want, have = set(src), set(dst)
        missing = want - have
        failed = {k for k in missing if src[k] & covered}
        gone = missing - failed
        extra = [(k, n) for k, n in dst.items() if k not in want or len(n) > 1]
        nextra = sum(len(n) - (k in want) for k, n in extra)
        lost += len(gone)
        dup += nextra
        errors += [f"{c} {k} is neither on the target nor failed" for k in sorted(gone)]
        errors += [f"{c} {k} is on the target {len(n)} time(s) as {sorted(n)}, "
                   f"{'once' if k in want else 'never'} on the source" for k, n in extra]
        print(f"  {c:<11} {len(want):>7} {sum(map(len, dst.values())):>7} {len(failed):>7} "
              f"{len(gone):>5} {nextra:>5}")
    with urllib.request.urlopen(f"{target}/_sim/imports") as r:
        imports = [i for i in json.load(r) if i.get("status") == 200]
    bundles = {}
    for i in imports:
        key = (i.get("alert_id") or "", i.get("sid") or "")
        bundles[key] = bundles.get(key, 0) + 1
    again = sum(k - 1 for k in bundles.values())
    nfailed = sum(1 for n in os.listdir(failed_dir)
                  if not n.startswith(".") and not n.endswith(".error.json"))
    print(f"  lost {lost}, duplicated {dup}, failed files {nfailed}, "
          f"bundles imported again {again} (of {len(imports)} imports)")
    return errors, f"account: lost {lost}, duplicated {dup}"


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    flags = {a for a in args if a.startswith("--")}
    args = [a for a in args if not a.startswith("--")]
    if cmd == "ids":
        print("\n".join(sorted(docs(args[0], args[1]))))
        return 0
    if cmd == "bundles":
        errors, summary = cmd_bundles(*args, exact="--exact" in flags)
    elif cmd == "batches":
        errors, summary = cmd_batches(*args, once="--once" in flags)
    elif cmd == "account":
        errors, summary = cmd_account(*args)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for e in errors[:50]:
        print(e, file=sys.stderr)
    if len(errors) > 50:
        print(f"... and {len(errors) - 50} more", file=sys.stderr)
    print(summary + (" (FAILED)" if errors else ""))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
