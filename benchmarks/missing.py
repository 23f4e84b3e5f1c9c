"""Patients without an image: train on everyone, predict for everyone (issue 24's goals).

The built-in cohort (simulated from the MNI152 template; ``random_state=0``), AD vs NC, 160
patients, one row per patient (a stack of 2 coronal slices of 64x64), 5-fold
subject-grouped stratified CV × 3 seeds (the seed changes the folds, the networks'
initialisation and which patients lose their image; never the cohort). In each condition a
share of the patients has no image, drawn per seed: missing at random (MAR), or more often
in the AD group (MNAR: AD patients 1.6 times the share, NC patients 0.4 times).

The fused model is ``ClinicalAttentionClassifier(mode="concat")`` (ResNet18 width 8, 15
epochs, batch 32, Adam lr 1e-3, weight decay 1e-2, its other defaults: modality dropout
0.2, clinical shortcut, augmentation "auto"), trained as:

* ``all (mask)``: on every training patient, images declared missing
  (``FusionInput(..., present={"images": mask})``): the network's learned stand-in takes
  the place of a missing image;
* ``complete only``: on the training patients with an image (it still predicts for every
  test patient through the stand-in it met in modality dropout);
* ``zero fill`` / ``mean fill``: every patient, missing images replaced by zeros or by the
  mean training image, not declared, with ``modality_dropout=0`` (the network is not told);
* ``today (0%)``: at 0% missing only, the model as it trained before this change, modality
  dropout zeroing the pixels of the dropped images (the benchmark patches the dropout back
  to that) - "nothing is lost against today's model";
* ``LogReg (clinical)``: standardised clinical values (median-imputed), logistic regression.

Metrics: AUC per (seed, fold) on the test patients with an image, and on all test patients,
paired differences with Nadeau and Bengio's corrected intervals; on the test patients
without an image, AUC of their out-of-fold probabilities pooled over the folds of a seed,
the difference to LogReg averaged over seeds with a 95% bootstrap interval over patients.
Extra rows: 25% of patients missing the CSF columns (NaN, imputed with indicators as
always) and ``ReportFusionClassifier`` with 25% of the reports missing.

    python benchmarks/missing.py                 # 3 seeds, ~40 min on 2 cores
    python benchmarks/missing.py --seeds 1       # a quicker look

Writes ``results/missing.{json,md}`` with the command.
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
import torch
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _stats import corrected_interval  # noqa: E402

import skfusion._net.net as net_module  # noqa: E402
from skfusion import ClinicalAttentionClassifier, FusionInput, ReportFusionClassifier  # noqa: E402
from skfusion.datasets import make_brain_cohort  # noqa: E402

RESULTS = pathlib.Path(__file__).parent / "results"
CONDITIONS = [
    ("0%", 0.0, "MAR"),
    ("25% MAR", 0.25, "MAR"),
    ("50% MAR", 0.5, "MAR"),
    ("25% MNAR", 0.25, "MNAR"),
    ("50% MNAR", 0.5, "MNAR"),
]
CSF = ["csf_abeta42", "csf_total_tau", "csf_ptau181"]
NET = dict(
    backbone="resnet18",
    base_width=8,
    max_epochs=15,
    batch_size=32,
    lr=1e-3,
    optimizer__weight_decay=1e-2,
    verbose=0,
)


def zeroing_dropout(inputs, probability, generator):
    """Modality dropout as it was before missing modalities: the dropped images' pixels
    zeroed, no mask (the same draws as today's)."""
    if probability <= 0:
        return inputs
    images = inputs["images"]
    n = images.shape[0]
    dropped = torch.rand(n, generator=generator) < probability
    image_side = torch.rand(n, generator=generator) < 0.5
    drop_image = (dropped & image_side).to(images.device)
    drop_other = (dropped & ~image_side).to(images.device)
    out = dict(inputs)
    out["images"] = images * (~drop_image).to(images.dtype).view(n, *([1] * (images.dim() - 1)))
    for name in ("clinical", "tokens"):
        value = inputs.get(name)
        if value is not None and value.numel():
            keep = (~drop_other).to(value.dtype).view(n, *([1] * (value.dim() - 1)))
            out[name] = value * keep
    return out


def missing_mask(y, share, mechanism, rng):
    """True where the patient has an image."""
    if share == 0:
        return np.ones(len(y), dtype=bool)
    rate = (
        np.full(len(y), share)
        if mechanism == "MAR"
        else np.where(y == "AD", 1.6 * share, 0.4 * share)
    )
    return rng.random(len(y)) >= rate


def fused(seed, **overrides):
    return ClinicalAttentionClassifier(mode="concat", random_state=seed, **{**NET, **overrides})


def logreg(X_train, y_train, X_test):
    """Logistic regression on the clinical table: sex one-hot, the other columns
    median-imputed (with indicators) and standardised."""
    columns = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["sex"]),
        remainder=make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
        ),
    )
    model = make_pipeline(columns, LogisticRegression(max_iter=2000))
    model.fit(X_train.clinical, y_train)
    return model.predict_proba(X_test.clinical)[:, list(model.classes_).index("AD")]


