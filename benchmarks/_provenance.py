"""The commit a benchmark ran on, for its result files (``benchmarks/stale.py`` reads it)."""

import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]


def commit():
    """``git rev-parse --short HEAD``, with ``-dirty`` when the package or the benchmarks
    hold uncommitted changes (a result of such a run is not the commit's); None outside a
    git checkout."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "skfusion", "benchmarks/*.py"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")
