#!/usr/bin/env bash
# Startup cost of `sentinel-isolate --network none -- /bin/true` against bare /bin/true,
# bubblewrap with every namespace and (when the engine and the base image are there)
# `docker run --rm --network none`, measured in the same hyperfine run (ratios, not absolutes).
#
#   scripts/bench-isolate.sh [--runs N]
#
# Needs hyperfine and bwrap; builds the release binary (static Swift standard library) unless
# SKIP_BUILD=1. SENTINEL_BUILD_PATH selects another build directory (swift build --scratch-path).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=200
if [[ "${1:-}" == "--runs" ]]; then runs="$2"; fi
build=(swift build -c release --static-swift-stdlib --product sentinel-isolate)
if [[ -n "${SENTINEL_BUILD_PATH:-}" ]]; then build+=(--scratch-path "$SENTINEL_BUILD_PATH"); fi
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then "${build[@]}" >&2; fi
bin="$("${build[@]}" --show-bin-path)/sentinel-isolate"
scratch="$(mktemp -d /tmp/sentinel-bench-XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/ws"
printf 'allowed_paths: [./]\n' > "$scratch/sentinel.yaml"
cd "$scratch"
commands=(
    --command-name 'bare /bin/true' '/bin/true'
    --command-name 'bwrap --unshare-all'
        'bwrap --unshare-all --die-with-parent --new-session --ro-bind / / --dev /dev --proc /proc /bin/true'
    --command-name 'sentinel-isolate --network none'
        "$bin --workspace ws --policy sentinel.yaml --network none --audit-log $scratch/audit.log -- /bin/true"
)
image="${SENTINEL_BASE_IMAGE:-sentinel-base:bookworm}"
if docker image inspect "$image" >/dev/null 2>&1; then
    commands+=(--command-name 'docker run --rm --network none' "docker run --rm --network none $image /bin/true")
else
    echo "bench-isolate: no Docker engine or no $image image; the docker baseline is skipped" >&2
fi
hyperfine --warmup 10 --runs "$runs" -N --export-markdown "$scratch/result.md" "${commands[@]}"
cat "$scratch/result.md"
