"""Training speed of ClinicalAttentionClassifier.fit against a hand-written PyTorch loop.

Both train the same network (ClinicalAttentionNet), with the same optimizer, batch size, data
and epochs, alternately in paired runs; the hand loop indexes in-memory tensors directly (the
fastest loop we know, faster than a DataLoader). The headline is fit time over raw-loop time,
the median of the paired ratios.

    python benchmarks/speed.py --quick
"""

import argparse
import json
import pathlib
import platform
import statistics
import sys
import time

import numpy as np
import torch

from skfusion import ClinicalAttentionClassifier, FusionInput
from skfusion.nn import ClinicalAttentionNet

RESULTS = pathlib.Path(__file__).parent / "results"


def raw_loop(images, clinical, y, *, params, epochs, batch_size, lr, seed):
    torch.manual_seed(seed)
    net = ClinicalAttentionNet(n_classes=2, n_clinical=clinical.shape[1], in_channels=1,
                               **params)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    images, clinical, y = (torch.from_numpy(a) for a in (images[:, None], clinical, y))
    rng = np.random.RandomState(seed)
    net.train()
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(len(y)))
        for start in range(0, len(y), batch_size):
            index = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(net(images[index], clinical[index]), y[index])
            loss.backward()
            optimizer.step()
    return net


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (about a minute)")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    n, size, epochs, repeats = (256, 64, 2, 5) if args.quick else (1024, 64, 3, 7)
    repeats = args.repeats or repeats
    params = dict(mode="full", backbone="resnet18", base_width=16, clinical_dim=64)
    batch_size, lr = 32, 1e-4
    rng = np.random.RandomState(0)
    images = rng.normal(size=(n, size, size)).astype(np.float32)
    clinical = rng.normal(size=(n, 8)).astype(np.float32)
    y = (np.arange(n) % 2).astype(np.int64)
    X = FusionInput(images, clinical)

    def ours():
        ClinicalAttentionClassifier(**params, max_epochs=epochs, batch_size=batch_size, lr=lr,
                                    device="cpu", verbose=0, random_state=0).fit(X, y)

    def raw():
        raw_loop(images, clinical, y, params=params, epochs=epochs, batch_size=batch_size,
                 lr=lr, seed=0)

    ours(), raw()  # warm-up
    pairs = []
    for repeat in range(repeats):
        timings = {}
        for name, fn in (("fit", ours), ("raw", raw)) if repeat % 2 == 0 else (
                ("raw", raw), ("fit", ours)):
            tick = time.perf_counter()
            fn()
            timings[name] = time.perf_counter() - tick
        pairs.append(timings)
        print(f"  repeat {repeat + 1}/{repeats}: fit {timings['fit']:.2f}s  raw "
              f"{timings['raw']:.2f}s  ratio {timings['fit'] / timings['raw']:.3f}", flush=True)
    ratios = [p["fit"] / p["raw"] for p in pairs]
    samples = n * epochs
    result = {
        "command": "python benchmarks/speed.py" + (" --quick" if args.quick else ""),
        "fit_vs_raw_loop_ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "fit_seconds_median": statistics.median(p["fit"] for p in pairs),
        "raw_seconds_median": statistics.median(p["raw"] for p in pairs),
        "fit_images_per_second": samples / statistics.median(p["fit"] for p in pairs),
        "raw_images_per_second": samples / statistics.median(p["raw"] for p in pairs),
        "setting": dict(params, n_samples=n, image_size=size, epochs=epochs,
                        batch_size=batch_size, repeats=repeats, device="cpu"),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": sys.version.split()[0],
        },
    }
    RESULTS.mkdir(exist_ok=True)
    name = "speed_quick.json" if args.quick else "speed.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2))
    print()
    print("| measure | skfusion fit | raw torch loop |")
    print("|---|---|---|")
    print(f"| median seconds | {result['fit_seconds_median']:.2f} | "
          f"{result['raw_seconds_median']:.2f} |")
    print(f"| images/s | {result['fit_images_per_second']:.0f} | "
          f"{result['raw_images_per_second']:.0f} |")
    print(f"\nfit_vs_raw_loop_ratio (median of {repeats} paired runs): "
          f"{result['fit_vs_raw_loop_ratio']:.3f} (range {min(ratios):.3f}-{max(ratios):.3f}); "
          f"written to {RESULTS / name}")


if __name__ == "__main__":
    main()
