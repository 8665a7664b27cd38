#!/bin/sh
# The container's entrypoint (original-system.md §8.3, with its abort fixed): make sure
# /workspace/workspace exists, then hand the command to `sentinel entrypoint`, which decides the
# rest in one place for every way the image runs (sentinel-isolate --backend docker, the compose
# profiles, a plain docker run), so each gives the same guarantees (docs/DOCKER.md):
#
# - The policy is a read-only mount at /workspace/sentinel.yaml, else the image's own
#   (/opt/sentinel/sentinel.yaml); a policy file the command could change is refused. Nothing is
#   copied into the workspace any more: a run could rewrite that copy, and the next run loaded it.
# - The guard's records go to SENTINEL_GUARD_AUDIT_LOG (default /var/log/sentinel/audit.log),
#   never into the workspace, and stay out of the command's reach: with the guard, through its
#   Landlock ruleset and supervisor (a policy whose allowed_paths cover them is refused); without
#   it (SENTINEL_GUARD_IN_CONTAINER=0), through a Landlock ruleset applied before the command.
# - Production mode (SENTINEL_PRODUCTION or SENTINEL_ENV=production) holds its rules: a signed,
#   immutable policy, a seccomp filter on the container, no route out unless
#   SENTINEL_ALLOW_NETWORK_IN_PRODUCTION is set.
#
# A workspace the container user may not write is reported, not fatal (the original's `set -eu`
# mkdir aborted the container before the command ran).
set -eu

if [ -w /workspace ]; then
    mkdir -p /workspace/workspace
else
    echo "sentinel-entrypoint: warning: /workspace is not writable by uid $(id -u); the command may fail to write its files." >&2
fi
cd /workspace

if [ "$#" -eq 0 ]; then
    exec /usr/local/bin/sentinel --help
fi
exec /usr/local/bin/sentinel entrypoint -- "$@"
