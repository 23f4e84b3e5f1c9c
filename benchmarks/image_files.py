"""Lazy 2-D image files against the same images in memory: epoch time and peak memory.

Generated 224x224 8-bit grey PNGs (smooth blobs plus noise, as an X-ray-like texture; their
sizes on disk are reported). Two measures:

* epoch time: ``ClinicalAttentionClassifier(mode="image")``, ResNet18 of width 8, batch 32,
  a fit of ``EPOCHS`` epochs on N images read lazily (``load_images(..., lazy=True)``: decoded
  in the training loop, ``num_workers=0``) against the same images as an array; interleaved
  rounds. Two ratios lazy / memory, each a median with its spread over rounds: the epoch
  (skorch's per-epoch duration, averaged over the fit's
  epochs) and the whole fit (which adds the pass over the training images that recomputes
  the batch-normalisation statistics, a second read of every training image);
* peak memory: in a fresh interpreter per count, the peak resident memory of reading every
  image once through the estimator's lazy loader (``predict_proba`` of a fitted model) at
  1k and 10k files.

    python benchmarks/image_files.py                 # 1k images, 5 rounds; 1k/10k memory
    python benchmarks/image_files.py --quick         # 256 images, 3 rounds; 256/1k memory

Writes ``results/image_files[_quick].{json,md}`` with the command.
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
import tempfile
import time
import warnings

import numpy as np

RESULTS = pathlib.Path(__file__).parent / "results"
SIZE = 224


def write_pngs(folder, n, seed=0):
    """``n`` X-ray-like PNGs: a few smooth blobs and noise; returns the paths."""
    from PIL import Image
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    base = gaussian_filter(rng.normal(size=(SIZE, SIZE)), 12)
    for i in range(n):
        blob = gaussian_filter(rng.normal(size=(SIZE, SIZE)), 20) * 4 + base
        image = np.clip(128 + 40 * blob + rng.normal(0, 6, (SIZE, SIZE)), 0, 255)
        path = folder / f"{i:05d}.png"
        Image.fromarray(image.astype(np.uint8)).save(path)
        paths.append(str(path))
    return paths


EPOCHS = 3


def _model(epochs=1):
    from skfusion import ClinicalAttentionClassifier

    return ClinicalAttentionClassifier(
        mode="image",
        backbone="resnet18",
        base_width=8,
        max_epochs=epochs,
        batch_size=32,
        lr=1e-3,
        verbose=0,
        random_state=0,
        device="cpu",
    )


def fit_seconds(images, y, epochs=EPOCHS):
    """Wall time of a fit and the mean of its epochs' durations (skorch's history)."""
    from skfusion import FusionInput

    started = time.perf_counter()
    model = _model(epochs).fit(FusionInput(images, np.zeros((len(y), 0))), y)
    fit = time.perf_counter() - started
    return fit, float(np.mean([row["dur"] for row in model.net_.history]))


def peak_memory_mb(folder, n):
    """Peak RSS (MB) of a fresh interpreter that reads ``n`` files through the lazy loader."""
    code = f"""
import resource, sys, warnings
import numpy as np
sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})
warnings.simplefilter("ignore")
from image_files import _model
from skfusion import FusionInput
from skfusion.datasets import load_images
paths = sorted(str(p) for p in __import__("pathlib").Path({str(folder)!r}).glob("*.png"))[:{n}]
images = load_images(paths, lazy=True)
y = np.arange(len(paths)) % 2
model = _model().fit(FusionInput(images[:64], np.zeros((64, 0))), y[:64])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
model.predict_proba(FusionInput(images, np.zeros((len(paths), 0))))
print(before / 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1])


