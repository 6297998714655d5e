#!/usr/bin/env bash
# Queue interop with real Python (Debian's python3 and python3-redis, upstream's
# own stack): queue_python.py pushes and pops the same keys as common/queue, both
# ways, with non-ASCII text and messages of several MiB, and checkpoints.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
"$PY" -c 'import redis' 2>/dev/null || fail "/usr/bin/python3 with python3-redis is needed (run scripts/setup)"
tool=$(bin queue_tool)
start_redis
"$PY" "$(dirname "$0")/queue_python.py" "$REDIS_PORT" "$tool"
echo "queue_python: ok"
