"""Accuracy of every fusion method on the built-in cohort, with the paper's metrics.

Subject-grouped 5-fold CV on tasks ad_vs_nc and mci_conversion, repeated over seeds (each
seed changes the network initialisation and the fold assignment, never the cohort, which is
generated once with random_state=0): image only, clinical only, concat, full (RBCA),
GatedFusion, FiLM, DAFT, ReportFusion (the cohort's reports), and classical baselines
(logistic regression and gradient boosting on the clinical table, on the clinical table plus
simple image features, and logistic regression on PCA of the pixels). Reports ACC,
sensitivity, specificity, PPV, NPV, AUC and balanced accuracy as mean ± sd over all
(seed, fold) pairs, and paired AUC differences with 95% intervals against three references:
the better unimodal network (modes image / clinical, by mean AUC), logistic regression on the
clinical table, and (for the image network) logistic regression on PCA of the pixels.

The intervals are Nadeau and Bengio's corrected resampled t-intervals over the
seeds x folds paired differences: the variance is inflated by ``1/J + n_test/n_train``
because the training sets of the folds overlap (a plain t-interval would be too narrow).

    python benchmarks/accuracy.py --quick       # CPU, about 10 minutes
    python benchmarks/accuracy.py --standard    # CPU, the goals of issue 10, under 30 minutes
    python benchmarks/accuracy.py --paper       # ResNet50, 256x256, 100 epochs (GPU)
    python benchmarks/accuracy.py --quick --tasks ad_vs_nc --methods image,clinical,concat \
        --set modality_dropout=0 --tag no-dropout   # an experiment, written to results/experiments/
    python benchmarks/accuracy.py --standard --tasks mmse,conversion_time   # regression, survival

Tasks "mmse" (regression: R^2, MAE) and "conversion_time" (time to event: Harrell's C,
integrated Brier score) run the same protocol with their own baselines (see
``benchmarks/_targets.py``) and write ``results/targets_<config>.*``.
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
from sklearn.compose import make_column_transformer
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skfusion import (
    ClinicalAttentionClassifier,
    ClinicalTransformer,
    FeatureModulationClassifier,
    GatedFusionClassifier,
    ReportFusionClassifier,
)
from skfusion.datasets import make_brain_cohort
from skfusion.metrics import diagnostic_report

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import _targets  # noqa: E402  (benchmarks/ is not a package)
from _stats import paired_rows  # noqa: E402

RESULTS = pathlib.Path(__file__).parent / "results"
METRICS = ["ACC", "Sensitivity", "Specificity", "PPV", "NPV", "AUC", "Balanced ACC"]
CONFIGS = {
    "quick": dict(
        subjects=120,
        slices=2,
        image_size=32,
        backbone="resnet18",
        base_width=8,
        epochs=12,
        batch_size=32,
        lr=1e-3,
        weight_decay=1e-2,
        seeds=3,
    ),
    "standard": dict(
        subjects=160,
        slices=2,
        image_size=64,
        backbone="resnet18",
        base_width=8,
        epochs=15,
        batch_size=32,
        lr=1e-3,
        weight_decay=1e-2,
        seeds=3,
    ),
    "paper": dict(
        subjects=400,
        slices=10,
        image_size=256,
        backbone="resnet50",
        base_width=64,
        epochs=100,
        batch_size=16,
        lr=1e-4,
        weight_decay=0.0,
        seeds=3,
    ),
}
NETWORKS = [
    "image",
    "clinical",
    "concat",
    "full (RBCA)",
    "GatedFusion",
    "FiLM",
    "DAFT",
    "ReportFusion",
]


def _encoder():
    return make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["sex"]), remainder=StandardScaler()
    )


def _image_summary(X):
    """Simple image features for the classical baseline: intensity quantiles and the mean of
    a coarse 4x4 grid."""
    images = np.asarray(X.images, dtype=np.float32)
    n, h, w = images.shape[0], images.shape[-2], images.shape[-1]
    flat = images.reshape(n, -1)
    grid = images.reshape(n, 4, h // 4, 4, w // 4).mean(axis=(2, 4)).reshape(n, -1)
    return np.c_[np.quantile(flat, [0.1, 0.5, 0.9], axis=1).T, grid]


class _Tabular:
    """A classical model on the clinical table, image summaries, or PCA of the pixels."""

    def __init__(self, model, with_images=False, pixels=False):
        self.model = model
        self.with_images = with_images
        self.pixels = pixels

    def fit(self, X, y):
        self.encoder_ = None if self.pixels else _encoder().fit(X.clinical)
        self.model.fit(self._features(X), y)
        self.classes_ = self.model.classes_
        return self

    def _features(self, X):
        if self.pixels:
            return np.asarray(X.images, dtype=np.float32).reshape(len(X), -1)
        table = self.encoder_.transform(X.clinical)
        return np.c_[table, _image_summary(X)] if self.with_images else table

    def predict_proba(self, X):
        return self.model.predict_proba(self._features(X))


def methods(settings, seed, overrides):
    net = {
        **dict(
            backbone=settings["backbone"],
            base_width=settings["base_width"],
            max_epochs=settings["epochs"],
            batch_size=settings["batch_size"],
            lr=settings["lr"],
            optimizer__weight_decay=settings["weight_decay"],
            verbose=0,
            random_state=seed,
            clinical_preprocessing=None,
        ),
        **overrides,
    }

    def piped(make):
        return lambda: make_pipeline(ClinicalTransformer(_encoder()), make())

    return {
        "image": piped(lambda: ClinicalAttentionClassifier(mode="image", **net)),
        "clinical": piped(lambda: ClinicalAttentionClassifier(mode="clinical", **net)),
        "concat": piped(lambda: ClinicalAttentionClassifier(mode="concat", **net)),
        "full (RBCA)": piped(lambda: ClinicalAttentionClassifier(mode="full", **net)),
        "GatedFusion": piped(lambda: GatedFusionClassifier(n_heads=4, head_dim=16, **net)),
        "FiLM": piped(lambda: FeatureModulationClassifier(method="film", **net)),
        "DAFT": piped(lambda: FeatureModulationClassifier(method="daft", **net)),
        "ReportFusion": piped(lambda: ReportFusionClassifier(**net)),
        "LogReg (clinical)": lambda: _Tabular(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        ),
        "GradBoost (clinical)": lambda: _Tabular(HistGradientBoostingClassifier(random_state=seed)),
        "LogReg (clinical + image summary)": lambda: _Tabular(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=4000)), with_images=True
        ),
        "LogReg (PCA of pixels)": lambda: _Tabular(
            make_pipeline(
                StandardScaler(), PCA(20, random_state=seed), LogisticRegression(max_iter=2000)
            ),
            pixels=True,
        ),
    }


def evaluate(task, settings, seeds, overrides, selected, say):
    positive = {"ad_vs_nc": "AD", "mci_conversion": "pMCI"}[task]
    # The cohort is fixed; the seeds change the folds and the networks' initialisation.
    cohort = make_brain_cohort(
        settings["subjects"],
        task=task,
        n_slices=settings["slices"],
        image_size=settings["image_size"],
        reports=True,
        random_state=0,
        unit="slice",
    )
    X, y, groups = cohort.X, cohort.y, cohort.groups
    rows = []
    for seed in seeds:
        folds = list(
            StratifiedGroupKFold(5, shuffle=True, random_state=seed).split(
                np.zeros(len(y)), y, groups
            )
        )
        for name, make in methods(settings, seed, overrides).items():
            if selected and name not in selected:
                continue
            started = time.perf_counter()
            for fold, (train, test) in enumerate(folds, start=1):
                model = make().fit(X[train], y[train])
                proba = model.predict_proba(X[test])
                classes = list(model.classes_)
                pred = np.asarray(classes)[proba.argmax(axis=1)]
                report = diagnostic_report(
                    y[test],
                    pred,
                    proba[:, classes.index(positive)],
                    pos_label=positive,
                    n_bootstraps=0,
                )
                rows.append(
                    {
                        "task": task,
                        "seed": seed,
                        "method": name,
                        "fold": fold,
                        **report["value"].to_dict(),
                    }
                )
            part = pd.DataFrame([r for r in rows if r["method"] == name and r["seed"] == seed])
            say(
                f"  [{task} seed {seed}] {name}: ACC {part['ACC'].mean():.3f} "
                f"AUC {part['AUC'].mean():.3f} ({time.perf_counter() - started:.0f}s)",
                flush=True,
            )
    return pd.DataFrame(rows)


def paired(results, metric="AUC"):
    """Paired differences of every method against the references of issue 10's goals."""
    out = []
    for task, part in results.groupby("task", sort=False):
        means = part.groupby("method")[metric].mean()
        unimodal = [m for m in ("image", "clinical") if m in means.index]
        references = {}
        if unimodal:
            references["best unimodal network"] = max(unimodal, key=lambda m: means[m])
        for ref in ("LogReg (clinical)", "LogReg (PCA of pixels)"):
            if ref in means.index:
                references[ref] = ref
        out += paired_rows(task, part, metric, references)
    return pd.DataFrame(out)


