#!/usr/bin/env python3
"""Decisions per second of the original Python Sentinel Guard's policy engine, for the same
inputs as Benchmarks/Benchmarks/PolicyBenchmarks, so docs/PERFORMANCE.md can give ratios from
one run. The original is not part of this repository; point this script at a checkout:

    git clone https://github.com/martin-tii/sentinel-guard /tmp/sentinel-guard-original
    git -C /tmp/sentinel-guard-original checkout a3d43b7
    scripts/bench-policy-original.py /tmp/sentinel-guard-original

Prints one JSON object: {"command": rate, "url": rate, "path": rate} (decisions per second).
The original logs every decision to stdout and audit.log; logging is switched off here so the
figure is the engine alone (which flatters the original).
"""
import json
import logging
import os
import sys
import tempfile
import time


def rate(function, seconds):
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(1000):
            function()
        count += 1000
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    original = os.path.abspath(sys.argv[1])
    seconds = float(os.environ.get("SENTINEL_BENCH_SECONDS", "3"))
    work = tempfile.mkdtemp(prefix="sentinel-original-bench-")
    os.makedirs(os.path.join(work, "workspace", "src", "module"))
    target = os.path.join(work, "workspace", "src", "module", "file.swift")
    open(target, "w").close()
    with open(os.path.join(work, "sentinel.yaml"), "w") as policy:
        policy.write(
            "allowed_paths: [./workspace]\n"
            "blocked_paths: [/etc, ~/.ssh, ./workspace/secrets]\n"
            "allowed_commands: [echo, ls]\n"
            "host_match_mode: exact\n"
            "allowed_hosts:\n"
            "  - {host: api.openai.com, schemes: [https], ports: [443]}\n"
            "  - {host: 93.184.216.34, schemes: [https], ports: [443]}\n"
        )
    os.chdir(work)
    sys.path.insert(0, original)
    from src.policy import PolicyEnforcer  # noqa: E402  (the original's module layout)

    logging.getLogger("Sentinel").disabled = True
    enforcer = PolicyEnforcer(os.path.join(work, "sentinel.yaml"))
    results = {
        "command": rate(lambda: enforcer.check_command("ls -la /tmp"), seconds),
        "url": rate(lambda: enforcer.check_network("https://93.184.216.34/x"), seconds),
        "path": rate(lambda: enforcer.check_file_access("workspace/src/module/file.swift"), seconds),
    }
    print(json.dumps({key: round(value) for key, value in results.items()}))


if __name__ == "__main__":
    main()
