"""The code passes the linter (ruff, configured in pyproject.toml): unused imports and names,
undefined names, and lines of more than 100 characters fail the suite."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_package_its_tests_and_benchmarks_pass_ruff():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "skfusion",
                           "tests", "benchmarks"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
