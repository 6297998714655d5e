#!/bin/sh
# The directories of the runtime image, with their owners and modes. Run by
# docker/Dockerfile as root with ROOT=/; tests/integration/packaging_compose.sh
# runs it under a scratch ROOT and checks what uids 1000 and 2000 can reach.
#
#   docker/image-dirs.sh [ROOT]
#
# /etc/assemblyline is 0755 (upstream's is 0750 root:1000): the config files are
# bind-mounted or ConfigMap-mounted into it and protected by their own modes, and
# a container run as another group (compose REPLAY_GID, Helm's runAsGroup) must
# still reach them. Replay's default directories belong to uid/gid 1000 and are
# group-writable, so another uid in group 1000 (Helm's replayLoaderUser) can write.
set -eu
root=${1:-/}
install -d -o 0 -g 0 -m 0755 "$root/etc/assemblyline"
install -d -o 1000 -g 1000 -m 0770 "$root/var/log/assemblyline" "$root/var/cache/assemblyline"
install -d -o 1000 -g 1000 -m 0770 "$root/tmp/replay" \
    "$root/tmp/replay/work" "$root/tmp/replay/input" "$root/tmp/replay/output" "$root/tmp/replay/failed"
