"""The demo's wall-clock time on this machine, against an earlier commit's, in interleaved
pairs (the README states the demo's time; this says whether a change made it slower).

    python benchmarks/demo_time.py --before e4c92ad --pairs 3

Each run is ``python -m skfusion demo --quiet`` in a fresh interpreter (import included), the
earlier commit checked out in a temporary git worktree and put first on ``PYTHONPATH``, both
with this environment's packages. Pairs alternate which side runs first. Writes
``results/demo_time.{json,md}``.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))

from _provenance import commit  # noqa: E402


def timed_demo(source, output):
    env = {**os.environ, "PYTHONPATH": str(source)}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "skfusion", "demo", "--quiet", "--output", str(output)],
        env=env,
        cwd=output.parent,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the earlier commit")
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    command = f"python benchmarks/demo_time.py --before {args.before} --pairs {args.pairs}"
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        old = folder / "before"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(old), args.before],
            check=True,
            capture_output=True,
        )
        try:
            for pair in range(args.pairs):
                sides = [("before", old), ("now", ROOT)]
                for name, source in sides if pair % 2 == 0 else sides[::-1]:
                    seconds = timed_demo(source, folder / f"out_{name}_{pair}")
                    runs.append({"pair": pair, "side": name, "seconds": seconds})
                    print(f"  pair {pair + 1}: {name} {seconds:.1f} s", flush=True)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)],
                check=False,
                capture_output=True,
            )
    write(runs, command, args.before)


def write(runs, command, before, note=""):
    by = {side: [r["seconds"] for r in runs if r["side"] == side] for side in ("before", "now")}
    ratios = [now / then for now, then in zip(by["now"], by["before"])]
    lines = [
        "# The demo's time, now against an earlier commit",
        "",
        f"`{command}` — {time.strftime('%Y-%m-%d')}, commit {commit()}, "
        f"{platform.machine()}, {os.cpu_count()} cores; each pair runs "
        f"both sides back to back, alternating which goes first.{note}",
        "",
        "| side | runs (s) | median (s) |",
        "|---|---|---|",
    ]
    for side, label in (("before", f"commit {before}"), ("now", "this checkout")):
        lines.append(
            f"| {label} | {', '.join(f'{s:.0f}' for s in by[side])} | "
            f"{statistics.median(by[side]):.0f} |"
        )
    lines += [
        "",
        f"now / before per pair: {', '.join(f'{r:.3f}' for r in ratios)} "
        f"(median {statistics.median(ratios):.3f})",
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "demo_time.md").write_text(text)
    (RESULTS / "demo_time.json").write_text(
        json.dumps(
            {
                "command": command,
                "commit": commit(),
                "before": before,
                "runs": runs,
                "ratios": ratios,
            },
            indent=1,
        )
    )
    print(text)


if __name__ == "__main__":
    main()
