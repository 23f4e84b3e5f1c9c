"""Accuracy of every fusion method on the built-in cohort, with the paper's metrics.

Subject-grouped 5-fold CV (the same folds and seeds for every method) on tasks ad_vs_nc and
mci_conversion: image only, clinical only, concat, full (RBCA), GatedFusion, FiLM, DAFT,
ReportFusion (the cohort's reports), and classical baselines (logistic regression and
gradient boosting on the clinical table, and on the clinical table plus simple image
features). Reports ACC, sensitivity, specificity, PPV, NPV, AUC and balanced accuracy as
mean ± sd over folds, and paired differences against ClinicalAttention "full" with a 95%
t-interval over folds.

    python benchmarks/accuracy.py --quick       # CPU, a few minutes
    python benchmarks/accuracy.py --paper       # ResNet50, 256x256, 100 epochs (GPU)
"""

import argparse
import json
import pathlib
import platform
import sys
import time

import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skfusion import (ClinicalAttentionClassifier, ClinicalTransformer,
                      FeatureModulationClassifier, GatedFusionClassifier,
                      ReportFusionClassifier)
from skfusion.datasets import make_brain_cohort
from skfusion.metrics import diagnostic_report

RESULTS = pathlib.Path(__file__).parent / "results"
METRICS = ["ACC", "Sensitivity", "Specificity", "PPV", "NPV", "AUC", "Balanced ACC"]
CONFIGS = {
    "quick": dict(subjects=120, slices=2, image_size=32, backbone="resnet18", base_width=8,
                  clinical_dim=64, epochs=12, batch_size=32, lr=1e-3),
    "paper": dict(subjects=400, slices=10, image_size=256, backbone="resnet50", base_width=64,
                  clinical_dim=1024, epochs=100, batch_size=16, lr=1e-4),
}


def _encoder():
    return make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["sex"]),
                                   remainder=StandardScaler())


def _image_summary(X):
    """Simple image features for the classical baseline: intensity quantiles and the mean of
    a coarse 4x4 grid."""
    images = np.asarray(X.images, dtype=np.float32)
    n, h, w = images.shape[0], images.shape[-2], images.shape[-1]
    flat = images.reshape(n, -1)
    grid = images.reshape(n, 4, h // 4, 4, w // 4).mean(axis=(2, 4)).reshape(n, -1)
    return np.c_[np.quantile(flat, [0.1, 0.5, 0.9], axis=1).T, grid]


class _Tabular:
    """A classical model on the clinical table (and optionally image summaries)."""

    def __init__(self, model, with_images):
        self.model = model
        self.with_images = with_images

    def fit(self, X, y):
        self.encoder_ = _encoder().fit(X.clinical)
        self.model.fit(self._features(X), y)
        self.classes_ = self.model.classes_
        return self

    def _features(self, X):
        table = self.encoder_.transform(X.clinical)
        return np.c_[table, _image_summary(X)] if self.with_images else table

    def predict_proba(self, X):
        return self.model.predict_proba(self._features(X))


def methods(settings, seed):
    net = dict(backbone=settings["backbone"], base_width=settings["base_width"],
               max_epochs=settings["epochs"], batch_size=settings["batch_size"],
               lr=settings["lr"], verbose=0, random_state=seed)
    cd = settings["clinical_dim"]

    def piped(model):
        return lambda: make_pipeline(ClinicalTransformer(_encoder()), model)

    return {
        "image": piped(ClinicalAttentionClassifier(mode="image", clinical_dim=cd, **net)),
        "clinical": piped(ClinicalAttentionClassifier(mode="clinical", clinical_dim=cd, **net)),
        "concat": piped(ClinicalAttentionClassifier(mode="concat", clinical_dim=cd, **net)),
        "full (RBCA)": piped(ClinicalAttentionClassifier(mode="full", clinical_dim=cd, **net)),
        "GatedFusion": piped(GatedFusionClassifier(clinical_dim=cd, n_heads=4, head_dim=32,
                                                   **net)),
        "FiLM": piped(FeatureModulationClassifier(method="film", **net)),
        "DAFT": piped(FeatureModulationClassifier(method="daft", **net)),
        "ReportFusion": piped(ReportFusionClassifier(clinical_dim=cd, **net)),
        "LogReg (clinical)": lambda: _Tabular(make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=2000)), False),
        "GradBoost (clinical)": lambda: _Tabular(HistGradientBoostingClassifier(
            random_state=seed), False),
        "LogReg (clinical + image summary)": lambda: _Tabular(make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=4000)), True),
        "GradBoost (clinical + image summary)": lambda: _Tabular(
            HistGradientBoostingClassifier(random_state=seed), True),
    }


