"""Regression (task "mmse") and time-to-event (task "conversion_time") parts of
``benchmarks/accuracy.py``: the same cohort, folds, seeds and corrected intervals as the
classification table, with R^2 / MAE and Harrell's C / integrated Brier score.

Baselines: ridge regression and gradient boosting on the clinical table and on the clinical
table plus simple image summaries (regression); a Cox model (lifelines, L2 penalty 0.1) on
the clinical table and on the table plus image summaries (survival).
"""

import time

import numpy as np
import pandas as pd
from _stats import paired_rows
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import RidgeCV
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skfusion
from skfusion import ClinicalTransformer
from skfusion.datasets import make_brain_cohort
from skfusion.metrics import concordance_index, integrated_brier_score

TASKS = {"mmse": "regression", "conversion_time": "survival"}
METRICS = {"regression": ["R2", "MAE"], "survival": ["C-index", "IBS"]}
#: The metric the paired differences compare, and whether higher is better.
HEADLINE = {"regression": "R2", "survival": "C-index"}
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
REFERENCE = {"regression": "Ridge (clinical)", "survival": "Cox (clinical)"}


class _Tabular:
    """A classical model on the encoded clinical table (plus image summaries)."""

    def __init__(self, kind, encoder, summary, with_images=False, seed=0):
        self.kind, self.encoder, self.summary = kind, encoder, summary
        self.with_images, self.seed = with_images, seed

    def _features(self, X):
        table = self.encoder_.transform(X.clinical)
        return np.c_[table, self.summary(X)] if self.with_images else table

    def fit(self, X, y):
        self.encoder_ = self.encoder().fit(X.clinical)
        features = self._features(X)
        if self.kind == "ridge":
            self.model_ = make_pipeline(StandardScaler(), RidgeCV(np.logspace(-2, 3, 12)))
            self.model_.fit(features, y)
        elif self.kind == "gbm":
            self.model_ = HistGradientBoostingRegressor(random_state=self.seed)
            self.model_.fit(features, y)
        else:  # Cox
            from lifelines import CoxPHFitter

            self.scaler_ = StandardScaler().fit(features)
            frame = pd.DataFrame(self.scaler_.transform(features)).add_prefix("x")
            frame["T"], frame["E"] = y["time"], y["event"]
            self.model_ = CoxPHFitter(penalizer=0.1).fit(frame, "T", "E")
        return self

    def predict(self, X):
        features = self._features(X)
        if self.kind != "cox":
            return self.model_.predict(features)
        frame = pd.DataFrame(self.scaler_.transform(features)).add_prefix("x")
        return np.log(self.model_.predict_partial_hazard(frame).to_numpy())

    def survival(self, X, times):
        frame = pd.DataFrame(self.scaler_.transform(self._features(X))).add_prefix("x")
        return self.model_.predict_survival_function(frame, times=times).to_numpy().T


def _network_survival(model, X, times):
    final = model[-1]
    functions = final.predict_survival_function(model[:-1].transform(X))
    return np.array([f(times) for f in functions])


def methods(task, net, encoder, summary, seed):
    kind = TASKS[task]
    suffix = {"regression": "Regressor", "survival": "Survival"}[kind]

    def network(family, **params):
        cls = getattr(skfusion, family + suffix)
        return lambda: make_pipeline(ClinicalTransformer(encoder()), cls(**params, **net))

    found = {
        "image": network("ClinicalAttention", mode="image"),
        "clinical": network("ClinicalAttention", mode="clinical"),
        "concat": network("ClinicalAttention", mode="concat"),
        "full (RBCA)": network("ClinicalAttention", mode="full"),
        "GatedFusion": network("GatedFusion", n_heads=4, head_dim=16),
        "FiLM": network("FeatureModulation", method="film"),
        "DAFT": network("FeatureModulation", method="daft"),
        "ReportFusion": network("ReportFusion"),
    }
    if kind == "regression":
        for model, label in (("ridge", "Ridge"), ("gbm", "GradBoost")):
            found[f"{label} (clinical)"] = lambda m=model: _Tabular(m, encoder, summary, seed=seed)
            found[f"{label} (clinical + image summary)"] = lambda m=model: _Tabular(
                m, encoder, summary, with_images=True, seed=seed
            )
    else:
        found["Cox (clinical)"] = lambda: _Tabular("cox", encoder, summary)
        found["Cox (clinical + image summary)"] = lambda: _Tabular(
            "cox", encoder, summary, with_images=True
        )
    return found


