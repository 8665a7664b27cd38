#!/bin/sh
# The container's entrypoint (original-system.md §8.3, with its abort fixed): make sure
# /workspace/workspace and a policy at /workspace/sentinel.yaml exist, then run the command.
#
# `sentinel-isolate --backend docker` mounts the caller's policy read-only at
# /workspace/sentinel.yaml, so the copy below only happens in the compose profiles. A workspace
# the container user may not write is reported, not fatal (the original's `set -eu` mkdir
# aborted the container before the command ran).
set -eu

if [ -w /workspace ]; then
    mkdir -p /workspace/workspace
    if [ ! -e /workspace/sentinel.yaml ]; then
        cp /opt/sentinel/sentinel.yaml /workspace/sentinel.yaml
    fi
else
    echo "sentinel-entrypoint: warning: /workspace is not writable by uid $(id -u); the command may fail to write its files." >&2
fi
cd /workspace

if [ "$#" -eq 0 ]; then
    set -- sentinel --help
fi

# SWITCH(sentinel guard): set to 1 once `sentinel guard` ships, to run every command under it.
guarded="${SENTINEL_GUARD_IN_CONTAINER:-0}"
if [ "$guarded" = 1 ]; then
    exec /usr/local/bin/sentinel guard -- "$@"
fi
exec "$@"
