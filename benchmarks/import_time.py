"""Wall time of ``import skfusion`` in fresh interpreters, for this tree and (optionally) an
earlier commit, interleaved and repeated; and of reaching each submodule from the package.

    python benchmarks/import_time.py --before 3162daa    # about 1 minute
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile

RESULTS = pathlib.Path(__file__).parent / "results"
ROOT = pathlib.Path(__file__).resolve().parent.parent
TIMER = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"


def seconds(tree, statement):
    out = subprocess.run(
        [sys.executable, "-c", TIMER.format(statement=statement)],
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
    )
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="an earlier commit to compare with")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    trees = {"this tree": ROOT}
    with tempfile.TemporaryDirectory() as tmp:
        if args.before:
            subprocess.run(
                ["git", "worktree", "add", "--detach", tmp + "/before", args.before],
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            trees[f"commit {args.before}"] = pathlib.Path(tmp) / "before"
        try:
            statements = {"import skfusion": "import skfusion"}
            for name in ("explain", "metrics", "tuning", "datasets", "evaluation"):
                statements[f"import skfusion.{name}"] = f"import skfusion.{name}"
            for tree, path in trees.items():  # each tree imports its own copy
                where = subprocess.run(
                    [sys.executable, "-c", "import skfusion; print(skfusion.__file__)"],
                    cwd=path,
                    env={"PYTHONPATH": str(path)},
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.strip()
                assert where.startswith(str(path)), (tree, where)
            times = {(tree, s): [] for tree in trees for s in statements}
            for _ in range(args.repeats):  # interleaved
                for statement in statements.values():
                    for tree, path in trees.items():
                        times[(tree, statement)].append(seconds(path, statement))
        finally:
            if args.before:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", tmp + "/before"],
                    cwd=ROOT,
                    check=False,
                    capture_output=True,
                )
    lines = ["| statement | " + " | ".join(trees) + " |", "|---|" + "---|" * len(trees)]
    for label, statement in statements.items():
        cells = []
        for tree in trees:
            values = times[(tree, statement)]
            cells.append(
                f"{statistics.median(values):.3f} s [{min(values):.3f}, {max(values):.3f}]"
            )
        lines.append(f"| `{label}` | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + (
        f"\n\nMedian [min, max] of {args.repeats} fresh interpreters per cell, interleaved."
    )
    print(text)
    command = "python benchmarks/import_time.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "import_time.json").write_text(
        json.dumps(
            {"command": command, "seconds": {f"{t} | {s}": v for (t, s), v in times.items()}},
            indent=2,
        )
    )
    (RESULTS / "import_time.md").write_text(f"Command: `{command}`\n\n{text}\n")


if __name__ == "__main__":
    main()
