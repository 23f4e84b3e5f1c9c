"""What the linear image path costs: fit time with ``image_shortcut="pca"`` against the
same fit without it (issue 41's goal: within 5%).

    python benchmarks/image_shortcut_speed.py --repeats 5

``make_brain_cohort(400, random_state=0)`` (simulated; slice stacks of the built-in cohort,
read as the estimator reads them by default), ``ClinicalAttentionClassifier(mode="full")``
with the benchmarks' CPU profile (ResNet18 width 8, batch 32, lr 1e-3) and a fixed 10 epochs
(no early stopping: both fits run the same epochs). The two settings alternate within each
repeat (which goes first alternates too), so load on the machine hits both alike; the
result is the ratio of each pair's fit times, with its median and range over the repeats.
Writes ``results/image_shortcut_speed.{json,md}``.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time
import warnings

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from _provenance import commit  # noqa: E402

from skfusion import ClinicalAttentionClassifier  # noqa: E402
from skfusion.datasets import make_brain_cohort  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
PROFILE = dict(
    backbone="resnet18",
    base_width=8,
    max_epochs=10,
    batch_size=32,
    lr=1e-3,
    early_stopping=False,
    verbose=0,
)


def timed_fit(X, y, shortcut, seed):
    model = ClinicalAttentionClassifier(
        mode="full", image_shortcut=shortcut, random_state=seed, **PROFILE
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model.fit(X, y)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--patients", type=int, default=400)
    args = parser.parse_args(argv)
    command = "python benchmarks/image_shortcut_speed.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    cohort = make_brain_cohort(args.patients, random_state=0)
    X, y = cohort.X, cohort.y
    timed_fit(X[:64], y[:64], "pca", 0)  # warm-up: first-call costs hit neither arm
    pairs = []
    for repeat in range(args.repeats):
        order = (None, "pca") if repeat % 2 == 0 else ("pca", None)
        seconds = {str(s): timed_fit(X, y, s, repeat) for s in order}
        pairs.append(
            {
                "without": seconds["None"],
                "with": seconds["pca"],
                "ratio": seconds["pca"] / seconds["None"],
                "first": str(order[0]),
            }
        )
        print(
            f"repeat {repeat}: without {seconds['None']:.1f} s, with "
            f"{seconds['pca']:.1f} s, ratio {pairs[-1]['ratio']:.3f}",
            flush=True,
        )
    ratios = [p["ratio"] for p in pairs]
    summary = {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}
    lines = [
        "# What the linear image path costs",
        "",
        f"`{command}` — commit {commit()}, {platform.machine()}, {os.cpu_count()} cores. "
        f"Simulated: `make_brain_cohort({args.patients}, random_state=0)` (slice stacks), "
        f'`ClinicalAttentionClassifier(mode="full")` with {PROFILE}; the two settings '
        "alternate within each repeat.",
        "",
        '| repeat | without (s) | with image_shortcut="pca" (s) | with / without |',
        "|---|---|---|---|",
    ]
    lines += [
        f"| {i} | {p['without']:.1f} | {p['with']:.1f} | {p['ratio']:.3f} |"
        for i, p in enumerate(pairs)
    ]
    lines += [
        "",
        f"Ratio with / without: median {summary['median']:.3f}, range "
        f"{summary['min']:.3f}–{summary['max']:.3f} over {len(pairs)} repeats "
        "(goal: within 5%, i.e. <= 1.05).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "image_shortcut_speed.md").write_text(text)
    (RESULTS / "image_shortcut_speed.json").write_text(
        json.dumps(
            {
                "command": command,
                "commit": commit(),
                "profile": PROFILE,
                "pairs": pairs,
                "summary": summary,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
