#!/usr/bin/env python3
"""Lays out a workspace for one workload of the workload suite (Tests/SentinelSandboxTests/
WorkloadTests.swift, scripts/bench-workloads.sh). Run it on the host, before the workload.

    python3 examples/workloads/prepare.py WORKLOAD WORKSPACE

WORKLOAD is one of: pytest, git, make, pip, tar, agent, shim, proxied. The workspace is created
when missing. Nothing is downloaded: the wheel is built from wheel/src with the standard library.
"""
import io
import pathlib
import shutil
import subprocess
import sys
import tarfile

HERE = pathlib.Path(__file__).resolve().parent
# The tarball's shape: 30 directories of 50 small files.
TAR_DIRECTORIES, TAR_FILES_PER_DIRECTORY = 30, 50


def copy_tree(source, workspace):
    for path in sorted(source.iterdir()):
        if path.name == "__pycache__":
            continue
        target = workspace / path.name
        (shutil.copytree if path.is_dir() else shutil.copy2)(path, target)


def make_tarball(path):
    with tarfile.open(path, "w:gz") as archive:
        for directory in range(TAR_DIRECTORIES):
            for number in range(TAR_FILES_PER_DIRECTORY):
                data = f"file {directory:02d}/{number:03d}\n".encode()
                info = tarfile.TarInfo(f"tree/dir-{directory:02d}/file-{number:03d}.txt")
                info.size, info.mode, info.mtime = len(data), 0o644, 1767225600
                archive.addfile(info, io.BytesIO(data))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    workload, workspace = sys.argv[1], pathlib.Path(sys.argv[2])
    workspace.mkdir(parents=True, exist_ok=True)
    if workload == "pytest":
        copy_tree(HERE / "pytest-project", workspace)
    elif workload == "git":
        (workspace / "hooks").mkdir()
        shutil.copy2(HERE / "git" / "pre-commit", workspace / "hooks" / "pre-commit")
    elif workload == "make":
        copy_tree(HERE / "c-project", workspace)
    elif workload == "pip":
        subprocess.run([sys.executable, HERE / "wheel" / "build_wheel.py", workspace / "dist"], check=True, stdout=subprocess.DEVNULL)
    elif workload == "tar":
        make_tarball(workspace / "files.tar.gz")
    elif workload in ("agent", "shim"):
        shutil.copy2(HERE / "agent.py", workspace / "agent.py")
        if workload == "shim":
            (workspace / ".shims").mkdir()
            shutil.copy2(HERE / "shims" / "python3", workspace / ".shims" / "python3")
    elif workload == "proxied":
        shutil.copy2(HERE.parent / "agent" / "agent.py", workspace / "agent.py")
        # The agent's own Python, in the workspace: its interpreter is the system's /usr/bin/python3,
        # which the sandbox and the image have too.
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", workspace / ".venv"], check=True)
    else:
        sys.exit(f"prepare.py: unknown workload {workload!r}\n\n{__doc__}")


if __name__ == "__main__":
    main()