def proba_ad(model, X):
    return model.predict_proba(X)[:, list(model.classes_).index("AD")]


def filled(X, present, fill):
    images = np.asarray(X.images, dtype=np.float32).copy()
    images[~present] = fill
    return FusionInput(images, X.clinical, subjects=X.subjects, layout=X.layout)


def run_condition(X, y, groups, share, mechanism, seed, say):
    """Out-of-fold probabilities of every model for one (condition, seed)."""
    rng = np.random.default_rng(1000 + seed)
    present = missing_mask(y, share, mechanism, rng)
    declared = FusionInput(
        X.images,
        X.clinical,
        X.text,
        subjects=X.subjects,
        layout=X.layout,
        present={"images": present},
    )
    models = (
        ["all (mask)", "today (0%)", "LogReg (clinical)"]
        if share == 0
        else ["all (mask)", "complete only", "zero fill", "mean fill", "LogReg (clinical)"]
    )
    proba = {name: np.zeros(len(y)) for name in models}
    fold_of = np.zeros(len(y), dtype=int)
    folds = StratifiedGroupKFold(5, shuffle=True, random_state=seed).split(
        np.zeros(len(y)), y, groups
    )
    for fold, (train, test) in enumerate(folds, start=1):
        fold_of[test] = fold
        for name in models:
            if name == "all (mask)":
                model = fused(seed).fit(declared[train], y[train])
                proba[name][test] = proba_ad(model, declared[test])
            elif name == "today (0%)":
                original = net_module.drop_modalities
                net_module.drop_modalities = zeroing_dropout
                try:
                    model = fused(seed).fit(X[train], y[train])
                finally:
                    net_module.drop_modalities = original
                proba[name][test] = proba_ad(model, X[test])
            elif name == "complete only":
                keep = train[present[train]]
                model = fused(seed).fit(X[keep], y[keep])
                proba[name][test] = proba_ad(model, declared[test])
            elif name in ("zero fill", "mean fill"):
                fill = (
                    0.0
                    if name == "zero fill"
                    else np.asarray(X.images[train[present[train]]], dtype=np.float32).mean(axis=0)
                )
                data = filled(X, present, fill)
                model = fused(seed, modality_dropout=0.0).fit(data[train], y[train])
                proba[name][test] = proba_ad(model, data[test])
            else:
                proba[name][test] = logreg(X[train], y[train], X[test])
        say(f"  seed {seed} fold {fold}/5")
    return proba, present, fold_of


