#!/usr/bin/env python3
"""Runs the policy benchmark (Benchmarks/PolicyBenchmarks, ordo-one package-benchmark) and, when
given a checkout of the original Python Sentinel Guard, the same decisions with the original
engine in the same run, then prints decisions per second and the ratios that
docs/PERFORMANCE.md records.

    scripts/bench-policy.py [ORIGINAL_CHECKOUT]

Goals (issue 2): >= 1,000,000/s for command and URL decisions, >= 200,000/s for path decisions.
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# benchmark name prefix -> (kind, goal per second)
ROWS = [
    ("command: allow `ls -la /tmp`", "command", 1_000_000),
    ("command: allow argv", "command (argv)", 1_000_000),
    ("command: deny", "command (denied)", None),
    ("url: allow https://93.184.216.34/x", "url", 1_000_000),
    ("url: deny", "url (denied)", None),
    ("url: name gate", "url (name, before DNS)", 1_000_000),
    ("path: read an existing file", "path", 200_000),
    ("path: write a new file", "path (new file)", 200_000),
    ("path: deny", "path (denied)", None),
]


def swift_rates():
    output = subprocess.run(
        ["swift", "package", "--allow-writing-to-package-directory", "benchmark",
         "--target", "PolicyBenchmarks", "--no-progress"],
        cwd=os.path.join(ROOT, "Benchmarks"), check=True, capture_output=True, text=True,
    ).stdout
    rates = {}
    current = None
    for line in output.splitlines():
        if re.match(r"^(path|url|command): ", line):
            current = line.strip()
        elif current and line.startswith("│ Throughput"):
            cells = [cell.strip() for cell in line.split("│")[1:-1]]
            scale = 1000 if "(K)" in cells[0] else (1_000_000 if "(M)" in cells[0] else 1)
            rates[current] = {"p50": int(cells[3]) * scale, "p0": int(cells[1]) * scale}
            current = None
    return rates


def main():
    original = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SENTINEL_ORIGINAL_CHECKOUT")
    baseline = {}
    if original:
        baseline = json.loads(subprocess.run(
            [sys.executable, os.path.join(ROOT, "scripts", "bench-policy-original.py"), original],
            check=True, capture_output=True, text=True,
        ).stdout)
    rates = swift_rates()
    print(f"{'decision':28} {'p50/s':>11} {'best/s':>11} {'goal/s':>11} {'original/s':>11} {'ratio':>7}")
    for prefix, kind, goal in ROWS:
        name = next((key for key in rates if key.startswith(prefix)), None)
        if name is None:
            continue
        p50, best = rates[name]["p50"], rates[name]["p0"]
        base = baseline.get(kind.split(" ")[0]) if " " not in kind else None
        ratio = f"{p50 / base:6.1f}x" if base else ""
        print(f"{kind:28} {p50:>11,} {best:>11,} {goal if goal else '':>11} {base if base else '':>11} {ratio:>7}")


if __name__ == "__main__":
    main()
