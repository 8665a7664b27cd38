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
