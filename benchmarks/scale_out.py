"""Scale-out on one 2-core machine, measured:

1. Cross-validation wall time: sequential in one process vs the folds spread over a Dask
   distributed cluster (2 worker processes x 1 thread, loopback), with identical scores.
2. With ``--storage URL`` (a PostgreSQL database): Optuna trials per minute of
   ``python -m skfusion tune`` with 1 worker vs 2 workers sharing one study.

    pip install distributed psycopg2-binary    # the benchmark's own dependencies
    source .ci/postgres.sh start                # a throw-away local PostgreSQL server
    python benchmarks/scale_out.py --repeats 2 --storage "$SKFUSION_TEST_POSTGRES"   # ~15 min
"""

import argparse
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

import numpy as np

RESULTS = pathlib.Path(__file__).parent / "results"


def trials_per_minute(storage, n_trials, repeats):
    """Trials per minute of 1 worker running ``n_trials`` and of 2 workers running half each,
    on one study per run; returns {workers: (rates, completed counts)}."""
    import subprocess
    import uuid

    import optuna

    command = [
        sys.executable,
        "-m",
        "skfusion",
        "tune",
        "--subjects",
        "40",
        "--epochs",
        "3",
        "--folds",
        "2",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--no-pruning",
        "--quiet",
        "--storage",
        storage,
    ]
    results = {1: ([], []), 2: ([], [])}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            for workers in (1, 2):
                name = f"bench-{uuid.uuid4().hex[:8]}"
                optuna.create_study(storage=storage, study_name=name, direction="maximize")
                started = time.perf_counter()
                processes = [
                    subprocess.Popen(
                        command
                        + [
                            "--study-name",
                            name,
                            "--n-trials",
                            str(n_trials // workers),
                            "--seed",
                            str(w),
                            "--output",
                            f"{tmp}/{name}-{w}",
                        ],
                        env={**os.environ, "OMP_NUM_THREADS": "1"},
                    )
                    for w in range(workers)
                ]
                assert [p.wait() for p in processes] == [0] * workers
                seconds = time.perf_counter() - started
                study = optuna.load_study(study_name=name, storage=storage)
                done = sum(t.state.name == "COMPLETE" for t in study.trials)
                results[workers][0].append(60 * done / seconds)
                results[workers][1].append(done)
                optuna.delete_study(study_name=name, storage=storage)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--subjects", type=int, default=120)
    parser.add_argument("--epochs", type=int, default=24, help="epochs per fold in part 1")
    parser.add_argument("--storage", default=None, help="PostgreSQL URL for part 2")
    parser.add_argument(
        "--keep-dask-trim",
        dest="unset_trim",
        action="store_false",
        help="keep Dask's MALLOC_TRIM_THRESHOLD_=65536 in the workers",
    )
    parser.add_argument("--trials", type=int, default=12, help="trials per run in part 2")
    args = parser.parse_args(argv)
    import distributed
    import joblib
    import torch
    from sklearn.model_selection import StratifiedGroupKFold, cross_validate

    import skfusion
    from skfusion.datasets import make_brain_cohort

    cohort = make_brain_cohort(args.subjects, n_slices=4, image_size=64, random_state=0)
    cv = StratifiedGroupKFold(4, shuffle=True, random_state=0)

    def model(threads):
        return skfusion.ClinicalAttentionClassifier(
            mode="full",
            backbone="resnet18",
            base_width=8,
            max_epochs=args.epochs,
            n_threads=threads,
            verbose=0,
            random_state=0,
        )

    kwargs = dict(groups=cohort.groups, cv=cv, scoring="roc_auc")
    runs = {
        "sequential, 1 thread": [],
        "sequential, 2 threads": [],
        "Dask, 2 workers x 1 thread": [],
    }
    scores = {}
    import dask

    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers, which doubles the time of
    # a fit here (glibc then maps and unmaps every large tensor); unset it (docs/scale_out.md).
    trim = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
    with (
        dask.config.set({trim: None if args.unset_trim else 65536}),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster),
    ):
        for _ in range(args.repeats):  # interleaved
            for name in runs:
                started = time.perf_counter()
                if name.startswith("Dask"):
                    with joblib.parallel_backend("dask"):
                        result = cross_validate(model(1), cohort.X, cohort.y, n_jobs=2, **kwargs)
                else:
                    result = cross_validate(
                        model(int(name.split(", ")[1][0])), cohort.X, cohort.y, **kwargs
                    )
                runs[name].append(time.perf_counter() - started)
                scores[name] = result["test_score"].tolist()
    base = np.array(runs["sequential, 1 thread"])
    lines = [
        f"4-fold cross-validation of ClinicalAttentionClassifier(mode='full', ResNet18 "
        f"width 8, {args.epochs} epochs) on {args.subjects} simulated patients x 4 slices of "
        "64x64; "
        f"seconds, median [min, max] of {args.repeats} interleaved repeats:",
        "",
        "| run | seconds | speed-up vs sequential 1 thread (median of per-repeat "
        "ratios) | fold ROC AUCs |",
        "|---|---|---|---|",
    ]
    for name, seconds in runs.items():
        seconds = np.array(seconds)
        ratio = np.median(base / seconds)
        lines.append(
            f"| {name} | {np.median(seconds):.1f} [{seconds.min():.1f}, "
            f"{seconds.max():.1f}] | {ratio:.2f} | "
            f"{', '.join(f'{s:.3f}' for s in scores[name])} |"
        )
    lines.append(
        f"\n{os.cpu_count()} CPUs; torch {torch.__version__}; Dask distributed "
        f"{distributed.__version__}; the cluster's start-up is not timed; Dask workers "
        + ("without" if args.unset_trim else "with")
        + " MALLOC_TRIM_THRESHOLD_=65536."
    )
    per_minute = None
    if args.storage:
        per_minute = trials_per_minute(args.storage, args.trials, args.repeats)
        lines += [
            "",
            f"Optuna on PostgreSQL: `python -m skfusion tune` ({args.trials} trials "
            "per run: 40 subjects x 4 slices of 64x64, 2 folds, 3 epochs, no pruning, "
            "1 torch thread per worker), interleaved repeats:",
            "",
            "| workers | trials per minute, median [min, max] | completed trials per run |",
            "|---|---|---|",
        ]
        for workers, (rates, counts) in per_minute.items():
            rates = np.array(rates)
            lines.append(
                f"| {workers} | {np.median(rates):.1f} [{rates.min():.1f}, "
                f"{rates.max():.1f}] | {sorted(set(counts))} |"
            )
    text = "\n".join(lines)
    print(text)
    command = "python benchmarks/scale_out.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    RESULTS.mkdir(exist_ok=True)
    stem = "scale_out" if args.unset_trim else "scale_out_dask_trim"
    (RESULTS / f"{stem}.json").write_text(
        json.dumps(
            {
                "command": command,
                "seconds": runs,
                "scores": scores,
                "postgres_trials_per_minute": per_minute,
                "machine": {
                    "cpu": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(),
                    "torch": torch.__version__,
                },
            },
            indent=2,
        )
    )
    (RESULTS / f"{stem}.md").write_text(f"Command: `{command}`\n\n{text}\n")


if __name__ == "__main__":
    main()
