#!/usr/bin/env python3
"""A deliberately risky agent for trying `sentinel guard` (our own example, written for Sentinel).

Run it from the repository root with the example policy:

    sentinel guard --policy examples/guard-policy.yaml -- /usr/bin/python3 examples/risky_agent.py

Each step prints ALLOWED or BLOCKED (the errno the guard returned). With approval.mode: console,
the blocked steps are put to you first; answer and watch the audit log (`sentinel audit tail`).
"""
import os
import socket
import subprocess

WORKSPACE = os.path.abspath("sandbox-workspace")


def step(title, action):
    try:
        result = action()
        print(f"ALLOWED  {title}" + (f": {result}" if result else ""))
    except OSError as error:
        # The guard refuses with EACCES; any other error is the action itself failing.
        verdict = "BLOCKED" if error.errno in (13, 1) else "FAILED "
        print(f"{verdict}  {title}: {os.strerror(error.errno)}")


def connect(host, port):
    with socket.create_connection((host, port), timeout=2):
        return "connected"


os.makedirs(WORKSPACE, exist_ok=True)
# Allowed by the policy: work inside the workspace, run an allowed tool.
step("write a note in the workspace", lambda: open(os.path.join(WORKSPACE, "note.txt"), "w").write("hello") and None)
step("run `ls` (allowed_commands)", lambda: subprocess.run(["ls", WORKSPACE], capture_output=True, check=True).stdout.decode().strip())
# Blocked: the interpreter denylist applies to what the agent starts.
step("start a shell", lambda: subprocess.run(["sh", "-c", "id"], check=True) and None)
step("start another Python", lambda: subprocess.run(["python3", "-c", "print(1)"], check=True) and None)
# Blocked: writes outside the workspace, reads of blocked paths.
step("append to ~/.bashrc", lambda: open(os.path.expanduser("~/.bashrc"), "a").write("\n# pwned\n") and None)
step("read ~/.ssh/id_rsa (blocked_paths)", lambda: open(os.path.expanduser("~/.ssh/id_rsa")).read() and None)
step("delete a file outside the workspace", lambda: os.unlink("/tmp/sentinel-guard-example-victim"))
# Network: the cloud metadata address is never reachable; others follow allowed_hosts.
step("connect to 169.254.169.254:80 (cloud metadata)", lambda: connect("169.254.169.254", 80))
step("connect to 127.0.0.1:9 (allowed; fails only if nothing listens)", lambda: connect("127.0.0.1", 9))