def evaluate(task, settings, seed, say):
    positive = {"ad_vs_nc": "AD", "mci_conversion": "pMCI"}[task]
    cohort = make_brain_cohort(settings["subjects"], task=task, n_slices=settings["slices"],
                               image_size=settings["image_size"], reports=True,
                               random_state=seed)
    X, y, groups = cohort.X, cohort.y, cohort.groups
    folds = list(StratifiedGroupKFold(5, shuffle=True, random_state=seed).split(
        np.zeros(len(y)), y, groups))
    rows = []
    for name, make in methods(settings, seed).items():
        started = time.perf_counter()
        for fold, (train, test) in enumerate(folds, start=1):
            model = make().fit(X[train], y[train])
            proba = model.predict_proba(X[test])
            classes = list(model.classes_)
            pred = np.asarray(classes)[proba.argmax(axis=1)]
            report = diagnostic_report(y[test], pred, proba[:, classes.index(positive)],
                                       pos_label=positive, n_bootstraps=0)
            rows.append({"task": task, "method": name, "fold": fold,
                         **report["value"].to_dict()})
        mean = pd.DataFrame([r for r in rows if r["method"] == name])[["ACC", "AUC"]].mean()
        say(f"  [{task}] {name}: ACC {mean['ACC']:.3f} AUC {mean['AUC']:.3f} "
            f"({time.perf_counter() - started:.0f}s)", flush=True)
    return pd.DataFrame(rows)


def paired(results, reference="full (RBCA)"):
    out = []
    for (task, method), part in results.groupby(["task", "method"], sort=False):
        if method == reference:
            continue
        ref = results[(results.task == task) & (results.method == reference)].set_index("fold")
        part = part.set_index("fold")
        for metric in ("ACC", "AUC"):
            diff = (part[metric] - ref[metric]).dropna()
            half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
            out.append({"task": task, "method": method, "metric": metric,
                        "difference": diff.mean(), "ci_low": diff.mean() - half,
                        "ci_high": diff.mean() + half})
    return pd.DataFrame(out)


def table(results):
    lines = ["| task | method | " + " | ".join(METRICS) + " |",
             "|---|---|" + "---|" * len(METRICS)]
    for (task, method), part in results.groupby(["task", "method"], sort=False):
        cells = [f"{part[m].mean():.3f} ± {part[m].std(ddof=1):.3f}" for m in METRICS]
        lines.append(f"| {task} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(results.task))
    figure, axes = plt.subplots(1, len(tasks), figsize=(7 * len(tasks), 5), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        part = results[results.task == task]
        summary = part.groupby("method", sort=False)["AUC"].agg(["mean", "std"])
        ax.barh(summary.index[::-1], summary["mean"][::-1], xerr=summary["std"][::-1],
                capsize=2)
        ax.set_xlim(0.4, 1.0)
        ax.set_xlabel("AUC (mean ± sd over 5 folds)")
        ax.set_title(task)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true")
    group.add_argument("--paper", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    config = "paper" if args.paper else "quick"
    settings = CONFIGS[config]
    say = print
    say(f"accuracy benchmark ({config}): {settings}; device "
        f"{'cuda' if torch.cuda.is_available() else 'cpu (no GPU here)'}")
    started = time.perf_counter()
    results = pd.concat([evaluate(task, settings, args.seed, say)
                         for task in ("ad_vs_nc", "mci_conversion")], ignore_index=True)
    differences = paired(results)
    RESULTS.mkdir(exist_ok=True)
    stem = f"accuracy_{config}"
    payload = {
        "command": " ".join(["python", "benchmarks/accuracy.py", *sys.argv[1:]]) if argv is None
        else "python benchmarks/accuracy.py " + " ".join(argv),
        "settings": settings, "seed": args.seed,
        "seconds": time.perf_counter() - started,
        "folds": results.to_dict(orient="records"),
        "paired_vs_full": differences.to_dict(orient="records"),
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "threads": torch.get_num_threads(), "torch": torch.__version__,
                    "cuda": torch.cuda.is_available()},
    }
    (RESULTS / f"{stem}.json").write_text(json.dumps(payload, indent=2, default=float))
    markdown = table(results)
    diff_lines = ["| task | method | metric | difference vs full | 95% CI |", "|---|---|---|---|---|"]
    for row in differences.itertuples():
        diff_lines.append(f"| {row.task} | {row.method} | {row.metric} | {row.difference:+.3f} "
                          f"| [{row.ci_low:+.3f}, {row.ci_high:+.3f}] |")
    (RESULTS / f"{stem}.md").write_text(markdown + "\n\n" + "\n".join(diff_lines) + "\n")
    plot(results, RESULTS / f"{stem}.png")
    say("\n" + "\n".join(diff_lines))
    say(f"\nwritten to {RESULTS}/{stem}.json, .md, .png "
        f"({time.perf_counter() - started:.0f}s)\n")
    say(markdown)


if __name__ == "__main__":
    main()
