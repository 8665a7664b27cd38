#!/usr/bin/env bash
# Builds the base image of the workload suite's Docker runs without a registry: the minimal Debian
# of scripts/make-base-image.sh plus the tools a coding agent runs (git, make, gcc, pytest, venv,
# curl), so `sentinel-isolate --backend docker --base-image sentinel-workload-base:bookworm` runs them.
# The workload suite (Tests/SentinelSandboxTests/WorkloadTests.swift) builds its Sentinel image
# on it; .ci/run makes it once per machine.
#
#   scripts/make-workload-image.sh [TAG]    (default tag: sentinel-workload-base:bookworm)
#
# SENTINEL_DEBIAN_MIRROR, SENTINEL_DEBIAN_SUITE and SENTINEL_BASE_PACKAGES (more packages) work as
# for scripts/make-base-image.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="git,make,gcc,libc6-dev,python3-pytest,python3-venv,openssl,curl"
export SENTINEL_BASE_PACKAGES="$tools${SENTINEL_BASE_PACKAGES:+,$SENTINEL_BASE_PACKAGES}"
exec scripts/make-base-image.sh "${1:-sentinel-workload-base:bookworm}"
