"""A tiny module under test, with a command-line entry point the tests run as a program."""
import sys


def add(a, b):
    return a + b


def mean(values):
    if not values:
        raise ValueError("mean of nothing")
    return sum(values) / len(values)


if __name__ == "__main__":
    print(add(*map(int, sys.argv[1:3])))
