"""Lazy NIfTI volumes at 64^3: does reading keep up with training, and does memory stay flat in
the number of patients?

1. Loader: images/s of skfusion's lazy loader (``NiftiVolumes`` through the DataLoader that
   ``fit`` uses, z-scored) over uncompressed and gzipped files, with 0 and 2 workers.
2. Training: images/s of a training step of the ``spatial_dims=3`` ResNet18 (width 64, the
   paper's) on in-memory batches, in the kernels skfusion trains 3-D nets with on the CPU.
3. One epoch of ``ClinicalAttentionClassifier(spatial_dims=3)`` on in-memory vs lazy input
   (interleaved, repeated).
4. Peak memory (the process's peak resident set, VmHWM) of fitting with eager vs lazy input
   for growing numbers of patients, each fit in a fresh process; lazy also with glibc's
   malloc given a fixed mmap threshold (its default threshold moves up after large blocks are
   freed, so the heap fragments as volumes are read).

The volumes are simulated (smoothed noise with a bright ellipsoid), written once as .nii and
.nii.gz; patients beyond the distinct files are symbolic links (a different path each, so
skfusion's per-process cache of 4 volumes never hits; the OS page cache does).

    python benchmarks/lazy_volumes.py --part speed     # about 7 minutes on 2 CPU cores
    python benchmarks/lazy_volumes.py --part memory    # about 12 minutes
    python benchmarks/lazy_volumes.py --quick          # about 1 minute, both parts
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

RESULTS = pathlib.Path(__file__).parent / "results"
SIZE = 64


def write_volumes(folder, n_distinct, n_patients, seed=0):
    import nibabel as nib
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    grid = np.indices((SIZE,) * 3).astype(np.float32) - SIZE / 2
    paths = {"nii": [], "nii.gz": []}
    for i in range(n_distinct):
        volume = gaussian_filter(rng.normal(size=(SIZE,) * 3), 2).astype(np.float32)
        radii = rng.uniform(8, 20, 3)
        volume += 3.0 * (((grid / radii[:, None, None, None]) ** 2).sum(0) < 1)
        for extension in paths:
            path = folder / f"distinct-{i:03d}.{extension}"
            nib.save(nib.Nifti1Image(volume, np.eye(4)), path)
            paths[extension].append(path)
    linked = {}
    for extension, files in paths.items():
        linked[extension] = []
        for p in range(n_patients):
            link = folder / f"patient-{p:04d}.{extension}"
            if not link.exists():
                os.symlink(files[p % n_distinct], link)
            linked[extension].append(str(link))
    return linked


def loader_rate(paths, workers, batch_size=4):
    import torch

    from skfusion._net.data import LazyBatchLoader, make_dataset
    from skfusion.datasets import NiftiVolumes

    images = NiftiVolumes(paths, normalize="zscore")
    dataset = make_dataset(
        images, np.zeros((len(paths), 1), np.float32), np.zeros(len(paths), np.int64)
    )
    loader = LazyBatchLoader(
        dataset,
        batch_size,
        num_workers=workers,
        multiprocessing_context="fork" if workers else None,
    )
    started, seen = time.perf_counter(), 0
    for x, _ in loader:
        seen += len(x["images"])
        assert x["images"].shape[1:] == torch.Size([1, SIZE, SIZE, SIZE])
    return seen / (time.perf_counter() - started)


def training_rate(steps, batch_size=4):
    import torch

    from skfusion._net.device import _without_onednn
    from skfusion.nn.resnet import ResNet

    generator = torch.Generator().manual_seed(0)
    encoder = ResNet("resnet18", in_channels=1, base_width=64, spatial_dims=3)
    model = torch.nn.Sequential(encoder, torch.nn.Linear(encoder.out_features, 2))
    data = torch.randn(batch_size, 1, SIZE, SIZE, SIZE, generator=generator)
    labels = torch.randint(0, 2, (batch_size,), generator=generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    with _without_onednn():
        for step in range(steps + 1):
            if step == 1:  # the first step warms up
                started = time.perf_counter()
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(data), labels).backward()
            optimizer.step()
    return steps * batch_size / (time.perf_counter() - started)


def epoch_seconds(paths, lazy, workers):
    import skfusion
    from skfusion import FusionInput
    from skfusion.datasets import load_nifti_volumes

    images = load_nifti_volumes(paths, normalize="zscore", lazy=lazy)
    y = np.arange(len(paths)) % 2
    extra = {"iterator_train__num_workers": workers} if workers else {}
    model = skfusion.ClinicalAttentionClassifier(
        mode="image",
        spatial_dims=3,
        backbone="resnet18",
        base_width=64,
        max_epochs=1,
        batch_size=4,
        device="cpu",
        verbose=0,
        random_state=0,
        **extra,
    )
    started = time.perf_counter()
    model.fit(FusionInput(images, None), y)
    return time.perf_counter() - started


MEMORY_CHILD = """
import resource, sys, numpy as np, skfusion
from skfusion import FusionInput
from skfusion.datasets import load_nifti_volumes
paths = sys.argv[2:]
images = load_nifti_volumes(paths, normalize="zscore", lazy=sys.argv[1] == "lazy")
model = skfusion.ClinicalAttentionClassifier(
    mode="image", spatial_dims=3, backbone="resnet18", base_width=4, max_epochs=1,
    batch_size=8, device="cpu", verbose=0, random_state=0)
