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
ENTRYPOINT ["/opt/sentinel/entrypoint.sh"]
CMD ["sentinel", "--help"]
"""#

    /// The text of `scripts/entrypoint.sh`.
    public static let entrypoint = #"""
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
"""#
}
