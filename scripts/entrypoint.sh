#!/bin/sh
# The container's entrypoint (original-system.md §8.3, with its abort fixed): hand the command to
# `sentinel entrypoint`, which decides the rest in one place for every way the image runs
# (sentinel-isolate --backend docker, the compose profiles, a plain docker run; and the native
# sandbox's --guard runs the same code), so each gives the same guarantees (docs/DOCKER.md):
#
# - The policy is a read-only mount at /run/sentinel/policy.yaml, outside the workspace
#   (SENTINEL_POLICY_FILE tells the command), else the image's own (/opt/sentinel/sentinel.yaml);
#   a policy file the command could change is refused. Nothing is put into the workspace: after a
#   run it holds what the command wrote.
# - The command runs under `sentinel guard` only when asked (SENTINEL_GUARD=1, the compose profile
#   `guarded`, sentinel-isolate --guard), as on the native backend: the container is the boundary.
#   The guard reads the policy's paths as the host does (SENTINEL_HOST_*), so ./workspace means
#   /workspace.
# - The guard's records go to SENTINEL_GUARD_AUDIT_LOG (default /var/log/sentinel/audit.log),
#   never into the workspace, and stay out of the command's reach: with the guard, through its
#   Landlock ruleset and supervisor (a policy whose allowed_paths cover them is refused); without
#   it, through a Landlock ruleset applied before the command when they are mounted.
# - Production mode (SENTINEL_PRODUCTION or SENTINEL_ENV=production) holds its rules: a signed,
#   immutable policy, a seccomp filter on the container, no route out unless
#   SENTINEL_ALLOW_NETWORK_IN_PRODUCTION is set.
#
# Without a command it checks the setup and says what a command would run under (what
# `docker-compose --profile NAME up` shows).
set -eu
cd /workspace
exec /usr/local/bin/sentinel entrypoint -- "$@"