def goals(results, differences):
    """Issue 10's goals, each with its measured value and whether it is met."""
    lines = []
    if differences.empty:
        return pd.DataFrame(
            lines, columns=["task", "goal", "difference", "ci_low", "ci_high", "met"]
        )
    for task, part in results.groupby("task", sort=False):
        means = part.groupby("method")["AUC"].mean()
        diffs = differences[differences.task == task]
        if {"image", "clinical"} <= set(means.index):
            best = max(("image", "clinical"), key=lambda m: means[m])
            for method in NETWORKS[2:]:
                if method in means.index:
                    row = diffs[
                        (diffs.method == method) & (diffs.reference == "best unimodal network")
                    ].iloc[0]
                    lines.append(
                        (
                            task,
                            f"{method} >= best unimodal ({best}) - 0.005",
                            row.difference,
                            row.ci_low,
                            row.ci_high,
                            row.difference >= -0.005,
                        )
                    )
        for method, ref, margin in (
            ("full (RBCA)", "LogReg (clinical)", 0.01),
            ("image", "LogReg (PCA of pixels)", 0.02),
        ):
            if task == "mci_conversion" and method == "full (RBCA)":
                continue
            if method in means.index and ref in means.index:
                row = diffs[(diffs.method == method) & (diffs.reference == ref)].iloc[0]
                lines.append(
                    (
                        task,
                        f"{method} >= {ref} - {margin}",
                        row.difference,
                        row.ci_low,
                        row.ci_high,
                        row.difference >= -margin,
                    )
                )
    return pd.DataFrame(lines, columns=["task", "goal", "difference", "ci_low", "ci_high", "met"])