model.fit(FusionInput(images, None), np.arange(len(paths)) % 2)
model.predict_proba(FusionInput(images, None))
# VmHWM: this process image's peak resident memory (ru_maxrss would carry over the peak of
# the parent that forked it).
print([int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024)
"""


def peak_memory_mb(paths, mode, env=None):
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, mode, *paths],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return float(out.stdout.strip().splitlines()[-1])


def summary(values):
    values = np.asarray(values)
    return f"{np.median(values):.2f} [{values.min():.2f}, {values.max():.2f}]"


def speed(paths, patients, repeats, quick):
    loader = {f"{ext}, {w} workers": [] for ext in paths for w in (0, 2)}
    training, epochs = [], {"in memory": [], "lazy .nii, 0 workers": [], "lazy .nii, 2 workers": []}
    for _ in range(repeats):  # interleaved
        for ext in paths:
            for workers in (0, 2):
                loader[f"{ext}, {workers} workers"].append(
                    loader_rate(paths[ext][:patients], workers)
                )
        training.append(training_rate(2 if quick else 6))
        for name in epochs:
            epochs[name].append(
                epoch_seconds(
                    paths["nii"][:patients],
                    lazy=name != "in memory",
                    workers=2 if "2 workers" in name else 0,
                )
            )
    train = np.median(training)
    lines = [
        f"Loader vs training at {SIZE}^3 (images/s, median [min, max] of {repeats} "
        "interleaved repeats):",
        "",
        "| reading | images/s | loader / training |",
        "|---|---|---|",
    ]
    for name, rates in loader.items():
        lines.append(f"| lazy {name} | {summary(rates)} | {np.median(rates) / train:.1f}x |")
    lines.append(f"| training step, ResNet18 3-D width 64, batch 4 | {summary(training)} | 1 |")
    lines += [
        "",
        f"One epoch of ClinicalAttentionClassifier(spatial_dims=3, width 64) on "
        f"{patients} patients (seconds):",
        "",
        "| input | seconds | / in memory |",
        "|---|---|---|",
    ]
    base = np.median(epochs["in memory"])
    for name, seconds in epochs.items():
        lines.append(f"| {name} | {summary(seconds)} | {np.median(seconds) / base:.2f} |")
    numbers = {
        "loader_images_per_s": loader,
        "training_images_per_s": training,
        "epoch_seconds": epochs,
    }
    return lines, numbers


#: glibc's malloc moves its mmap threshold up after freeing large blocks, so later 1 MiB
#: reads come from the heap and fragment it; a fixed threshold shows what the data need.
FIXED_MMAP = {"MALLOC_MMAP_THRESHOLD_": "65536"}


def memory(paths, counts, repeats):
    modes = {
        "eager": ("eager", None),
        "lazy": ("lazy", None),
        "lazy, MALLOC_MMAP_THRESHOLD_=65536": ("lazy", FIXED_MMAP),
    }
    runs = {
        name: [
            [peak_memory_mb(paths["nii"][:n], mode, env) for _ in range(repeats)] for n in counts
        ]
        for name, (mode, env) in modes.items()
    }
    medians = {mode: [float(np.median(r)) for r in cells] for mode, cells in runs.items()}
    lines = [
        f"Peak memory (VmHWM, MB; median of {repeats}) of fit + predict_proba, tiny "
        "3-D net, fresh process each:",
        "",
        "| patients | " + " | ".join(map(str, counts)) + " |",
        "|---|" + "---|" * len(counts),
    ]
    slopes = {}
    for mode, values in medians.items():
        slopes[mode] = float(np.polyfit(counts, values, 1)[0])
        lines.append(f"| {mode} | " + " | ".join(f"{v:.0f}" for v in values) + " |")
    lines.append(
        "\nGrowth (least-squares slope, MB per patient): "
        + ", ".join(f"{mode} {slope:.2f}" for mode, slope in slopes.items())
        + f"; one {SIZE}^3 float32 volume is {SIZE**3 * 4 / 2**20:.2f} MiB."
    )
    numbers = {
        "patients": list(counts),
        "peak_memory_mb": medians,
        "peak_memory_runs_mb": runs,
        "slope_mb_per_patient": slopes,
    }
    return lines, numbers


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--part", choices=("speed", "memory", "all"), default="all")
    args = parser.parse_args(argv)
    import torch

    patients = 16 if args.quick else 64
    counts = (16, 64) if args.quick else (32, 128, 384, 768)
    repeats = 1 if args.quick else args.repeats
    parts = ("speed", "memory") if args.part == "all" else (args.part,)
    command = "python benchmarks/lazy_volumes.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_volumes(pathlib.Path(tmp), 16, max(patients, *counts))
        for part in parts:
            lines, numbers = (
                speed(paths, patients, repeats, args.quick)
                if part == "speed"
                else memory(paths, counts, repeats)
            )
            lines.append(
                f"\n{torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs; "
                "volumes simulated; the page cache was warm."
            )
            text = "\n".join(lines)
            print(text + "\n")
            stem = f"lazy_volumes_{part}_{'quick' if args.quick else 'standard'}"
            (RESULTS / f"{stem}.json").write_text(
                json.dumps({"command": command, **numbers, "machine": machine}, indent=2)
            )
            (RESULTS / f"{stem}.md").write_text(f"Command: `{command}`\n\n{text}\n")


if __name__ == "__main__":
    main()
