#!/usr/bin/env python3
"""Fails when a target imports a module of this package or of a dependency that Package.swift
does not declare for it (issue 16: "Package.swift declares every target a module imports").

SwiftPM's own `--explicit-target-dependency-import-check error` reported nothing on Linux with
Swift 6.3 (tried 2026-12-07 with a dependency removed on purpose), so this reads the manifest
(`swift package dump-package`) and each target's `import` lines itself. Modules of the toolchain
(Foundation, Glibc, Testing, Synchronization, ...) are not declared and not checked.
Usage: scripts/check-target-imports.py   (from anywhere in the repository)
"""
import json
import os
import re
import subprocess
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
manifest = json.loads(subprocess.run(
    ["swift", "package", "--package-path", root, "dump-package"], check=True, capture_output=True, text=True).stdout)

def module_name(name):
    return name.replace("-", "_")

targets = {}
for target in manifest["targets"]:
    default = ("Tests/" if target["type"] == "test" else "Sources/") + target["name"]
    declared = set()
    for dependency in target["dependencies"]:
        kind, value = next(iter(dependency.items()))
        declared.add(module_name(value[0]))
    targets[target["name"]] = (os.path.join(root, target.get("path") or default), declared)

# Everything a target could import from this package or its dependencies: the package's own
# targets and the products it depends on anywhere (a product's module carries its name).
known = {module_name(name) for name in targets}
for _, declared in targets.values():
    known |= declared

# A Swift import at the start of a line, after optional attributes and an access level.
import_line = re.compile(r"^(?:@\w+(?:\([^)]*\))?\s+)*(?:public\s+|package\s+|internal\s+|private\s+|fileprivate\s+)?import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?(\w+)")
problems = []
for name, (path, declared) in sorted(targets.items()):
    for directory, _, files in os.walk(path):
        for file in sorted(files):
            if not file.endswith(".swift"):
                continue
            source = os.path.join(directory, file)
            with open(source, encoding="utf-8") as handle:
                for number, line in enumerate(handle, 1):
                    match = import_line.match(line)
                    if not match:
                        continue
                    module = match.group(1)
                    if module in known and module != module_name(name) and module not in declared:
                        problems.append(f"{os.path.relpath(source, root)}:{number}: {name} imports {module}, "
                                        f"which Package.swift does not list among its dependencies: add \"{module}\" to them.")
for problem in problems:
    print(problem, file=sys.stderr)
if problems:
    sys.exit(1)
print(f"check-target-imports: every import of {len(targets)} targets is declared in Package.swift", file=sys.stderr)
