"""Cost of slice stacks: fit time of a slice-stack model against the number of slices per
patient (the issue asks that it grow linearly), measured side by side, interleaved, repeated.

    python benchmarks/stacks.py --quick     # 2 CPU cores: a few minutes
"""

import argparse
import json
import pathlib
import platform
import sys
import time

import numpy as np
import torch

from skfusion import ClinicalAttentionClassifier, FusionInput

RESULTS = pathlib.Path(__file__).parent / "results"


def data(n, slices, size, seed=0):
    rng = np.random.RandomState(seed)
    images = rng.normal(size=(n, slices, size, size)).astype(np.float32)
    return FusionInput(images, rng.normal(size=(n, 6))), np.arange(n) % 2


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    counts, patients, size, epochs, width = (1, 2, 4, 8), 48, 64, 2, 16
    torch.set_num_threads(2)
    seconds = {s: [] for s in counts}
    warm = data(8, 2, size)
    ClinicalAttentionClassifier(
        backbone="resnet18",
        base_width=width,
        max_epochs=1,
        slices="attention",
        device="cpu",
        verbose=0,
    ).fit(*warm)
    for repeat in range(args.repeats):
        for slices in counts:  # interleaved: each repeat times every count once
            X, y = data(patients, slices, size)
            model = ClinicalAttentionClassifier(
                mode="full",
                backbone="resnet18",
                base_width=width,
                clinical_dim=32,
                max_epochs=epochs,
                batch_size=8,
                slices="attention",
                device="cpu",
                verbose=0,
                random_state=repeat,
            )
            started = time.perf_counter()
            model.fit(X, y)
            seconds[slices].append(time.perf_counter() - started)
    rows = []
    base = np.median(seconds[1])
    for slices in counts:
        values = np.array(seconds[slices])
        rows.append(
            {
                "slices": slices,
                "median_s": float(np.median(values)),
                "min_s": float(values.min()),
                "max_s": float(values.max()),
                "ratio_to_1_slice": float(np.median(values) / base),
                "per_slice_ratio": float(np.median(values) / base / slices),
            }
        )
    slope, intercept = np.polyfit(counts, [r["median_s"] for r in rows], 1)
    fitted = np.polyval([slope, intercept], counts)
    r2 = 1 - np.sum((np.array([r["median_s"] for r in rows]) - fitted) ** 2) / np.sum(
        (np.array([r["median_s"] for r in rows]) - np.mean([r["median_s"] for r in rows])) ** 2
    )
    lines = [
        "| slices per patient | fit seconds (median [min, max]) | ratio to 1 slice |",
        "|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['slices']} | {r['median_s']:.2f} [{r['min_s']:.2f}, "
            f"{r['max_s']:.2f}] | {r['ratio_to_1_slice']:.2f} |"
        )
    lines.append(
        f"\nLinear fit: {slope:.3f} s per slice + {intercept:.3f} s, R^2 {r2:.3f} "
        f"({patients} patients, {size}x{size}, ResNet18 width {width}, {epochs} epochs, "
        f"{args.repeats} interleaved repeats, 2 threads)"
    )
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    command = "python benchmarks/stacks.py " + " ".join(argv if argv is not None else sys.argv[1:])
    (RESULTS / "stacks_quick.json").write_text(
        json.dumps(
            {
                "command": command,
                "rows": rows,
                "seconds": {str(k): v for k, v in seconds.items()},
                "linear_fit": {"slope_s_per_slice": slope, "intercept_s": intercept, "r2": r2},
                "machine": {
                    "cpu": platform.processor() or platform.machine(),
                    "torch": torch.__version__,
                },
            },
            indent=2,
        )
    )
    (RESULTS / "stacks_quick.md").write_text(f"Command: `{command}`\n\n{text}\n")


if __name__ == "__main__":
    main()