def evaluate(task, settings, seeds, overrides, selected, say, encoder, summary):
    kind = TASKS[task]
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
        if kind == "survival":
            folds = list(
                StratifiedGroupKFold(5, shuffle=True, random_state=seed).split(
                    np.zeros(len(y)), y["event"], groups
                )
            )
        else:
            folds = list(
                GroupKFold(5, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups)
            )
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
        for name, make in methods(task, net, encoder, summary, seed).items():
            if selected and name not in selected:
                continue
            started = time.perf_counter()
            for fold, (train, test) in enumerate(folds, start=1):
                model = make().fit(X[train], y[train])
                predicted = model.predict(X[test])
                if kind == "regression":
                    scores = {
                        "R2": r2_score(y[test], predicted),
                        "MAE": mean_absolute_error(y[test], predicted),
                    }
                else:
                    event_times = y[train]["time"][y[train]["event"]]
                    times = np.quantile(event_times, np.linspace(0.1, 0.8, 15))
                    times = times[times < y[test]["time"].max()]
                    curves = (
                        model.survival(X[test], times)
                        if isinstance(model, _Tabular)
                        else _network_survival(model, X[test], times)
                    )
                    scores = {
                        "C-index": concordance_index(y[test], predicted),
                        "IBS": integrated_brier_score(y[train], y[test], curves, times),
                    }
                rows.append({"task": task, "seed": seed, "method": name, "fold": fold, **scores})
            part = pd.DataFrame([r for r in rows if r["method"] == name and r["seed"] == seed])
            shown = " ".join(f"{m} {part[m].mean():.3f}" for m in METRICS[kind])
            say(
                f"  [{task} seed {seed}] {name}: {shown} ({time.perf_counter() - started:.0f}s)",
                flush=True,
            )
    return pd.DataFrame(rows)


def paired(results):
    """Differences in the headline metric against the best unimodal network and the
    task's classical reference, with corrected intervals."""
    out = []
    for task, part in results.groupby("task", sort=False):
        kind = TASKS[task]
        metric = HEADLINE[kind]
        means = part.groupby("method")[metric].mean()
        references = {}
        unimodal = [m for m in ("image", "clinical") if m in means.index]
        if unimodal:
            references["best unimodal network"] = max(unimodal, key=lambda m: means[m])
        if REFERENCE[kind] in means.index:
            references[REFERENCE[kind]] = REFERENCE[kind]
        out += paired_rows(task, part, metric, references)
    return pd.DataFrame(out)


def table(results):
    lines = []
    for task, part in results.groupby("task", sort=False):
        metrics = METRICS[TASKS[task]]
        lines += [
            "",
            f"| task | method | {' | '.join(metrics)} |",
            "|---|---|" + "---|" * len(metrics),
        ]
        for method, rows in part.groupby("method", sort=False):
            cells = [f"{rows[m].mean():.3f} ± {rows[m].std(ddof=1):.3f}" for m in metrics]
            lines.append(f"| {task} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines).strip()


def difference_table(differences):
    lines = [
        "| task | method | reference | metric | difference | 95% CI (corrected) |",
        "|---|---|---|---|---|---|",
    ]
    for row in differences.itertuples() if not differences.empty else []:
        lines.append(
            f"| {row.task} | {row.method} | {row.reference} ({row.reference_method}) "
            f"| {row.metric} | {row.difference:+.3f} "
            f"| [{row.ci_low:+.3f}, {row.ci_high:+.3f}] |"
        )
    return "\n".join(lines)
