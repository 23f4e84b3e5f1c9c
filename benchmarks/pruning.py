"""How much Optuna pruning cuts tuning time, on the built-in cohort.

Runs the same study (sampler seed, trials, folds, data) twice, with and without pruning from
per-epoch validation losses, and reports total time, trials pruned and the best score.

    python benchmarks/pruning.py --quick
"""

import argparse
import json
import pathlib
import platform
import time

import torch
from sklearn.pipeline import make_pipeline

from skfusion import ClinicalAttentionClassifier
from skfusion._cli.demo import _clinical_preprocessing
from skfusion.datasets import make_brain_cohort
from skfusion.tuning import search_space, tune

RESULTS = pathlib.Path(__file__).parent / "results"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 3 minutes on 2 cores")
    args = parser.parse_args(argv)
    subjects, trials, epochs = (80, 12, 8) if args.quick else (160, 30, 15)
    cohort = make_brain_cohort(subjects, n_slices=4, image_size=64, random_state=0, unit="slice")
    model = make_pipeline(
        _clinical_preprocessing(),
        ClinicalAttentionClassifier(
            backbone="resnet18",
            base_width=8,
            max_epochs=epochs,
            device="cpu",
            verbose=0,
            random_state=0,
            clinical_preprocessing=None,
        ),
    )
    space = search_space(model)
    space.pop("clinicalattentionclassifier__base_width")
    rows = {}
    for pruning in (False, True):
        started = time.perf_counter()
        study = tune(
            model,
            cohort.X,
            cohort.y,
            groups=cohort.groups,
            space=space,
            cv=3,
            n_trials=trials,
            pruning=pruning,
            random_state=0,
            verbose=0,
        )
        seconds = time.perf_counter() - started
        states = [t.state.name for t in study.trials]
        rows["pruning" if pruning else "no pruning"] = {
            "seconds": seconds,
            "trials": len(states),
            "pruned": states.count("PRUNED"),
            "best_roc_auc": study.best_value,
            "best_params": study.best_params,
        }
        print(
            f"  {'with' if pruning else 'without'} pruning: {seconds:.0f}s, "
            f"{states.count('PRUNED')} of {len(states)} trials pruned, best ROC AUC "
            f"{study.best_value:.3f}",
            flush=True,
        )
    result = {
        "command": "python benchmarks/pruning.py" + (" --quick" if args.quick else ""),
        "setting": {
            "subjects": subjects,
            "slices": 4,
            "image_size": 64,
            "trials": trials,
            "epochs": epochs,
            "folds": 3,
            "model": "resnet18 width 8",
        },
        "runs": rows,
        "time_saved_fraction": 1 - rows["pruning"]["seconds"] / rows["no pruning"]["seconds"],
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
    }
    RESULTS.mkdir(exist_ok=True)
    name = "pruning_quick.json" if args.quick else "pruning.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2, default=str))
    print("\n| run | seconds | trials pruned | best ROC AUC |")
    print("|---|---|---|---|")
    for key, row in rows.items():
        print(
            f"| {key} | {row['seconds']:.0f} | {row['pruned']}/{row['trials']} | "
            f"{row['best_roc_auc']:.3f} |"
        )
    print(
        f"\npruning saved {100 * result['time_saved_fraction']:.0f}% of the tuning time; "
        f"written to {RESULTS / name}"
    )


if __name__ == "__main__":
    main()
