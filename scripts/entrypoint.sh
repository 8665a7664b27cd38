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
    exec /usr/local/bin/sentinel --help
fi

# Every command runs under `sentinel guard` (docs/GUARD.md): the container is the boundary, the
# guard decides each exec, file write and connect inside it with the policy at
# /workspace/sentinel.yaml and records it. Its audit log is SENTINEL_GUARD_AUDIT_LOG when set
# (`sentinel-isolate` mounts a directory outside the workspace there), else the policy's
# audit.path. SENTINEL_GUARD_IN_CONTAINER=0 runs the command without it, and says so.
# The guard gets no audit key, so its log is SHA-256 chained: the command runs as the same uid
# and could read a key from any place the guard could (docs/DOCKER.md); the key stays on the host.
case "${SENTINEL_GUARD_IN_CONTAINER:-1}" in
    0)
        echo "sentinel-entrypoint: SENTINEL_GUARD_IN_CONTAINER=0: the command runs without sentinel guard (no per-action decisions or audit inside the container)." >&2
        exec "$@"
        ;;
    1) ;;
    *)
        echo "sentinel-entrypoint: SENTINEL_GUARD_IN_CONTAINER must be 1 (default) or 0; nothing was run." >&2
        exit 2
        ;;
esac
# SENTINEL_GUARD_ALLOW_CONNECT: the policy proxy's ADDRESS:PORT in a proxied container, which
# the command may always reach (the policy cannot name an address Docker assigns per run).
set -- ${SENTINEL_GUARD_ALLOW_CONNECT:+--allow-connect "$SENTINEL_GUARD_ALLOW_CONNECT"} -- "$@"
if [ -n "${SENTINEL_GUARD_AUDIT_LOG:-}" ]; then
    set -- --audit-log "$SENTINEL_GUARD_AUDIT_LOG" "$@"
fi
exec /usr/local/bin/sentinel guard "$@"
