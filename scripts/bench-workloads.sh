#!/usr/bin/env bash
# What `sentinel guard` costs on real workloads (docs/WORKLOADS.md): each workload of
# examples/workloads/ run unguarded and under `sentinel guard --policy examples/workloads.yaml`
# (the proxied agent: examples/agent/sentinel.yaml, through a `sentinel proxy` on loopback), in
# turn, launch by launch (scripts/bench-interleaved.py), each launch from a fresh copy of the
# workspace. Prints each workload's medians and the ratio guarded / unguarded, the figures
# docs/PERFORMANCE.md records.
#
#   scripts/bench-workloads.sh                       # builds the release binary first
#   SENTINEL_BINARY=.build-release/release/sentinel ROUNDS=10 scripts/bench-workloads.sh [WORKLOAD…]
#
# BASELINE_BINARY=PATH adds a launch of each workload under that build of `sentinel guard` (the
# same policy), interleaved with the others, to compare two builds in one run (issue 16).
#
# SENTINEL_BENCH_DIR=DIR puts the workspaces and the audit log under DIR instead of /var/tmp (a
# tmpfs mount, to see the guard's cost without the disk's: issue 16 measures tar on both).
#
# WORKLOAD: pytest git make pip tar agent shim proxied (default: all). Needs root: everything runs
# in a network namespace of its own with only loopback, so nothing a workload tries (the proxied
# agent's lookup around the proxy) leaves the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-10}"
WORKLOADS=("$@")
[[ ${#WORKLOADS[@]} -gt 0 ]] || WORKLOADS=(pytest git make pip tar agent shim proxied)

if [[ "${SENTINEL_BENCH_NETNS:-}" != 1 ]]; then
    [[ "$(id -u)" == 0 ]] || { echo "bench-workloads.sh: run it as root (it makes a network namespace)" >&2; exit 2; }
    if [[ -z "${SENTINEL_BINARY:-}" ]]; then
        swift build -c release --static-swift-stdlib --product sentinel --scratch-path .build-release >/dev/null
        export SENTINEL_BINARY="$PWD/.build-release/release/sentinel"
    fi
    exec unshare --net -- env SENTINEL_BENCH_NETNS=1 "$0" "${WORKLOADS[@]}"
fi
ip link set lo up

SENTINEL="$(realpath "$SENTINEL_BINARY")"
REPO="$PWD"
export PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PYTHONPATH
# Not under /tmp: the workloads' policy allows /tmp, and the guard's log must lie outside it.
WORK="$(mktemp -d "${SENTINEL_BENCH_DIR:-/var/tmp}/sentinel-bench-workloads-XXXXXX")"
SERVER_PID="" PROXY_PID=""
cleanup() {
    [[ -z "$PROXY_PID" ]] || kill "$PROXY_PID" 2>/dev/null || true
    [[ -z "$SERVER_PID" ]] || kill "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
cp examples/workloads.yaml "$WORK/workloads.yaml"
# The same policy without blocked_paths: read-only opens are then not even notified (GUARD.md), so
# the difference is what checking reads for the credentials' paths costs.
python3 - "$WORK/workloads.yaml" "$WORK/workloads-no-blocked.yaml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
without = re.sub(r"(?m)^blocked_paths:\n(  - .*\n)+", "", text)
assert without != text, "examples/workloads.yaml has no blocked_paths block"
open(sys.argv[2], "w").write(without)
PY
cp examples/agent/sentinel.yaml "$WORK/agent.yaml"
quote() { python3 -c 'import shlex, sys; print(shlex.quote(open(sys.argv[1]).read()))' "$1"; }

echo "sentinel: $SENTINEL ($("$SENTINEL" --version 2>/dev/null || echo '?')); $ROUNDS rounds; $(nproc) CPUs; load $(cut -d' ' -f1 /proc/loadavg)"
declare -A RATIO MEDIANS NOBLOCK BASE
for workload in "${WORKLOADS[@]}"; do
    template="$WORK/template-$workload"
    python3 examples/workloads/prepare.py "$workload" "$template"
    policy="$WORK/workloads.yaml"
    guard_flags=()
    environment=()
    case "$workload" in
        pytest) command="pytest -q --deselect test_outside.py::test_write_outside_the_project" ;;
        git) command="sh -c $(quote examples/workloads/git/commands.sh)" ;;
        make) command="make" ;;
        pip) command="sh -c $(quote examples/workloads/wheel/install.sh)" ;;
        tar) command="tar -xzf files.tar.gz" ;;
        agent) command="python3 agent.py" ;;
        shim) command="python3 agent.py"; environment=("PATH=$WORK/ws/.shims:$PATH") ;;
        proxied)
            policy="$WORK/agent.yaml"
            if [[ -z "$SERVER_PID" ]]; then
                python3 examples/agent/serve_https.py --address 127.77.0.1 --ca "$WORK/demo-ca.pem" \
                    --pid-file "$WORK/server.pid" --lifetime 3600 >/dev/null
                SERVER_PID="$(cat "$WORK/server.pid")"
                echo "127.77.0.1 api.example.test other.example.test" > "$WORK/hosts"
                "$SENTINEL" proxy --listen 127.0.0.1:0 --policy "$policy" --hosts-file "$WORK/hosts" \
                    --audit-log "$WORK/proxy-audit.log" >"$WORK/proxy.out" 2>&1 &
                PROXY_PID=$!
                for _ in $(seq 100); do grep -q "listening on" "$WORK/proxy.out" && break; sleep 0.1; done
            fi
            endpoint="$(grep -o 'listening on [^ ]*' "$WORK/proxy.out" | cut -d' ' -f3)"
            command=".venv/bin/python agent.py"
            guard_flags=(--allow-connect "$endpoint")
            environment=("HTTPS_PROXY=http://$endpoint" "SSL_CERT_FILE=$WORK/demo-ca.pem")
            ;;
        *) echo "unknown workload $workload" >&2; exit 2 ;;
    esac
    run="env -C $WORK/ws ${environment[*]:-}"
    guard="$SENTINEL guard --quiet --audit-log $WORK/audit.log ${guard_flags[*]:-}"
    commands=("unguarded=$run $command" "guarded=$run $guard --policy $policy -- $command")
    if [[ -n "${BASELINE_BINARY:-}" ]]; then
        commands+=("baseline=$run ${guard/$SENTINEL/$(realpath "$BASELINE_BINARY")} --policy $policy -- $command")
    fi
    if [[ "$policy" == "$WORK/workloads.yaml" ]]; then
        commands+=("no-blocked=$run $guard --policy $WORK/workloads-no-blocked.yaml -- $command")
    fi
    echo
    echo "== $workload: $command"
    output="$(python3 scripts/bench-interleaved.py --rounds "$ROUNDS" \
        --prepare "rm -rf $WORK/ws $WORK/audit.log $WORK/audit.log.anchor && cp -a $template $WORK/ws" \
        "${commands[@]}" 2> >(grep -v "^sentinel guard: warning: " >&2))"
    echo "$output"
    RATIO[$workload]="$(awk '/^guarded/ {print $NF}' <<<"$output")"
    NOBLOCK[$workload]="$(awk '/^no-blocked/ {print $NF}' <<<"$output")"
    BASE[$workload]="$(awk '/^baseline/ {print $NF}' <<<"$output")"
    MEDIANS[$workload]="$(awk '/^unguarded/ {u=$3} /^guarded/ {g=$3} END {printf "%s / %s ms", u, g}' <<<"$output")"
done

echo
echo "| workload | unguarded / guarded (median) | ratio | ratio without blocked_paths | baseline build's ratio |"
echo "|---|---|---|---|---|"
for workload in "${WORKLOADS[@]}"; do
    echo "| $workload | ${MEDIANS[$workload]} | ${RATIO[$workload]} | ${NOBLOCK[$workload]:-—} | ${BASE[$workload]:-—} |"
done
