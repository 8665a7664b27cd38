// Copies of the repository's `Dockerfile` and `scripts/entrypoint.sh`, so that
// `--build-if-missing` works from an installed binary far from the repository. When the
// repository is found next to the binary, its files are used instead. `DockerBundleTests` keeps
// these texts identical to the files.

/// The built-in copies of the image's build files.
public enum DockerBundle {
    /// The text of `Dockerfile`.
    public static let dockerfile = #"""
# The Sentinel Guard runtime image: a Debian base with python3, the prebuilt `sentinel` binary
# and the entrypoint. No Swift toolchain: `sentinel-isolate --build-if-missing` stages the binary
# it finds next to itself (with the Swift runtime libraries a dynamically linked build needs)
# into a temporary build context laid out as below, and builds this file there.
#
#   <context>/Dockerfile
#   <context>/stage/opt/sentinel/bin/sentinel        the binary (+ lib*.so when not static)
#   <context>/stage/opt/sentinel/entrypoint.sh       scripts/entrypoint.sh
#   <context>/stage/opt/sentinel/sentinel.yaml       the default policy (sentinel.yaml)
#
# The base is a build argument (--base-image / SENTINEL_BASE_IMAGE): debian:bookworm-slim by
# default, or the registry-free sentinel-base:bookworm from scripts/make-base-image.sh. Its glibc
# must be at least as new as the build host's (Debian 12 or later).
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# python3 is what the agents we run need; the offline base already has it, a slim base gets it
# from its own apt sources.
RUN if ! command -v python3 >/dev/null 2>&1; then \
        apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*; \
    fi \
    && useradd --uid 10001 --user-group --no-create-home --home-dir /workspace --shell /usr/sbin/nologin sentinel \
    && mkdir -p /workspace /var/log/sentinel && chown sentinel:sentinel /workspace \
    && chmod 1777 /var/log/sentinel

# Owned by root and read-only to the workload (the original let the agent own its own code).
COPY --chown=0:0 stage/ /
RUN chmod 0755 /opt/sentinel/entrypoint.sh /opt/sentinel/bin/sentinel \
    && chmod 0644 /opt/sentinel/sentinel.yaml \
    && ln -sf /opt/sentinel/bin/sentinel /usr/local/bin/sentinel

USER sentinel
WORKDIR /workspace
# Without a command the entrypoint checks the container's setup and says how to run one.
ENTRYPOINT ["/opt/sentinel/entrypoint.sh"]
"""#

    /// The text of `scripts/entrypoint.sh`.
    public static let entrypoint = #"""
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
"""#
}
