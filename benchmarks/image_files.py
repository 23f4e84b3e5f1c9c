"""Lazy 2-D image files against the same images in memory: epoch time and peak memory.

Generated 224x224 8-bit grey PNGs (smooth blobs plus noise, as an X-ray-like texture; their
sizes on disk are reported). Two measures:

* epoch time: ``ClinicalAttentionClassifier(mode="image")``, ResNet18 of width 8, batch 32,
  one epoch on N images read lazily (``load_images(..., lazy=True)``: decoded in the training
  loop, ``num_workers=0``) against the same images as an array; interleaved rounds, median
  ratio lazy / memory with its spread;
* peak memory: in a fresh interpreter per count, the peak resident memory of reading every
  image once through the estimator's lazy loader (``predict_proba`` of a fitted model) at
  1k and 10k files.

    python benchmarks/image_files.py                 # 1k images, 5 rounds; 1k/10k memory
    python benchmarks/image_files.py --quick         # 256 images, 3 rounds; 256/1k memory

Writes ``results/image_files[_quick].{json,md}`` with the command.
"""

import argparse
import json
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


def _model(epochs=1):
    from skfusion import ClinicalAttentionClassifier

    return ClinicalAttentionClassifier(mode="image", backbone="resnet18", base_width=8,
                                       max_epochs=epochs, batch_size=32, lr=1e-3, verbose=0,
                                       random_state=0, device="cpu")


def epoch_seconds(images, y):
    from skfusion import FusionInput

    started = time.perf_counter()
    _model().fit(FusionInput(images, np.zeros((len(y), 0))), y)
    return time.perf_counter() - started


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
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
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
        sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp) / "pngs"
        started = time.perf_counter()
        paths = write_pngs(folder, max(counts))
        sizes = [pathlib.Path(p).stat().st_size for p in paths]
        print(f"wrote {len(paths)} PNGs of {SIZE}x{SIZE} in {time.perf_counter() - started:.0f}"
              f" s; mean {np.mean(sizes) / 1024:.1f} KiB", flush=True)
        y = np.arange(n_epoch) % 2
        eager = load_images(paths[:n_epoch])
        lazy = load_images(paths[:n_epoch], lazy=True)
        epoch_seconds(eager[:64], y[:64])  # warm-up: imports, allocator
        rows = []
        for round_ in range(rounds):
            order = ("memory", "lazy") if round_ % 2 == 0 else ("lazy", "memory")
            times = {which: epoch_seconds(eager if which == "memory" else lazy, y)
                     for which in order}
            rows.append({**times, "ratio": times["lazy"] / times["memory"]})
            print(f"round {round_ + 1}/{rounds}: memory {times['memory']:.1f} s, lazy "
                  f"{times['lazy']:.1f} s, ratio {rows[-1]['ratio']:.3f}", flush=True)
        memory = {}
        for n in counts:
            memory[n] = peak_memory_mb(folder, n)
            print(f"{n} files: peak RSS {memory[n][1]:.0f} MB (before predicting "
                  f"{memory[n][0]:.0f} MB)", flush=True)
    ratios = [r["ratio"] for r in rows]
    summary = {"command": command, "machine": platform.platform(), "image_size": SIZE,
               "mean_file_kib": float(np.mean(sizes) / 1024), "epoch_images": n_epoch,
               "rounds": rows, "median_ratio": statistics.median(ratios),
               "ratio_range": [min(ratios), max(ratios)],
               "peak_rss_mb": {str(n): {"before": b, "peak": p}
                               for n, (b, p) in memory.items()}}
    text = "\n".join([
        "# Lazy 2-D image files against images in memory", "",
        f"`{command}` — {platform.machine()}, {platform.python_version()}. Generated "
        f"{SIZE}x{SIZE} 8-bit grey PNGs, mean {summary['mean_file_kib']:.1f} KiB on disk "
        "(smooth blobs and noise).", "",
        f"One epoch of ClinicalAttentionClassifier(mode=\"image\"), ResNet18 width 8, batch "
        f"32, on {n_epoch} images, {rounds} interleaved rounds:", "",
        "| memory (median s) | lazy (median s) | lazy / memory: median [min, max] |",
        "|---|---|---|",
        f"| {statistics.median(r['memory'] for r in rows):.1f} | "
        f"{statistics.median(r['lazy'] for r in rows):.1f} | "
        f"{summary['median_ratio']:.3f} [{min(ratios):.3f}, {max(ratios):.3f}] |", "",
        "Peak resident memory of a fresh interpreter reading every file once through the "
        "lazy loader (predict_proba of a model fitted on 64 of them):", "",
        "| files | before predicting (MB) | peak (MB) |", "|---|---|---|",
        *[f"| {n} | {b:.0f} | {p:.0f} |" for n, (b, p) in memory.items()], ""])
    print(text)
    RESULTS.mkdir(exist_ok=True)
    name = "image_files_quick" if args.quick else "image_files"
    (RESULTS / f"{name}.md").write_text(text)
    (RESULTS / f"{name}.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
