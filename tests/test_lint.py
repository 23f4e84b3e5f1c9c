"""The code passes the linter and the formatter (ruff, configured in pyproject.toml): unused
imports and names, undefined names, unsorted imports, lines of more than 100 characters and
code that ``ruff format`` would rewrite fail the suite (``.ci/run`` runs both first too)."""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
TREE = ("skfusion", "tests", "benchmarks")


@pytest.mark.parametrize("command", [("check",), ("format", "--check")], ids=" ".join)
def test_the_package_its_tests_and_benchmarks_pass_ruff(command):
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--no-cache", *TREE],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, (
        done.stdout + done.stderr + "\nFix with: ruff check --fix . && ruff format ."
    )
