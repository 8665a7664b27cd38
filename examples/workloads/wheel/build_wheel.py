#!/usr/bin/env python3
"""Builds dist/sentinel_workload_demo-1.0-py3-none-any.whl from src/ with the standard library only.

A wheel is a zip file with the package and a .dist-info directory (METADATA, WHEEL, RECORD with
each file's SHA-256), as PEP 427 describes; nothing is downloaded, so `pip install --no-index`
of it works offline.

    python3 build_wheel.py [OUTPUT_DIRECTORY]      (default: ./dist)
"""
import base64
import hashlib
import pathlib
import sys
import zipfile

NAME, VERSION = "sentinel_workload_demo", "1.0"
HERE = pathlib.Path(__file__).resolve().parent


def digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def main():
    output = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "dist")
    output.mkdir(parents=True, exist_ok=True)
    info = f"{NAME}-{VERSION}.dist-info"
    files = {
        f"{NAME}/{path.name}": path.read_bytes()
        for path in sorted((HERE / "src" / NAME).glob("*.py"))
    }
    files[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {NAME.replace('_', '-')}\nVersion: {VERSION}\n"
        "Summary: A wheel for Sentinel Guard's workload suite\n"
    ).encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: build_wheel.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = "".join(f"{name},{digest(data)},{len(data)}\n" for name, data in files.items()) + f"{info}/RECORD,,\n"
    wheel = output / f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data)
        archive.writestr(zipfile.ZipInfo(f"{info}/RECORD", date_time=(2026, 1, 1, 0, 0, 0)), record)
    print(wheel)


if __name__ == "__main__":
    main()
