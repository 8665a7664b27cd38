"""A package that exists only as a locally built wheel (examples/workloads/wheel/build_wheel.py)."""

__version__ = "1.0"


def greet():
    return "hello from a local wheel"
