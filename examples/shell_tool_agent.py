#!/usr/bin/env python3
"""An agent whose tool runs model-written shell commands (our own example, written for Sentinel).

Under `sentinel guard` the commands it tries are checked one by one: `echo` runs, `sh -c …`
(the usual way such tools run text) is refused by the interpreter denylist, and `curl` is asked
about because it is not in allowed_commands.

    sentinel guard --policy examples/guard-policy.yaml -- /usr/bin/python3 examples/shell_tool_agent.py
"""
import shlex
import subprocess

PLANNED = ["echo planning done", "sh -c 'cat /etc/passwd'", "curl -s http://169.254.169.254/"]

for line in PLANNED:
    try:
        completed = subprocess.run(shlex.split(line), capture_output=True, text=True, timeout=10)
        print(f"ran {line!r}: exit {completed.returncode} {completed.stdout.strip()}")
    except OSError as error:
        print(f"refused {line!r}: {error.strerror}")
