#!/usr/bin/env bash
# What one fork and one exec cost under `sentinel guard`, against the same C program run bare in
# the same run: each figure is the fastest of N runs of the best 25-operation batch (a minimum
# is what a loaded 2-core machine can still measure; a mean is not). Issue 13's exec verification
# (a ptrace stop per exec and two per fork) shows here, without Python's start-up in the way.
#
#   scripts/bench-guard-ops.sh                          # builds release, prints µs per operation
#   SENTINEL_BINARY=… BASELINE_BINARY=… RUNS=7 scripts/bench-guard-ops.sh   # compare two builds
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-7}"
if [[ -z "${SENTINEL_BINARY:-}" ]]; then swift build -c release --product sentinel >/dev/null; fi
SENTINEL="${SENTINEL_BINARY:-$PWD/.build/release/sentinel}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/ops.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
int main(int argc, char **argv) {
    int exec = argc > 1 && strcmp(argv[1], "exec") == 0;
    double best = 1e18;
    for (int batch = 0; batch < 20; batch++) {
        double start = now();
        for (int i = 0; i < 25; i++) {
            pid_t pid = fork();
            if (pid == 0) {
                if (exec) { char *args[] = {"true", NULL}; execv("/usr/bin/true", args); }
                _exit(0);
            }
            int status;
            waitpid(pid, &status, 0);
        }
        double each = (now() - start) / 25;
        if (each < best) best = each;
    }
    printf("%.1f\n", best);
    return 0;
}
C
cc -O2 -o "$WORK/ops" "$WORK/ops.c"
printf 'allowed_paths: [./]\nallowed_commands: [true]\napproval: {mode: reject}\naudit: {path: ./audit.log}\n' > "$WORK/policy.yaml"
cd "$WORK"
configurations=(bare guard)
[[ -n "${BASELINE_BINARY:-}" ]] && configurations=(bare baseline guard)
minimum() { sort -n | head -1; }
for mode in fork exec; do
    for configuration in "${configurations[@]}"; do
        values=()
        for _ in $(seq 1 "$RUNS"); do
            rm -f audit.log audit.log.anchor
            case $configuration in
                bare) values+=("$(./ops "$mode")") ;;
                baseline) values+=("$("$BASELINE_BINARY" guard --quiet --policy policy.yaml -- ./ops "$mode")") ;;
                guard) values+=("$("$SENTINEL" guard --quiet --policy policy.yaml -- ./ops "$mode")") ;;
            esac
        done
        printf '%-5s %-9s min %7.1f µs   runs: %s\n' "$mode" "$configuration" "$(printf '%s\n' "${values[@]}" | minimum)" "${values[*]}"
    done
done
