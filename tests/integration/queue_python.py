#!/usr/bin/python3
"""Queue interop with real Python (run by queue_python.sh): Debian's python3 with
python3-redis, the stack upstream's Replay uses, pushes and pops the same Redis keys
as common/queue (through queue_tool), both ways: RPUSH json.dumps(value) is read by
the C consumer as that value; what the C producer pushes, BLPOP + json.loads reads
as the value meant, in json.dumps's exact bytes; checkpoints are HSET/HGET of
json.dumps strings. Non-ASCII text (accents, CJK, astral characters) and messages of
several MiB included.

usage: queue_python.py REDIS_PORT QUEUE_TOOL
"""
import json
import subprocess
import sys

import redis

PORT, TOOL = int(sys.argv[1]), sys.argv[2]
URL = f"redis://127.0.0.1:{PORT}/0"
R = redis.Redis(host="127.0.0.1", port=PORT)
TS = "2024-05-01T12:34:56.123456Z"
TEXT = "\u00e9t\u00e9 \u4e2d\u6587 \U0001F600 \u00df\u2603"  # two-, three- and four-byte UTF-8
BIG = ("signature body " + TEXT + " ") * 150000  # about 5 MiB once json.dumps escapes it


def fail(what):
    print(f"FAIL: {what}", file=sys.stderr)
    sys.exit(1)


def check(cond, what):
    if not cond:
        fail(what)


def tool(*args, stdin=None):
    p = subprocess.run([TOOL, *args], input=stdin, capture_output=True, timeout=300)
    if p.returncode != 0:
        fail(f"queue_tool {' '.join(args[:3])}: exit {p.returncode}: {p.stderr.decode()[-400:]}")
    return p.stdout.decode("utf-8")


# (queue type, value, id the C parser must find, date it must find)
MESSAGES = [
    ("alert", {"alert_id": "A-" + TEXT, "reporting_ts": TS}, "A-" + TEXT, TS),
    ("alert", {"alert_id": "A-plain", "reporting_ts": TS, "from_archive": False}, "A-plain", TS),
    ("submission", {"sid": "S-\u00fc", "times": {"completed": TS}, "n": [1, 2.5, None, True]},
     "S-\u00fc", TS),
    ("badlist", {"classification": "TLP:C", "sources": [{"name": TEXT, "reason": ["a\"b\\c"]}],
                 "hashes": {"md5": "d41d8cd98f00b204e9800998ecf8427e"}, "updated": TS,
                 "id": "bl-" + TEXT}, "bl-" + TEXT, TS),
    ("signature", {"name": TEXT, "data": BIG, "last_modified": TS, "id": "sig-big"},
     "sig-big", TS),
    ("workflow", {"name": "w", "query": "tag:\u00e9", "id": "wf-1"}, "wf-1", ""),
    ("file", "/tmp/replay/input/alert_" + TEXT + ".al_bundle",
     "/tmp/replay/input/alert_" + TEXT + ".al_bundle", ""),
]


def python_to_c():
    """Python RPUSHes json.dumps(value); the C consumer reads the same bytes and value."""
    for qtype, value, want_id, want_date in MESSAGES:
        sent = json.dumps(value).encode()
        R.rpush(f"replay_{qtype}", sent)
        out = tool("consume", URL, qtype, "py-1", "--idle-exit", "300", "--print", "fields")
        acked = [line[len("ACKED "):] for line in out.split("\n") if line.startswith("ACKED ")]
        check(len(acked) == 1, f"{qtype}: one item acknowledged, got {len(acked)}")
        got_id, got_date, raw = acked[0].split("\t", 2)
        check(raw.encode() == sent, f"{qtype}: bytes read differ from json.dumps ({len(sent)} bytes)")
        check(json.loads(raw) == value, f"{qtype}: value read differs")
        check(got_id == want_id, f"{qtype}: id {got_id[:80]!r}, expected {want_id[:80]!r}")
        check(got_date == want_date, f"{qtype}: date {got_date!r}, expected {want_date!r}")
        check(R.llen(f"replay_{qtype}:processing:py-1") == 0, f"{qtype}: processing list")
    # A Python producer that does not escape non-ASCII (ensure_ascii=False) is read too.
    value = {"alert_id": TEXT, "reporting_ts": TS}
    R.rpush("replay_alert", json.dumps(value, ensure_ascii=False).encode())
    out = tool("consume", URL, "alert", "py-1", "--idle-exit", "300", "--print", "fields")
    check(f"ACKED {TEXT}\t{TS}\t" in out, f"raw UTF-8 message: {out[:200]!r}")
    print(f"python -> C: {len(MESSAGES) + 1} messages, largest {len(json.dumps(BIG))} bytes")


def c_to_python():
    """The C producer pushes any JSON form of a value; Python reads json.dumps bytes."""
    for qtype, value, _, _ in MESSAGES:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        tool("push", URL, qtype, "--stdin", stdin=text)
        popped = R.blpop(f"replay_{qtype}", timeout=10)
        check(popped is not None, f"{qtype}: nothing to BLPOP")
        raw = popped[1]
        check(raw == json.dumps(value).encode(),
              f"{qtype}: pushed bytes are not json.dumps: {raw[:120]!r}")
        check(json.loads(raw) == value, f"{qtype}: value differs")
    tool("push", URL, "alert", "--alerts", "2", "--prefix", "P-")
    got = [json.loads(R.blpop("replay_alert", timeout=10)[1]) for _ in range(2)]
    check(got == [{"alert_id": f"P-{i}", "reporting_ts": TS} for i in range(2)],
          f"typed alerts: {got}")
    print(f"C -> python: {len(MESSAGES) + 2} messages")


def checkpoints():
    """HSET/HGET of json.dumps strings, read and written by both sides."""
    key = "replay_checkpoints"
    R.hset(key, "badlist", json.dumps(TS))
    check(tool("checkpoint", URL, "get", "badlist") == TS + "\n", "C reads Python's checkpoint")
    R.hset(key, "workflow", json.dumps(TEXT))
    check(tool("checkpoint", URL, "get", "workflow") == TEXT + "\n", "non-ASCII checkpoint")
    R.hdel(key, "workflow")
    check(tool("checkpoint", URL, "get", "workflow") == "*\n", "absent checkpoint")
    tool("checkpoint", URL, "set", "safelist", "2024-06-01T00:00:00.5Z")
    raw = R.hget(key, "safelist")
    check(raw == json.dumps("2024-06-01T00:00:00.5Z").encode(), f"stored bytes {raw!r}")
    check(json.loads(raw) == "2024-06-01T00:00:00.5Z", "Python reads C's checkpoint")
    tool("checkpoint", URL, "set", "signature", TEXT)
    check(json.loads(R.hget(key, "signature")) == TEXT, "Python reads a non-ASCII checkpoint")
    check(R.hget(key, "signature") == json.dumps(TEXT).encode(), "non-ASCII checkpoint bytes")
    check(tool("checkpoint", URL, "advance", "safelist", TS) == "kept\n", "advance to an older date")
    check(tool("checkpoint", URL, "advance", "safelist", "2024-06-02T00:00:00Z") == "advanced\n",
          "advance to a later date")
    check(json.loads(R.hget(key, "safelist")) == "2024-06-02T00:00:00Z", "advanced value")
    print("checkpoints: both ways")


python_to_c()
c_to_python()
checkpoints()
