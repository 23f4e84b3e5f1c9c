"""Data-parallel training on one 2-core machine: one fit in one process (1 or 2 torch
threads) against the same fit on 2 processes x 1 thread (``fit_distributed``, gloo), with
the same global batches; wall time including the processes' start-up (spawning, importing
torch and skfusion), and the start-up alone (a fit of 0 samples' worth: ``max_epochs=1`` on
the smallest cohort). That the models agree is tested in ``tests/_net/test_distributed.py``; at
this learning rate training is chaotic (1 and 2 threads alone end far apart), so this
script measures time only.

    python benchmarks/data_parallel.py --repeats 2 --epochs 20
"""

import argparse
import json
import pathlib
import platform
import time

import numpy as np
import torch

from skfusion import ClinicalAttentionClassifier
from skfusion.datasets import make_brain_cohort
from skfusion.distributed import fit_distributed

RESULTS = pathlib.Path(__file__).parent / "results"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--subjects", type=int, default=120)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args(argv)
    cohort = make_brain_cohort(
        args.subjects, n_slices=4, image_size=64, random_state=0, unit="slice"
    )
    X, y = cohort.X, cohort.y

    def model(threads):
        return ClinicalAttentionClassifier(
            backbone="resnet18",
            base_width=16,
            batch_size=32,
            max_epochs=args.epochs,
            lr=1e-3,
            random_state=0,
            verbose=0,
            device="cpu",
            n_threads=threads,
        )

    runs = {
        "1 process, 1 thread": lambda: model(1).fit(X, y),
        "1 process, 2 threads": lambda: model(2).fit(X, y),
        "2 processes x 1 thread (fit_distributed)": lambda: fit_distributed(
            model(1), X, y, n_processes=2, n_threads=1
        ),
    }
    seconds = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():  # interleaved
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
            print(f"  {name}: {seconds[name][-1]:.1f} s", flush=True)
    small = make_brain_cohort(8, n_slices=1, image_size=64, random_state=0, unit="slice")
    startup = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        fit_distributed(
            ClinicalAttentionClassifier(
                backbone="resnet18",
                base_width=16,
                batch_size=4,
                max_epochs=1,
                verbose=0,
                device="cpu",
                random_state=0,
            ),
            small.X,
            small.y,
            n_processes=2,
            n_threads=1,
        )
        startup.append(time.perf_counter() - started)
    rows = {}
    base = np.median(seconds["1 process, 1 thread"])
    for name, values in seconds.items():
        rows[name] = {
            "seconds": values,
            "median": float(np.median(values)),
            "speed_up_vs_1_thread": float(base / np.median(values)),
        }
    rows["start-up of 2 processes (a 1-epoch fit of 8 samples)"] = {
        "seconds": startup,
        "median": float(np.median(startup)),
        "speed_up_vs_1_thread": None,
    }
    command = f"python benchmarks/data_parallel.py --repeats {args.repeats} --epochs {args.epochs}"
    result = {
        "command": command,
        "setting": {
            "subjects": args.subjects,
            "slices": 4,
            "image_size": 64,
            "samples": len(y),
            "epochs": args.epochs,
            "batch_size": 32,
            "network": "ClinicalAttentionClassifier(mode='full'), ResNet18 width 16",
            "data": "simulated (built-in cohort)",
        },
        "rows": rows,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": __import__("os").cpu_count(),
            "torch": torch.__version__,
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "data_parallel.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"Command: `{command}`",
        "",
        "| run | seconds, median [min, max] | speed-up vs 1 process, 1 thread |",
        "|---|---|---|",
    ]
    for name, row in rows.items():
        values = row["seconds"]
        ratio = row["speed_up_vs_1_thread"]
        lines.append(
            f"| {name} | {row['median']:.1f} [{min(values):.1f}, {max(values):.1f}] "
            f"| {'' if ratio is None else f'{ratio:.2f}'} |"
        )
    table = "\n".join(lines) + "\n"
    (RESULTS / "data_parallel.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
