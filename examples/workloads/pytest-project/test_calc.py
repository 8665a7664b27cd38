import subprocess
import sys

import pytest

import calc


def test_add():
    assert calc.add(2, 3) == 5


def test_mean():
    assert calc.mean([1, 2, 3, 4]) == 2.5
    with pytest.raises(ValueError):
        calc.mean([])


def test_command_line(tmp_path):
    # Tests start programs: this is why pytest needs trust_children under sentinel guard. stderr
    # is not captured here, so a refusal's reason (sentinel: refused exec of …) shows in the report.
    done = subprocess.run([sys.executable, "calc.py", "2", "40"], stdout=subprocess.PIPE, text=True, check=True)
    assert done.stdout == "42\n"
    (tmp_path / "scratch.txt").write_text("pytest's tmp_path is in /tmp")