def main(argv=None):
    from sklearn.exceptions import ConvergenceWarning

    from skfusion.datasets import load_images

    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # one epoch on purpose
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    n_epoch, rounds, counts = (256, 3, (256, 1000)) if args.quick else (1000, 5, (1000, 10000))
    command = "python benchmarks/image_files.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp) / "pngs"
        started = time.perf_counter()
        paths = write_pngs(folder, max(counts))
        sizes = [pathlib.Path(p).stat().st_size for p in paths]
        print(
            f"wrote {len(paths)} PNGs of {SIZE}x{SIZE} in {time.perf_counter() - started:.0f}"
            f" s; mean {np.mean(sizes) / 1024:.1f} KiB",
            flush=True,
        )
        y = np.arange(n_epoch) % 2
        eager = load_images(paths[:n_epoch])
        lazy = load_images(paths[:n_epoch], lazy=True)
        fit_seconds(eager[:64], y[:64], epochs=1)  # warm-up: imports, allocator
        rows = []
        for round_ in range(rounds):
            order = ("memory", "lazy") if round_ % 2 == 0 else ("lazy", "memory")
            times = {which: fit_seconds(eager if which == "memory" else lazy, y) for which in order}
            rows.append(
                {
                    "memory_fit": times["memory"][0],
                    "lazy_fit": times["lazy"][0],
                    "memory_epoch": times["memory"][1],
                    "lazy_epoch": times["lazy"][1],
                    "epoch_ratio": times["lazy"][1] / times["memory"][1],
                    "fit_ratio": times["lazy"][0] / times["memory"][0],
                }
            )
            print(
                f"round {round_ + 1}/{rounds}: epoch memory {times['memory'][1]:.2f} s, "
                f"lazy {times['lazy'][1]:.2f} s, ratio {rows[-1]['epoch_ratio']:.3f}; fit "
                f"ratio {rows[-1]['fit_ratio']:.3f}",
                flush=True,
            )
        memory = {}
        for n in counts:
            memory[n] = peak_memory_mb(folder, n)
            print(
                f"{n} files: peak RSS {memory[n][1]:.0f} MB (before predicting "
                f"{memory[n][0]:.0f} MB)",
                flush=True,
            )

    def spread(key):
        values = [r[key] for r in rows]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    ratios = {"epoch": spread("epoch_ratio"), "fit": spread("fit_ratio")}
    summary = {
        "command": command,
        "machine": platform.platform(),
        "image_size": SIZE,
        "mean_file_kib": float(np.mean(sizes) / 1024),
        "epoch_images": n_epoch,
        "epochs_per_fit": EPOCHS,
        "cpu_count": os.cpu_count(),
        "rounds": rows,
        "ratios": ratios,
        "peak_rss_mb": {str(n): {"before": b, "peak": p} for n, (b, p) in memory.items()},
    }

    def row(label, key):
        r = ratios[key]
        return (
            f"| {label} | {statistics.median(x[f'memory_{key}'] for x in rows):.2f} | "
            f"{statistics.median(x[f'lazy_{key}'] for x in rows):.2f} | "
            f"{r['median']:.3f} [{r['min']:.3f}, {r['max']:.3f}] |"
        )

    text = "\n".join(
        [
            "# Lazy 2-D image files against images in memory",
            "",
            f"`{command}` — {platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.python_version()}. Generated "
            f"{SIZE}x{SIZE} 8-bit grey PNGs, mean {summary['mean_file_kib']:.1f} KiB on disk "
            "(smooth blobs and noise).",
            "",
            f'ClinicalAttentionClassifier(mode="image"), ResNet18 width 8, batch 32, '
            f"{EPOCHS} epochs on {n_epoch} images (all trained, none held out), "
            f"{rounds} interleaved rounds. The epoch is skorch's per-epoch duration; the fit adds "
            "the model's set-up and the pass that recomputes the batch-normalisation statistics "
            "(a second read of every training image):",
            "",
            "| | memory (median s) | lazy (median s) | lazy / memory: median [min, max] |",
            "|---|---|---|---|",
            row("epoch", "epoch"),
            row(f"fit of {EPOCHS} epochs", "fit"),
            "",
            "Peak resident memory of a fresh interpreter reading every file once through the "
            "lazy loader (predict_proba of a model fitted on 64 of them):",
            "",
            "| files | before predicting (MB) | peak (MB) |",
            "|---|---|---|",
            *[f"| {n} | {b:.0f} | {p:.0f} |" for n, (b, p) in memory.items()],
            "",
        ]
    )
    print(text)
    RESULTS.mkdir(exist_ok=True)
    name = "image_files_quick" if args.quick else "image_files"
    (RESULTS / f"{name}.md").write_text(text)
    (RESULTS / f"{name}.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
