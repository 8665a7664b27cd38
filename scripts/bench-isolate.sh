#!/usr/bin/env bash
# Startup cost of `sentinel-isolate --network none -- /bin/true` against bare /bin/true and
# bubblewrap with every namespace, measured in the same hyperfine run (ratios, not absolutes).
# Usage: scripts/bench-isolate.sh [--runs N]   (needs hyperfine and bwrap; builds release).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=200
if [[ "${1:-}" == "--runs" ]]; then runs="$2"; fi
swift build -c release --static-swift-stdlib --product sentinel-isolate >&2
bin="$(swift build -c release --static-swift-stdlib --show-bin-path)/sentinel-isolate"
scratch="$(mktemp -d /tmp/sentinel-bench-XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/ws"
printf 'version: 1\n' > "$scratch/sentinel.yaml"
cd "$scratch"
hyperfine --warmup 20 --runs "$runs" -N --export-markdown "$scratch/result.md" \
    --command-name 'bare /bin/true' '/bin/true' \
    --command-name 'bwrap --unshare-all' \
        'bwrap --unshare-all --die-with-parent --new-session --ro-bind / / --dev /dev --proc /proc /bin/true' \
    --command-name 'sentinel-isolate --network none' \
        "$bin --workspace ws --policy sentinel.yaml --network none -- /bin/true"
cat "$scratch/result.md"
