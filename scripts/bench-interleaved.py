#!/usr/bin/env python3
"""Compares commands launch by launch: each round runs every command once, in turn (the order
reversed every other round), and the medians are compared. hyperfine runs one command's launches
in a block, so a burst of other load on this 2-core machine lands on one command; here it is
shared.

    scripts/bench-interleaved.py [--rounds N] [--prepare SHELL] NAME=COMMAND...

Prints each command's median and first quartile in ms, and each median as a ratio to the first
command's. COMMAND is split like a shell would (shlex), and run without a shell.
"""
import argparse
import shlex
import statistics
import subprocess
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--prepare", help="a shell command run before every launch (not timed)")
    parser.add_argument("commands", nargs="+", metavar="NAME=COMMAND")
    options = parser.parse_args()
    commands = {}
    for item in options.commands:
        name, separator, command = item.partition("=")
        if not separator or not command:
            parser.error(f"expected NAME=COMMAND, got {item!r}")
        commands[name] = shlex.split(command)
    times = {name: [] for name in commands}
    for round_number in range(options.rounds):
        order = list(commands) if round_number % 2 == 0 else list(reversed(commands))
        for name in order:
            if options.prepare:
                subprocess.run(options.prepare, shell=True, check=True)
            started = time.perf_counter()
            result = subprocess.run(commands[name], stdout=subprocess.DEVNULL)
            elapsed = (time.perf_counter() - started) * 1000
            if result.returncode != 0:
                print(f"{name}: exit status {result.returncode}; stopping", file=sys.stderr)
                return 1
            times[name].append(elapsed)
    first = statistics.median(times[next(iter(commands))])
    for name, values in times.items():
        median = statistics.median(values)
        quartile = statistics.quantiles(values, n=4)[0] if len(values) > 1 else median
        print(f"{name:16s} median {median:7.1f} ms   p25 {quartile:7.1f} ms   ratio {median / first:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