def run_extra(X, y, groups, kind, seed, say):
    """25% of patients missing the CSF columns, or their report (ReportFusion)."""
    rng = np.random.default_rng(2000 + seed)
    lose = rng.random(len(y)) < 0.25
    proba = {"complete": np.zeros(len(y)), "25% missing": np.zeros(len(y))}
    if kind == "csf":
        clinical = X.clinical.copy()
        clinical.loc[lose, CSF] = np.nan
        partial = FusionInput(X.images, clinical, subjects=X.subjects, layout=X.layout)
    else:
        text = [None if gone else report for report, gone in zip(X.text, lose)]
        partial = FusionInput(X.images, X.clinical, text, subjects=X.subjects, layout=X.layout)
    fold_of = np.zeros(len(y), dtype=int)
    folds = StratifiedGroupKFold(5, shuffle=True, random_state=seed).split(
        np.zeros(len(y)), y, groups
    )
    for fold, (train, test) in enumerate(folds, start=1):
        fold_of[test] = fold
        for name, data in (("complete", X), ("25% missing", partial)):
            model = (
                fused(seed) if kind == "csf" else ReportFusionClassifier(random_state=seed, **NET)
            )
            model.fit(data[train], y[train])
            proba[name][test] = proba_ad(model, data[test])
        say(f"  {kind} seed {seed} fold {fold}/5")
    return proba, lose, fold_of


def fold_aucs(proba, y, fold_of, rows):
    out = {}
    for name, p in proba.items():
        out[name] = []
        for fold in range(1, 6):
            where = (fold_of == fold) & rows
            positives = y[where] == "AD"
            out[name].append(
                roc_auc_score(positives, p[where]) if 0 < positives.sum() < where.sum() else np.nan
            )
    return out


def main(argv=None):
    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # fixed epoch budget
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="60 patients, 2 epochs: checks the script runs (not a result)",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        NET["max_epochs"] = 2
    command = "python benchmarks/missing.py " + shlex.join(argv or sys.argv[1:])
    started = time.perf_counter()

    def say(text):
        print(f"[{(time.perf_counter() - started) / 60:5.1f} min] {text}", flush=True)

    cohort = make_brain_cohort(
        60 if args.smoke else 160, n_slices=2, image_size=64, reports=True, random_state=0
    )
    X, y, groups = cohort.X, cohort.y, cohort.groups
    seeds = list(range(args.seeds))
    records = {}
    for label, share, mechanism in CONDITIONS:
        say(label)
        records[label] = [
            run_condition(X, y, groups, share, mechanism, seed, say) for seed in seeds
        ]
    extras = {
        kind: [run_extra(X, y, groups, kind, seed, say) for seed in seeds]
        for kind in ("csf", "report")
    }
    rows, goals = summarise(records, extras, y)
    minutes = (time.perf_counter() - started) / 60
    text = report(command, rows, goals, minutes, len(seeds))
    print(text)
    RESULTS.mkdir(exist_ok=True)
    if args.smoke:
        return
    (RESULTS / "missing.md").write_text(text)
    (RESULTS / "missing.json").write_text(
        json.dumps(
            {
                "command": command,
                "machine": platform.platform(),
                "minutes": minutes,
                "rows": rows,
                "goals": goals,
            },
            indent=1,
            default=float,
        )
    )


def paired(a, b):
    diff = np.asarray(a) - np.asarray(b)
    diff = diff[np.isfinite(diff)]
    return corrected_interval(diff)


