"""A coding agent's tool loop, reduced to its calls: it runs tools through subprocess, the ones its
policy allows and three it does not (examples/workloads.yaml).

Under sentinel guard (on the host, or inside a sandbox with --guard) the three are refused before
they start: Python raises PermissionError, the refused process prints why on the agent's stderr
(`sentinel: refused exec of …: … [rule]`), and the audit log has each refusal with its rule. In a
sandbox without the guard they run, inside the sandbox's walls.

    sentinel guard --policy examples/workloads.yaml -- python3 agent.py
"""
import os
import subprocess
import sys

TOOLS = [
    ["ls", "agent.py"],                  # allowed_commands: ls
    ["git", "--version"],                # allowed_commands: git
    ["sh", "-c", "id"],                  # the built-in interpreter denylist
    ["id"],                              # not in allowed_commands
    ["git", "push", "origin", "main"],   # git's args_deny: push
]

# A pyenv-style shim (examples/workloads/shims/python3) says which version it picked.
shim = os.environ.get("PYENV_VERSION")
print(f"agent: {sys.executable}" + (f" (shim, version {shim})" if shim else ""), flush=True)
for argv in TOOLS:
    line = " ".join(argv)
    try:
        # stderr is not captured: a refusal's explanation reaches the agent's own stderr.
        done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=60)
        print(f"ran {line}: exit {done.returncode}", flush=True)
    except PermissionError as error:
        print(f"refused {line}: {error.strerror}", flush=True)
