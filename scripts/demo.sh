#!/usr/bin/env bash
# The one-command demo (the original's run_demo.sh): build the runtime image if needed, then run
# a short self-check inside the hardened `strict` compose profile (no network), or `standard`
# (Docker's bridge) with --standard.
#
#   scripts/demo.sh [--standard]
#
# Environment: SENTINEL_BASE_IMAGE (the image's base, default debian:bookworm-slim; use
# sentinel-base:bookworm from scripts/make-base-image.sh on a host without a registry),
# SENTINEL_IMAGE (the image to build and run, default sentinel-guard:local, as in the compose file).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=strict
service=sentinel-strict
case "${1:-}" in
    "") ;;
    --standard) profile=standard; service=sentinel-standard ;;
    *) echo "usage: scripts/demo.sh [--standard]" >&2; exit 2 ;;
esac

fail() { echo "demo: $*" >&2; exit 1; }
command -v docker >/dev/null || fail "docker is not installed (apt-get install docker.io)."
if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null; then
    compose=(docker-compose)
else
    fail "neither 'docker compose' nor docker-compose is installed (apt-get install docker-compose)."
fi
docker info >/dev/null 2>&1 || fail "the Docker engine is not running, or you may not use its socket (start dockerd, or join the docker group)."

isolate=""
for candidate in .build/release/sentinel-isolate .build/debug/sentinel-isolate "$(command -v sentinel-isolate || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then isolate=$candidate; break; fi
done
[ -n "$isolate" ] || fail "sentinel-isolate is not built: run 'swift build --product sentinel-isolate --product sentinel' first."

mkdir -p ./sandbox-workspace
# The container runs as the workspace's owner (never root): pick it the way sentinel-isolate does.
owner_uid=$(stat -c %u ./sandbox-workspace)
owner_gid=$(stat -c %g ./sandbox-workspace)
if [ "$owner_uid" = 0 ]; then
    owner_uid=$(id -u); owner_gid=$(id -g)
    if [ "$owner_uid" = 0 ]; then
        chown 65534:65534 ./sandbox-workspace
        owner_uid=65534; owner_gid=65534
    fi
fi
export SENTINEL_UID=$owner_uid SENTINEL_GID=$owner_gid

# Builds the image from the prebuilt binary when it is missing (prints its steps); compose runs
# the same one (SENTINEL_IMAGE).
"$isolate" --backend docker --build-if-missing --image "${SENTINEL_IMAGE:-sentinel-guard:local}" \
    --base-image "${SENTINEL_BASE_IMAGE:-debian:bookworm-slim}" \
    --workspace ./sandbox-workspace --policy ./sentinel.yaml -- true

read -r -d '' check <<'PY' || true
import os, socket
print(f"user: uid {os.getuid()}, in {os.getcwd()}")
for path in ("/etc/demo", "/workspace/demo.txt"):
    try:
        open(path, "w").write("x")
        print(f"write {path}: allowed")
    except OSError as error:
        print(f"write {path}: refused ({error.strerror})")
try:
    socket.create_connection(("192.0.2.1", 80), timeout=2)
    print("network: connected")
except OSError as error:
    print(f"network: {error.strerror or type(error).__name__}")
print("interfaces:", " ".join(sorted(os.listdir("/sys/class/net"))))
PY
echo "demo: running the self-check in the $profile profile"
exec "${compose[@]}" --profile "$profile" run --rm "$service" python3 -c "$check"
