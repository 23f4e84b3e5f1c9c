"""``python -m skfusion tune``: an Optuna study on the built-in cohort."""

import json
import pathlib
import time

from sklearn.pipeline import make_pipeline

from .._families.clinical_attention import ClinicalAttentionClassifier
from ..datasets import make_brain_cohort
from ..tuning import search_space, tune
from .checks import mask_credentials
from .demo import _clinical_preprocessing


def run_tune(args):
    say = (lambda *a, **k: None) if args.quiet else print
    started = time.perf_counter()
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    cohort = make_brain_cohort(
        args.subjects,
        task=args.task,
        n_slices=4,
        image_size=64,
        random_state=args.seed,
        unit="slice",
    )
    model = make_pipeline(
        _clinical_preprocessing(),
        ClinicalAttentionClassifier(
            backbone="resnet18",
            base_width=8,
            max_epochs=args.epochs,
            device=args.device,
            verbose=0,
            random_state=args.seed,
            clinical_preprocessing=None,
        ),
    )
    space = search_space(model)
    space.pop("clinicalattentionclassifier__base_width")  # fixed for CPU-sized trials
    say(
        f"skfusion tune: {args.subjects} subjects x 4 slices, task {args.task}; "
        f"{args.folds}-fold subject-grouped CV, {args.epochs} epochs, "
        f"pruning {'off' if args.no_pruning else 'on'}, "
        f"storage {mask_credentials(args.storage) or 'in memory'}"
    )
    say(f"search space: {sorted(space)}")
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        # Trials train for a fixed --epochs on purpose (a budget, with pruning); whether one
        # converges is not what a trial measures, so the warning is not printed per fold.
        warnings.simplefilter("ignore", ConvergenceWarning)
        study = tune(
            model,
            cohort.X,
            cohort.y,
            groups=cohort.groups,
            space=space,
            cv=args.folds,
            n_trials=args.n_trials,
            timeout=args.timeout,
            pruning=not args.no_pruning,
            storage=args.storage,
            study_name=args.study_name,
            heartbeat=args.heartbeat,
            random_state=args.seed,
            verbose=0 if args.quiet else 1,
        )
    out = pathlib.Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    trials = study.trials_dataframe()
    trials.to_csv(out / "trials.csv", index=False)
    states = trials["state"].value_counts().to_dict()
    summary = {
        "best_params": study.best_params,
        "best_value": study.best_value,
        "scoring": "roc_auc",
        "n_trials": len(study.trials),
        "states": states,
        "seconds": time.perf_counter() - started,
        "command": "python -m skfusion tune "
        + " ".join(
            f"--{k.replace('_', '-')} {mask_credentials(v) if k == 'storage' else v}"
            for k, v in vars(args).items()
            if k != "command" and v not in (None, False)
        ),
    }
    (out / "best_params.json").write_text(json.dumps(summary, indent=2, default=str))
    say(f"\nbest roc_auc {study.best_value:.4f} with {study.best_params}")
    say(
        f"trials: {states}; wrote {out}/best_params.json and trials.csv ({summary['seconds']:.0f}s)"
    )
    return study