def table(results):
    lines = ["| task | method | " + " | ".join(METRICS) + " |", "|---|---|" + "---|" * len(METRICS)]
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
        ax.barh(summary.index[::-1], summary["mean"][::-1], xerr=summary["std"][::-1], capsize=2)
        ax.set_xlim(0.4, 1.0)
        ax.set_xlabel("AUC (mean ± sd over seeds x folds)")
        ax.set_title(task)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def run_targets(tasks, settings, seeds, overrides, selected, say, args, config, command):
    """The regression / survival tasks: evaluate, compare, write ``targets_<config>.*``."""
    started = time.perf_counter()
    results = pd.concat(
        [
            _targets.evaluate(
                task, settings, seeds, overrides, selected, say, _encoder, _image_summary
            )
            for task in tasks
        ],
        ignore_index=True,
    )
    differences = _targets.paired(results)
    folder = RESULTS / "experiments" if args.tag else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{args.tag}_targets" if args.tag else f"targets_{config}"
    payload = {
        "command": command,
        "settings": settings,
        "seeds": seeds,
        "overrides": overrides,
        "seconds": time.perf_counter() - started,
        "folds": results.to_dict(orient="records"),
        "paired": differences.to_dict(orient="records"),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "cuda": torch.cuda.is_available(),
        },
    }
    (folder / f"{stem}.json").write_text(json.dumps(payload, indent=2, default=float))
    text = (
        f"Command: `{command}`\n\n{_targets.table(results)}\n\n"
        f"{_targets.difference_table(differences)}\n"
    )
    (folder / f"{stem}.md").write_text(text)
    say("\n" + text)
    say(f"written to {folder}/{stem}.json, .md ({time.perf_counter() - started:.0f}s)")