def summarise(records, extras, y):
    rows, goals = [], []
    for label, runs in records.items():
        per_model = {}
        for proba, present, fold_of in runs:
            for subset, where in (("with image", present), ("all", np.ones(len(y), bool))):
                for name, values in fold_aucs(proba, y, fold_of, where).items():
                    per_model.setdefault((subset, name), []).extend(values)
        for (subset, name), values in per_model.items():
            rows.append(
                {
                    "condition": label,
                    "patients": subset,
                    "model": name,
                    "auc_mean": float(np.nanmean(values)),
                    "auc_sd": float(np.nanstd(values, ddof=1)),
                }
            )
        if label == "0%":
            mean, low, high = paired(
                per_model[("all", "all (mask)")], per_model[("all", "today (0%)")]
            )
            goals.append(
                {
                    "condition": label,
                    "goal": "all (mask) - today >= 0 or CI holds 0",
                    "difference": mean,
                    "ci": [low, high],
                    "met": bool(high >= 0),
                }
            )
            continue
        mean, low, high = paired(
            per_model[("with image", "all (mask)")], per_model[("with image", "complete only")]
        )
        goals.append(
            {
                "condition": label,
                "goal": "patients with an image: all (mask) - complete only, CI low >= -0.02",
                "difference": mean,
                "ci": [low, high],
                "met": bool(low >= -0.02),
            }
        )
        for other in ("zero fill", "mean fill"):
            mean, low, high = paired(per_model[("all", "all (mask)")], per_model[("all", other)])
            goals.append(
                {
                    "condition": label,
                    "goal": f"all patients: all (mask) - {other} >= 0",
                    "difference": mean,
                    "ci": [low, high],
                    "met": bool(mean >= 0),
                }
            )
        diffs, boot = [], []
        rng = np.random.default_rng(7)
        for proba, present, _ in runs:
            absent = ~present
            truth = y[absent] == "AD"
            mask_auc = roc_auc_score(truth, proba["all (mask)"][absent])
            lr_auc = roc_auc_score(truth, proba["LogReg (clinical)"][absent])
            diffs.append(mask_auc - lr_auc)
            draws = []
            for _ in range(500):
                pick = rng.integers(0, truth.size, truth.size)
                if 0 < truth[pick].sum() < pick.size:
                    draws.append(
                        roc_auc_score(truth[pick], proba["all (mask)"][absent][pick])
                        - roc_auc_score(truth[pick], proba["LogReg (clinical)"][absent][pick])
                    )
            boot.append(np.asarray(draws))
        size = min(len(b) for b in boot)
        seed_mean = np.mean([b[:size] for b in boot], axis=0)
        low, high = np.percentile(seed_mean, [2.5, 97.5])
        goals.append(
            {
                "condition": label,
                "goal": "patients without an image: all (mask) - LogReg >= -0.01",
                "difference": float(np.mean(diffs)),
                "ci": [float(low), float(high)],
                "met": bool(np.mean(diffs) >= -0.01),
            }
        )
    for kind, runs in extras.items():
        per_model = {}
        for proba, _, fold_of in runs:
            for name, values in fold_aucs(proba, y, fold_of, np.ones(len(y), bool)).items():
                per_model.setdefault(name, []).extend(values)
        for name, values in per_model.items():
            rows.append(
                {
                    "condition": f"{kind}: {name}",
                    "patients": "all",
                    "model": "concat" if kind == "csf" else "ReportFusion",
                    "auc_mean": float(np.nanmean(values)),
                    "auc_sd": float(np.nanstd(values, ddof=1)),
                }
            )
        mean, low, high = paired(per_model["25% missing"], per_model["complete"])
        goals.append(
            {
                "condition": f"{kind} 25% missing",
                "goal": "25% missing - complete (reported, no goal)",
                "difference": mean,
                "ci": [low, high],
                "met": None,
            }
        )
    return rows, goals


def report(command, rows, goals, minutes, n_seeds):
    lines = [
        "# Patients without an image",
        "",
        f"`{command}` — {platform.machine()}, {minutes:.1f} min. The built-in cohort "
        "(simulated), AD vs NC, 160 patients (2 coronal slices of 64x64 each), "
        f"subject-grouped stratified 5-fold × {n_seeds} seed(s); "
        'ClinicalAttentionClassifier(mode="concat"), ResNet18 width 8, 15 epochs. '
        "AUC mean ± sd over (seed, fold).",
        "",
        "| condition | test patients | model | AUC |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['condition']} | {row['patients']} | {row['model']} | "
            f"{row['auc_mean']:.3f} ± {row['auc_sd']:.3f} |"
        )
    lines += ["", "| condition | comparison | difference | 95% CI | met |", "|---|---|---|---|---|"]
    for goal in goals:
        met = "—" if goal["met"] is None else ("yes" if goal["met"] else "**no**")
        lines.append(
            f"| {goal['condition']} | {goal['goal']} | {goal['difference']:+.3f} | "
            f"[{goal['ci'][0]:+.3f}, {goal['ci'][1]:+.3f}] | {met} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
