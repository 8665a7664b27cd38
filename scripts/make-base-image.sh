#!/usr/bin/env bash
# Builds a Debian base image without a registry, for air-gapped hosts and CI:
# mmdebstrap makes a minimal bookworm root file system (with python3, which the agents we run
# need), then `docker import` turns it into an image.
#
#   scripts/make-base-image.sh [TAG]        (default tag: sentinel-base:bookworm)
#
# Environment:
#   SENTINEL_DEBIAN_MIRROR   the Debian mirror to use (default: the first deb.debian.org-style
#                            URI in this machine's apt sources, else http://deb.debian.org/debian)
#   SENTINEL_DEBIAN_SUITE    the suite (default: bookworm)
#   SENTINEL_BASE_PACKAGES   extra packages, comma-separated
set -euo pipefail

tag="${1:-sentinel-base:bookworm}"
suite="${SENTINEL_DEBIAN_SUITE:-bookworm}"
packages="python3,ca-certificates${SENTINEL_BASE_PACKAGES:+,$SENTINEL_BASE_PACKAGES}"

fail() { echo "make-base-image: $*" >&2; exit 1; }

command -v mmdebstrap >/dev/null || fail "mmdebstrap is not installed; run: apt-get install -y mmdebstrap"
command -v docker >/dev/null || fail "docker is not installed; run: apt-get install -y docker.io"
docker info >/dev/null 2>&1 || fail "the Docker engine is not running (start it with: dockerd &), or you may not use its socket"

mirror="${SENTINEL_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
    # Only active source files (a file renamed to *.disabled is not used by apt either) and only
    # a Debian archive (…/debian), never a third-party repository listed beside it.
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | grep -oE '^(URIs:|deb) +https?://[^ ]+' | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
    mirror="${mirror:-http://deb.debian.org/debian}"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "[1/2] Creating a minimal Debian $suite root file system from $mirror (packages: $packages)…"
start=$(date +%s)
if ! mmdebstrap --variant=minbase --include="$packages" --format=tar "$suite" "$work/rootfs.tar" "$mirror" \
    >"$work/mmdebstrap.log" 2>&1; then
    tail -n 20 "$work/mmdebstrap.log" >&2
    fail "mmdebstrap failed (log above); check that $mirror is reachable or set SENTINEL_DEBIAN_MIRROR"
fi
echo "      done in $(( $(date +%s) - start )) s ($(du -h "$work/rootfs.tar" | cut -f1))"

echo "[2/2] Importing it into Docker as $tag…"
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    --message "Debian $suite minbase + $packages, built by scripts/make-base-image.sh" \
    "$work/rootfs.tar" "$tag" >/dev/null
echo "      $tag: $(docker image inspect --format '{{.Id}}' "$tag")"