def _parse_override(text):
    key, _, value = text.partition("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true")
    group.add_argument("--standard", action="store_true")
    group.add_argument("--paper", action="store_true")
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="number of seeds (0, 1, ...); default: the configuration's",
    )
    parser.add_argument("--tasks", default="ad_vs_nc,mci_conversion")
    parser.add_argument("--methods", default="", help="comma-separated subset of methods")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PARAM=VALUE",
        help="override a parameter of every network (JSON value)",
    )
    parser.add_argument("--tag", default="", help="write to results/experiments/<tag>.*")
    args = parser.parse_args(argv)
    config = "paper" if args.paper else "standard" if args.standard else "quick"
    settings = dict(CONFIGS[config])
    seeds = list(range(args.seeds if args.seeds is not None else settings.pop("seeds")))
    settings.pop("seeds", None)
    overrides = dict(_parse_override(item) for item in args.set)
    selected = [m for m in args.methods.split(",") if m]
    say = print
    say(
        f"accuracy benchmark ({config}): {settings}; seeds {seeds}; overrides {overrides}; "
        f"device {'cuda' if torch.cuda.is_available() else 'cpu (no GPU here)'}"
    )
    started = time.perf_counter()
    tasks = args.tasks.split(",")
    command = (
        " ".join(["python", "benchmarks/accuracy.py", *sys.argv[1:]])
        if argv is None
        else "python benchmarks/accuracy.py " + " ".join(argv)
    )
    target_tasks = [t for t in tasks if t in _targets.TASKS]
    if target_tasks:
        run_targets(target_tasks, settings, seeds, overrides, selected, say, args, config, command)
    tasks = [t for t in tasks if t not in _targets.TASKS]
    if not tasks:
        return
    started = time.perf_counter()
    results = pd.concat(
        [evaluate(task, settings, seeds, overrides, selected, say) for task in tasks],
        ignore_index=True,
    )
    differences = paired(results)
    checked = goals(results, differences)
    folder = RESULTS / "experiments" if args.tag else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    stem = args.tag or f"accuracy_{config}"
    payload = {
        "command": command,
        "settings": settings,
        "seeds": seeds,
        "overrides": overrides,
        "seconds": time.perf_counter() - started,
        "folds": results.to_dict(orient="records"),
        "paired": differences.to_dict(orient="records"),
        "goals": checked.to_dict(orient="records"),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "cuda": torch.cuda.is_available(),
        },
    }
    (folder / f"{stem}.json").write_text(json.dumps(payload, indent=2, default=float))
    markdown = table(results)
    diff_lines = [
        "| task | method | reference | AUC difference | 95% CI (corrected) |",
        "|---|---|---|---|---|",
    ]
    for row in differences.itertuples() if not differences.empty else []:
        diff_lines.append(
            f"| {row.task} | {row.method} | {row.reference} "
            f"({row.reference_method}) | {row.difference:+.3f} "
            f"| [{row.ci_low:+.3f}, {row.ci_high:+.3f}] |"
        )
    goal_lines = ["| task | goal | AUC difference | 95% CI | met |", "|---|---|---|---|---|"]
    for row in checked.itertuples():
        goal_lines.append(
            f"| {row.task} | {row.goal} | {row.difference:+.3f} | "
            f"[{row.ci_low:+.3f}, {row.ci_high:+.3f}] | "
            f"{'yes' if row.met else 'no'} |"
        )
    text = (
        f"Command: `{payload['command']}`\n\n"
        + markdown
        + "\n\n"
        + "\n".join(diff_lines)
        + "\n\n"
        + "\n".join(goal_lines)
        + "\n"
    )
    (folder / f"{stem}.md").write_text(text)
    if not args.tag:
        plot(results, folder / f"{stem}.png")
    say("\n" + "\n".join(diff_lines))
    say("\n" + "\n".join(goal_lines))
    say(f"\nwritten to {folder}/{stem}.json, .md ({time.perf_counter() - started:.0f}s)\n")
    say(markdown)


if __name__ == "__main__":
    main()
