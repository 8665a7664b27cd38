#!/usr/bin/env bash
# Cost of `sentinel-isolate --backend docker -- true` against a plain `docker run --rm` of the
# same image, and against the same hardened `docker run` typed by hand (the --dry-run output),
# measured in the same hyperfine run (ratios, not absolutes).
# Usage: scripts/bench-docker.sh [--runs N]   (needs hyperfine, a Docker engine and the image
# sentinel-guard:local, which it builds from SENTINEL_BASE_IMAGE when missing; builds release
# unless SKIP_BUILD=1; SENTINEL_BUILD_PATH selects another build directory).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=30
if [[ "${1:-}" == "--runs" ]]; then runs="$2"; fi
image=sentinel-guard:local
build=(swift build -c release --static-swift-stdlib --product sentinel-isolate)
if [[ -n "${SENTINEL_BUILD_PATH:-}" ]]; then build+=(--scratch-path "$SENTINEL_BUILD_PATH"); fi
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then "${build[@]}" >&2; fi
bin="$("${build[@]}" --show-bin-path)/sentinel-isolate"
scratch="$(mktemp -d /tmp/sentinel-bench-docker-XXXXXX)"
mkdir "$scratch/ws"
chown 65534:65534 "$scratch/ws" 2>/dev/null || true
printf 'allowed_paths: [./]\n' > "$scratch/sentinel.yaml"
cd "$scratch"
# The release binary has no `sentinel` next to it: build the image with the debug tree's if needed.
if ! docker image inspect "$image" >/dev/null 2>&1; then
    "$OLDPWD/.build/debug/sentinel-isolate" --backend docker --build-if-missing \
        --base-image "${SENTINEL_BASE_IMAGE:-sentinel-base:bookworm}" --workspace ws --policy sentinel.yaml -- true
fi
hardened="$("$bin" --backend docker --dry-run --workspace ws --policy sentinel.yaml -- true 2>/dev/null)"
profile_dir="$(printf '%s' "$hardened" | grep -o 'seccomp=/[^ ]*' | sed 's|seccomp=||; s|/profile.json||')"
trap 'rm -rf "$scratch" "$profile_dir"' EXIT
# The plain baseline runs the image's entrypoint without the guard: under Docker's default seccomp
# profile the guard cannot read memory and refuses to start (docs/GUARD.md, Containers).
hyperfine --warmup 3 --runs "$runs" -N --export-markdown "$scratch/result.md" \
    --command-name 'docker run --rm IMAGE true (no guard inside)' "docker run --rm $image true" \
    --command-name 'hardened docker run (the --dry-run command)' "$hardened" \
    --command-name 'sentinel-isolate --backend docker -- true (the default: no guard inside)' \
        "$bin --backend docker --workspace ws --policy sentinel.yaml -- true" \
    --command-name 'sentinel-isolate --guard --backend docker -- true (guard inside)' \
        "$bin --guard --backend docker --workspace ws --policy sentinel.yaml -- true"
cat "$scratch/result.md"
