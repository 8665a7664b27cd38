#!/usr/bin/env bash
# Measures what `sentinel guard` costs, as a ratio to the same program run unguarded in the same
# run (hyperfine, release build), and the time added per operation. Goals (issue 7): 10,000 file
# opens <= 1.3x, 100 echo execs <= 1.1x. The fork workload (1,000 forks, no exec, nothing decided)
# isolates what tracing every process costs (issue 13: each fork is two ptrace stops); the exec
# workload includes the exec-stop verification.
#
#   scripts/bench-guard.sh            # builds release, prints hyperfine tables and the ratios
#   RUNS=20 scripts/bench-guard.sh
#
# BASELINE_BINARY=PATH compares two builds instead (issue 16): the read, write and exec workloads
# run unguarded, under BASELINE_BINARY and under SENTINEL_BINARY, launch by launch
# (scripts/bench-interleaved.py, ROUNDS rounds, 40 by default), so a burst of other load on the
# machine is shared by all three; each median is printed with its ratio to the unguarded one.
#
#   SENTINEL_BINARY=… BASELINE_BINARY=… ROUNDS=40 scripts/bench-guard.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
RUNS="${RUNS:-10}"
PYTHON="${PYTHON:-/usr/bin/python3}"   # not a pyenv shim: the guard trusts only the first exec
# SENTINEL_BINARY=PATH uses an existing build instead of building release here.
if [[ -z "${SENTINEL_BINARY:-}" ]]; then swift build -c release --product sentinel >/dev/null; fi
SENTINEL="${SENTINEL_BINARY:-$PWD/.build/release/sentinel}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/ws"
for i in $(seq 0 99); do : > "$WORK/ws/r$i"; done
cat > "$WORK/sentinel.yaml" <<YAML
allowed_paths: [./ws]
allowed_commands: [echo]
approval: {mode: reject}
audit: {path: ./audit.log}
YAML
cat > "$WORK/open_read.py" <<'PY'
import os
for i in range(10000):
    os.close(os.open(f"ws/r{i % 100}", os.O_RDONLY))
PY
cat > "$WORK/open_write.py" <<'PY'
import os
for i in range(10000):
    os.close(os.open(f"ws/w{i % 100}", os.O_WRONLY | os.O_CREAT, 0o644))
PY
cat > "$WORK/exec_echo.py" <<'PY'
import subprocess
for i in range(100):
    subprocess.run(["/usr/bin/echo", str(i)], stdout=subprocess.DEVNULL)
PY
cat > "$WORK/fork_exit.py" <<'PY'
import os
for i in range(1000):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
PY
cd "$WORK"
GUARD="$SENTINEL guard --quiet --policy sentinel.yaml --"
if [[ -n "${BASELINE_BINARY:-}" ]]; then
    BASELINE="$BASELINE_BINARY guard --quiet --policy sentinel.yaml --"
    for bench in open_read open_write exec_echo; do
        echo "== $bench"
        "$PYTHON" "$REPO/scripts/bench-interleaved.py" --rounds "${ROUNDS:-40}" --prepare 'rm -f audit.log audit.log.anchor' \
            "unguarded=$PYTHON $bench.py" "baseline=$BASELINE $PYTHON $bench.py" "guarded=$GUARD $PYTHON $bench.py"
    done
    exit 0
fi
cat > "$WORK/start.py" <<'PY'
PY
# `start` (an empty program) measures the guard's own start-up, which the per-operation figures
# leave out.
declare -A OPERATIONS=([start]=1 [open_read]=10000 [open_write]=10000 [exec_echo]=100 [fork_exit]=1000)
for bench in start open_read open_write exec_echo fork_exit; do
    hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$bench.json" \
        -n unguarded "$PYTHON $bench.py" -n guarded "$GUARD $PYTHON $bench.py" \
        --prepare 'rm -f audit.log audit.log.anchor' >/dev/null
    "$PYTHON" - "$bench" "${OPERATIONS[$bench]}" <<'PY'
import json, sys
name, operations = sys.argv[1], int(sys.argv[2])
results = {r["command"]: r for r in json.load(open(name + ".json"))["results"]}
base, guarded = results["unguarded"]["median"], results["guarded"]["median"]
start = {r["command"]: r for r in json.load(open("start.json"))["results"]}
startup = 0 if name == "start" else start["guarded"]["median"] - start["unguarded"]["median"]
added = (guarded - base - startup) / operations * 1e6
print(f"{name:11s} unguarded {base*1000:8.1f} ms  guarded {guarded*1000:8.1f} ms  ratio {guarded/base:5.2f}x  "
      f"added {added:7.1f} µs per operation ({operations}, start-up excluded)")
PY
done
