"""Per-patient accuracy of the readings of a patient's slices, on the built-in cohort
(simulated): slice-level training with per-patient aggregation (Yang et al.'s protocol,
scored per slice and per patient), slice stacks pooled by mean or gated attention, the slices
as channels (2.5-D), and the slab as one 3-D volume (``spatial_dims=3``). Subject-grouped
5-fold CV (the same patients in every reading), ROC AUC and accuracy per patient; paired
differences against the slice-level protocol with Nadeau-Bengio corrected intervals.

    python benchmarks/patients.py --quick     # 2 CPU cores
"""

import argparse
import json
import pathlib
import sys
import time

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline

from skfusion import ClinicalAttentionClassifier, ClinicalTransformer
from skfusion.datasets import make_brain_cohort
from skfusion.metrics import aggregate_by_subject

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _stats import corrected_interval  # noqa: E402
from accuracy import _encoder  # noqa: E402

RESULTS = pathlib.Path(__file__).parent / "results"
READINGS = [
    "slices, per slice",
    "slices, per patient",
    "stack (mean)",
    "stack (attention)",
    "channels (2.5-D)",
    "volume (3-D)",
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args(argv)
    subjects, slices, size, epochs = 160, 8, 32, 12
    cohort = make_brain_cohort(
        subjects, n_slices=slices, image_size=size, unit="patient", random_state=0
    )
    X, y = cohort.X, cohort.y
    per_slice = make_brain_cohort(
        subjects, n_slices=slices, image_size=size, random_state=0, unit="slice"
    )
    common = dict(
        mode="full",
        backbone="resnet18",
        base_width=8,
        max_epochs=epochs,
        batch_size=32,
        lr=1e-3,
        optimizer__weight_decay=1e-2,
        verbose=0,
        clinical_preprocessing=None,
    )
    rows = []
    started = time.perf_counter()
    for seed in range(args.seeds):
        folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(X.images, y))
        for fold, (train, test) in enumerate(folds, start=1):
            # Slice level: the same patients' slices, scored per slice and per patient.
            slice_train = np.flatnonzero(np.isin(per_slice.groups, cohort.groups[train]))
            slice_test = np.flatnonzero(np.isin(per_slice.groups, cohort.groups[test]))
            model = make_pipeline(
                ClinicalTransformer(_encoder()),
                ClinicalAttentionClassifier(**common, random_state=seed),
            )
            model.fit(
                per_slice.X[slice_train],
                per_slice.y[slice_train],
                clinicalattentionclassifier__groups=per_slice.groups[slice_train],
            )
            proba = model.predict_proba(per_slice.X[slice_test])
            ad = list(model.classes_).index("AD")
            truth = per_slice.y[slice_test]
            rows.append(
                {
                    "seed": seed,
                    "fold": fold,
                    "reading": READINGS[0],
                    "AUC": roc_auc_score(truth == "AD", proba[:, ad]),
                    "ACC": accuracy_score(truth, model.classes_[proba.argmax(1)]),
                }
            )
            _, y_patient, p_patient = aggregate_by_subject(
                truth, proba, per_slice.groups[slice_test]
            )
            rows.append(
                {
                    "seed": seed,
                    "fold": fold,
                    "reading": READINGS[1],
                    "AUC": roc_auc_score(y_patient == "AD", p_patient[:, ad]),
                    "ACC": accuracy_score(y_patient, model.classes_[p_patient.argmax(1)]),
                }
            )
            for reading, params in (
                (READINGS[2], dict(slices="mean")),
                (READINGS[3], dict(slices="attention")),
                (READINGS[4], dict(slices="channels")),
                (READINGS[5], dict(spatial_dims=3)),
            ):
                model = make_pipeline(
                    ClinicalTransformer(_encoder()),
                    ClinicalAttentionClassifier(**common, **params, random_state=seed),
                )
                model.fit(X[train], y[train])
                proba = model.predict_proba(X[test])
                ad = list(model.classes_).index("AD")
                rows.append(
                    {
                        "seed": seed,
                        "fold": fold,
                        "reading": reading,
                        "AUC": roc_auc_score(y[test] == "AD", proba[:, ad]),
                        "ACC": accuracy_score(y[test], model.classes_[proba.argmax(1)]),
                    }
                )
            shown = ", ".join(f"{row['reading']} AUC {row['AUC']:.3f}" for row in rows[-6:])
            print(
                f"  seed {seed} fold {fold}: {shown} ({time.perf_counter() - started:.0f}s)",
                flush=True,
            )
    results = pd.DataFrame(rows)
    table = ["| reading | unit scored | AUC | ACC |", "|---|---|---|---|"]
    for reading in READINGS:
        part = results[results.reading == reading]
        unit = "slice" if reading == READINGS[0] else "patient"
        table.append(
            f"| {reading} | {unit} | {part.AUC.mean():.3f} ± {part.AUC.std():.3f} | "
            f"{part.ACC.mean():.3f} ± {part.ACC.std():.3f} |"
        )
    keyed = results.set_index(["seed", "fold", "reading"])["AUC"].unstack("reading")
    diffs = [
        "| reading | AUC difference vs slices, per patient | 95% CI (corrected) |",
        "|---|---|---|",
    ]
    paired = []
    for reading in READINGS[2:]:
        mean, low, high = corrected_interval(keyed[reading] - keyed[READINGS[1]])
        paired.append({"reading": reading, "difference": mean, "ci_low": low, "ci_high": high})
        diffs.append(f"| {reading} | {mean:+.3f} | [{low:+.3f}, {high:+.3f}] |")
    command = "python benchmarks/patients.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    text = (
        f"Command: `{command}`\n\n{subjects} simulated patients x {slices} coronal slices "
        f"of {size}x{size} (the slab is the 3-D volume), ClinicalAttentionClassifier "
        f"mode full, ResNet18 width 8, {epochs} epochs, 5 folds x {args.seeds} seeds "
        f"({time.perf_counter() - started:.0f}s on {torch.get_num_threads()} threads)\n\n"
        + "\n".join(table)
        + "\n\n"
        + "\n".join(diffs)
        + "\n"
    )
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "patients_quick.md").write_text(text)
    (RESULTS / "patients_quick.json").write_text(
        json.dumps({"command": command, "folds": rows, "paired": paired}, indent=2, default=float)
    )


if __name__ == "__main__":
    main()
