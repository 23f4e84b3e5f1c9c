"""Fit time of two source trees of skfusion side by side: does a change that should not touch
speed (the package's move into layer subpackages, issue 27) leave it unchanged?

Each round fits the same model on the same data once with each tree, in a fresh interpreter
per fit (so imports and caches start equal), in alternating order; the ratio of a round is
``after / before``. Reported: the median ratio and a 95% bootstrap interval of the median
over rounds, with the command, in ``results/<name>.{json,md}`` (``--name``, default
``tree_speed``).

    git worktree add /tmp/before <commit before the change>
    python benchmarks/tree_speed.py --before /tmp/before --after . --rounds 7
"""

import argparse
import json
import os
import pathlib
import platform
import shlex
import statistics
import subprocess
import sys

import numpy as np

RESULTS = pathlib.Path(__file__).parent / "results"

#: One fit at the speed benchmark's quick size (speed.py --quick: 256 images of 64x64), 4
#: epochs, mode "full", ResNet18 width 16; prints the fit's seconds and where skfusion came from.
CHILD = """
import time, warnings
import numpy as np, torch
torch.set_num_threads(2)
from skfusion import ClinicalAttentionClassifier, FusionInput
rng = np.random.RandomState(0)
images = rng.normal(size=(256, 1, 64, 64)).astype(np.float32)
clinical = rng.normal(size=(256, 6)).astype(np.float32)
y = np.array(["AD", "NC"] * 128)
model = ClinicalAttentionClassifier(mode="full", backbone="resnet18", base_width=16,
                                    max_epochs=4, batch_size=32, lr=1e-3, verbose=0,
                                    random_state=0, device="cpu")
warnings.simplefilter("ignore")
start = time.perf_counter()
model.fit(FusionInput(images, clinical), y)
import skfusion
print(skfusion.__file__)
print(time.perf_counter() - start)
"""


def _fit_seconds(tree):
    env = {**os.environ, "PYTHONPATH": str(pathlib.Path(tree).resolve())}
    out = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=pathlib.Path(tree).resolve(),
    )
    where, seconds = out.stdout.strip().splitlines()[-2:]
    if not pathlib.Path(where).resolve().is_relative_to(pathlib.Path(tree).resolve()):
        raise RuntimeError(f"the fit meant for {tree} imported skfusion from {where}")
    return float(seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the tree before the change")
    parser.add_argument("--after", default=".", help="the tree after the change")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--name",
        default="tree_speed",
        help="results file name, without extension (one per comparison)",
    )
    args = parser.parse_args()
    rows = []
    for round_ in range(args.rounds):
        order = ("before", "after") if round_ % 2 == 0 else ("after", "before")
        times = {which: _fit_seconds(getattr(args, which)) for which in order}
        rows.append({"round": round_, **times, "ratio": times["after"] / times["before"]})
        print(
            f"round {round_ + 1}/{args.rounds}: before {times['before']:.2f} s, after "
            f"{times['after']:.2f} s, ratio {rows[-1]['ratio']:.3f}",
            flush=True,
        )
    ratios = np.array([r["ratio"] for r in rows])
    rng = np.random.default_rng(0)
    medians = np.median(rng.choice(ratios, size=(10_000, len(ratios))), axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    median = float(statistics.median(ratios))
    command = "python benchmarks/tree_speed.py " + shlex.join(sys.argv[1:])
    summary = {
        "command": command,
        "machine": platform.platform(),
        "rounds": rows,
        "median_ratio": median,
        "ci": [float(low), float(high)],
        "before_median_s": statistics.median(r["before"] for r in rows),
        "after_median_s": statistics.median(r["after"] for r in rows),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(summary, indent=1))
    text = (
        f"# Fit time, two trees side by side\n\n`{command}` — {platform.machine()}, "
        f"{len(rows)} interleaved rounds, one fresh interpreter per fit\n\n"
        "| before (median s) | after (median s) | after / before: median [95% CI] |\n"
        "|---|---|---|\n"
        f"| {summary['before_median_s']:.2f} | {summary['after_median_s']:.2f} | "
        f"{median:.3f} [{low:.3f}, {high:.3f}] |\n"
    )
    (RESULTS / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
