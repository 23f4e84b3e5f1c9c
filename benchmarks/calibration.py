"""Calibration of the fused classifiers with and without ``calibration="temperature"``.

The built-in cohort (simulated from the MNI152 template; generated once, ``random_state=0``),
one row per patient, subject-grouped stratified 5-fold cross-validation; for each network
(concat, full) the pooled out-of-fold probabilities of the model as trained and of the same
model trained with ``calibration="temperature"`` (same seed, same folds). Reported: AUC,
the calibration slope and intercept, ECE (equal-mass bins) and Brier score, and the paired
difference (temperature − none) of ECE and Brier with a 95% subject-bootstrap interval.

    python benchmarks/calibration.py              # 160 patients, 64x64, 2 slices, ~2 min
    python benchmarks/calibration.py --quick      # 80 patients, 32x32
    python benchmarks/calibration.py --validation-fraction 0.25

Writes ``results/calibration[_quick][_vf<fraction>].{json,md}`` with the command.
"""

import argparse
import json
import pathlib
import platform
import shlex
import sys
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold

from skfusion import ClinicalAttentionClassifier
from skfusion.datasets import make_brain_cohort
from skfusion.metrics import calibration_report

RESULTS = pathlib.Path(__file__).parent / "results"
CONFIGS = {
    "standard": dict(subjects=160, slices=2, image_size=64, epochs=15),
    "quick": dict(subjects=80, slices=2, image_size=32, epochs=8),
}
MODES = ["concat", "full"]
CALIBRATIONS = [None, "temperature"]


def out_of_fold(cohort, mode, calibration, seed, epochs, say, validation_fraction=0.1):
    X, y, groups = cohort.X, cohort.y, cohort.groups
    folds = StratifiedGroupKFold(5, shuffle=True, random_state=seed).split(
        np.zeros(len(y)), y, groups
    )
    proba = np.zeros(len(y))
    temperatures = []
    for train, test in folds:
        model = ClinicalAttentionClassifier(
            mode=mode,
            backbone="resnet18",
            base_width=8,
            max_epochs=epochs,
            batch_size=32,
            lr=1e-3,
            optimizer__weight_decay=1e-2,
            calibration=calibration,
            verbose=0,
            validation_fraction=validation_fraction,
            random_state=seed,
        ).fit(X[train], y[train])
        proba[test] = model.predict_proba(X[test])[:, list(model.classes_).index("AD")]
        temperatures.append(getattr(model, "temperature_", np.nan))
    say(
        f"  {mode} calibration={calibration}: temperatures {np.round(temperatures, 2).tolist()}",
        flush=True,
    )
    return proba, temperatures


def _values(y, p):
    report = calibration_report(y, p, pos_label="AD", n_bootstraps=0)["value"]
    return {"AUC": roc_auc_score(y == "AD", p), **report.to_dict()}


def paired_difference(y, subjects, p_none, p_temp, n_bootstraps=1000, seed=0):
    """temperature − none for ECE and Brier, with a 95% subject-bootstrap interval."""
    rng = np.random.default_rng(seed)
    unique = np.unique(subjects)
    rows_of = {s: np.flatnonzero(subjects == s) for s in unique}
    diffs = {"ECE": [], "Brier": []}
    for _ in range(n_bootstraps):
        rows = np.concatenate([rows_of[s] for s in rng.choice(unique, len(unique))])
        a = calibration_report(y[rows], p_none[rows], pos_label="AD", n_bootstraps=0)["value"]
        b = calibration_report(y[rows], p_temp[rows], pos_label="AD", n_bootstraps=0)["value"]
        for key in diffs:
            diffs[key].append(b[key] - a[key])
    point = {k: _values(y, p_temp)[k] - _values(y, p_none)[k] for k in diffs}
    return {k: (point[k], *np.percentile(v, [2.5, 97.5])) for k, v in diffs.items()}


def main(argv=None):
    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # fixed epoch budget
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=0.1,
        help="share of the training patients the temperature is fitted on",
    )
    args = parser.parse_args(argv)
    config = CONFIGS["quick" if args.quick else "standard"]
    command = "python benchmarks/calibration.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    cohort = make_brain_cohort(
        config["subjects"],
        n_slices=config["slices"],
        image_size=config["image_size"],
        random_state=0,
    )
    y, subjects = cohort.y, np.asarray(cohort.groups)
    started = time.perf_counter()
    rows, differences, temperatures = [], {}, {}
    for mode in MODES:
        probabilities = {}
        for calibration in CALIBRATIONS:
            p, t = out_of_fold(
                cohort,
                mode,
                calibration,
                args.seed,
                config["epochs"],
                print,
                args.validation_fraction,
            )
            probabilities[calibration] = p
            temperatures[f"{mode}/{calibration}"] = t
            rows.append({"network": mode, "calibration": str(calibration), **_values(y, p)})
        differences[mode] = paired_difference(
            y, subjects, probabilities[None], probabilities["temperature"]
        )
    minutes = (time.perf_counter() - started) / 60
    table = pd.DataFrame(rows)
    lines = [
        '# Calibration: the network\'s probabilities vs calibration="temperature"',
        "",
        f"`{command}` — {platform.machine()}, {minutes:.1f} min. The built-in cohort "
        f"(simulated), {config['subjects']} patients, {config['slices']} slices of "
        f"{config['image_size']}x{config['image_size']}, ResNet18 width 8, "
        f"{config['epochs']} epochs; subject-grouped stratified 5-fold cross-validation "
        f"(seed {args.seed}); pooled out-of-fold probabilities; the temperature is fitted on "
        f"{args.validation_fraction:g} of each fold's training patients, held out of "
        "its training.",
        "",
        "| network | calibration | AUC | slope | intercept | ECE | Brier |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['network']} | {row['calibration']} | {row['AUC']:.3f} | "
            f"{row['Calibration slope']:.2f} | {row['Calibration intercept']:.2f} | "
            f"{row['ECE']:.3f} | {row['Brier']:.3f} |"
        )
    lines += [
        "",
        "Paired difference, temperature − none (95% subject-bootstrap interval, "
        "1000 resamples of patients):",
        "",
        "| network | ΔECE | ΔBrier |",
        "|---|---|---|",
    ]
    for mode, diff in differences.items():
        lines.append(
            f"| {mode} | {diff['ECE'][0]:+.3f} [{diff['ECE'][1]:+.3f}, "
            f"{diff['ECE'][2]:+.3f}] | {diff['Brier'][0]:+.3f} "
            f"[{diff['Brier'][1]:+.3f}, {diff['Brier'][2]:+.3f}] |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    name = "calibration_quick" if args.quick else "calibration"
    if args.validation_fraction != 0.1:
        name += f"_vf{args.validation_fraction:g}"
    (RESULTS / f"{name}.md").write_text(text)
    (RESULTS / f"{name}.json").write_text(
        json.dumps(
            {
                "command": command,
                "machine": platform.platform(),
                "minutes": minutes,
                "config": config,
                "seed": args.seed,
                "validation_fraction": args.validation_fraction,
                "rows": table.to_dict("records"),
                "differences": differences,
                "temperatures": temperatures,
            },
            indent=1,
            default=float,
        )
    )


if __name__ == "__main__":
    main()
