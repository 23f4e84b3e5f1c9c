"""Defaults judged on cohorts the package never saw (issue 23, part 2): every estimator
family with its defaults on twelve **simulated** cohort variants, each a different kind of
image signal (``benchmarks/_variants.py``), against three classical baselines.

Variants: lesion side, lesion size (with the clinical table carrying less, more or none of
the signal), lesion intensity, focal atrophy of the left half, texture, lesion size in 3-D,
no image signal at all (a guard: fusion must not hurt), the built-in cohort (diffuse
atrophy), lesion area as a regression target, and a time-to-event target driven by focal
atrophy. 200 patients each, one row per patient, 32x32 slices (16^3 volumes in 3-D).

Which variant chooses and which judge was fixed before running (``_variants.VARIANTS``):
the defaults were chosen on the built-in cohort earlier, so that variant is reported as
"choosing"; every other variant judges them. No default is re-chosen in this run.

Networks: ``ClinicalAttention`` (its default ``mode="full"`` and ``mode="concat"``),
``FeatureModulation`` (its default DAFT and FiLM) and ``GatedFusion``, each with its
defaults (augmentation "auto", modality dropout 0.2, clinical shortcut, weight decay 1e-2,
median imputation with indicators and one-hot categories inside the estimator) except one
CPU size profile, the same for every variant: ResNet18 width 8, 15 epochs, batch 32, Adam
lr 1e-3 (the profile of ``accuracy.py --standard``), and ``spatial_dims=3`` in 3-D.
``ReportFusion`` is left out: these variants have no report text. On the lateral
classification variants every network also runs with ``augment=False``.

Baselines on the same folds: logistic regression on the encoded clinical table (median
imputation with indicators, standardised, one-hot categories), logistic regression on the
first 20 principal components of the pixels plus that table, and gradient boosting
(HistGradientBoosting) on the same features; ridge and gradient boosting for the
regression variant; Cox (lifelines, L2 penalty 0.1, 10 components) for the survival variant
(no gradient-boosting survival model is in our dependencies).

Metrics: AUC, R^2, Harrell's C per (seed, fold); 5-fold CV x the seeds (the seed changes the
cohort draw, the folds and the networks' initialisation); paired differences with Nadeau and
Bengio's corrected intervals.

    python benchmarks/cohorts.py                    # 3 seeds, about 50 min on 2 cores
    python benchmarks/cohorts.py --smoke            # two variants, tiny, a minute

Writes ``results/cohorts.{json,md}`` with the command (``cohorts_smoke`` for ``--smoke``).
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
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import skfusion
from skfusion import FusionInput
from skfusion.metrics import concordance_index

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _stats import corrected_interval  # noqa: E402
from _variants import VARIANTS, make_variant  # noqa: E402

RESULTS = pathlib.Path(__file__).parent / "results"
PROFILE = dict(backbone="resnet18", base_width=8, max_epochs=15, batch_size=32, lr=1e-3)
FAMILIES = {
    "full (RBCA)": ("ClinicalAttention", {}),
    "concat": ("ClinicalAttention", {"mode": "concat"}),
    "DAFT": ("FeatureModulation", {}),
    "FiLM": ("FeatureModulation", {"method": "film"}),
    "GatedFusion": ("GatedFusion", {}),
}
SUFFIX = {"classification": "Classifier", "regression": "Regressor", "survival": "Survival"}
METRIC = {"classification": "AUC", "regression": "R2", "survival": "C-index"}


def _encoder():
    numeric = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
    categories = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
    )
    return make_column_transformer(
        (numeric, make_column_selector(dtype_include="number")),
        (categories, make_column_selector(dtype_exclude="number")),
    )


class Classical:
    """A classical model on the encoded clinical table, optionally with pixel PCA."""

    def __init__(self, kind, task, components=0, seed=0):
        self.kind, self.task, self.components, self.seed = kind, task, components, seed

    def _features(self, X, fitting=False):
        table = (
            self.encoder_.fit_transform(X.clinical)
            if fitting
            else self.encoder_.transform(X.clinical)
        )
        if not self.components:
            return table
        pixels = np.asarray(X.images).reshape(len(table), -1)
        if fitting:
            self.pca_ = make_pipeline(
                PCA(self.components, random_state=self.seed), StandardScaler()
            ).fit(pixels)
        return np.c_[table, self.pca_.transform(pixels)]

    def fit(self, X, y):
        self.encoder_ = _encoder()
        features = self._features(X, fitting=True)
        if self.kind == "cox":
            from lifelines import CoxPHFitter

            # A constant column (the table's "protocol") stops lifelines' Newton steps.
            self.keep_ = features.std(axis=0) > 0
            features = features[:, self.keep_]
            self.scaler_ = StandardScaler().fit(features)
            frame = pd.DataFrame(self.scaler_.transform(features)).add_prefix("x")
            frame["T"], frame["E"] = y["time"], y["event"]
            self.model_ = CoxPHFitter(penalizer=0.1).fit(frame, "T", "E")
            return self
        self.model_ = {
            ("logreg", "classification"): lambda: LogisticRegression(max_iter=5000),
            ("gbm", "classification"): lambda: HistGradientBoostingClassifier(
                random_state=self.seed
            ),
            ("ridge", "regression"): lambda: RidgeCV(np.logspace(-2, 3, 12)),
            ("gbm", "regression"): lambda: HistGradientBoostingRegressor(random_state=self.seed),
        }[self.kind, self.task]().fit(features, y)
        return self

    def score(self, X):
        features = self._features(X)
        if self.kind == "cox":
            features = features[:, self.keep_]
            frame = pd.DataFrame(self.scaler_.transform(features)).add_prefix("x")
            return np.log(self.model_.predict_partial_hazard(frame).to_numpy())
        if self.task == "classification":
            return self.model_.predict_proba(features)[:, 1]
        return self.model_.predict(features)


def baselines(task, seed, components):
    if task == "classification":
        return {
            "LogReg (clinical)": lambda: Classical("logreg", task, seed=seed),
            "LogReg (PCA + clinical)": lambda: Classical("logreg", task, components, seed),
            "GradBoost (PCA + clinical)": lambda: Classical("gbm", task, components, seed),
        }
    if task == "regression":
        return {
            "Ridge (clinical)": lambda: Classical("ridge", task, seed=seed),
            "Ridge (PCA + clinical)": lambda: Classical("ridge", task, components, seed),
            "GradBoost (PCA + clinical)": lambda: Classical("gbm", task, components, seed),
        }
    return {
        "Cox (clinical)": lambda: Classical("cox", task, seed=seed),
        "Cox (PCA + clinical)": lambda: Classical("cox", task, components // 2, seed),
    }


class Network:
    def __init__(self, family, params, task, profile):
        cls = getattr(skfusion, family + SUFFIX[task])
        self.model, self.task = cls(**params, **profile), task

    def fit(self, X, y):
        self.model.fit(X, y)
        return self

    def score(self, X):
        if self.task == "classification":
            return self.model.predict_proba(X)[:, 1]
        return self.model.predict(X)


def methods(variant, seed, profile, components):
    profile = {
        **profile,
        "random_state": seed,
        "verbose": 0,
        **({"spatial_dims": 3} if variant.dims == 3 else {}),
    }
    found = {}
    for name, (family, params) in FAMILIES.items():
        found[name] = lambda f=family, p=params: Network(f, p, variant.kind, profile)
        if variant.lateral and variant.kind == "classification":
            found[f"{name}, augment=False"] = lambda f=family, p=params: Network(
                f, {**p, "augment": False}, variant.kind, profile
            )
    return {**found, **baselines(variant.kind, seed, components)}


def score(task, y, predicted):
    if task == "classification":
        return roc_auc_score(y, predicted)
    if task == "regression":
        return r2_score(y, predicted)
    return concordance_index(y, predicted)


def run(variants, seeds, n, profile, components, folds, say, partial=None, command=""):
    rows, began = [], time.perf_counter()
    for seed in seeds:  # every variant at one seed before the next seed
        for variant in variants:
            images, frame, y = make_variant(variant, n, seed)
            X = FusionInput(images, frame)
            strata = y["event"] if variant.kind == "survival" else y
            splitter = (
                KFold(folds, shuffle=True, random_state=seed)
                if variant.kind == "regression"
                else StratifiedKFold(folds, shuffle=True, random_state=seed)
            )
            splits = list(splitter.split(np.zeros(n), strata))
            for name, make in methods(variant, seed, profile, components).items():
                started = time.perf_counter()
                for fold, (train, test) in enumerate(splits, start=1):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        model = make().fit(X[train], y[train])
                        value = score(variant.kind, y[test], model.score(X[test]))
                    rows.append(
                        {
                            "variant": variant.name,
                            "role": variant.role,
                            "task": variant.kind,
                            "seed": seed,
                            "fold": fold,
                            "method": name,
                            "score": float(value),
                        }
                    )
                mean = np.mean([r["score"] for r in rows[-len(splits) :]])
                say(
                    f"  [{variant.name} seed {seed}] {name}: {METRIC[variant.kind]} "
                    f"{mean:.3f} ({time.perf_counter() - started:.0f}s)"
                )
            if partial is not None:  # what has finished, should the run be cut short
                partial.write_text(
                    json.dumps(
                        {"command": command, "rows": rows, "seconds": time.perf_counter() - began}
                    )
                )
    return pd.DataFrame(rows)


def _paired(part, method, reference, test_share):
    keyed = part.pivot_table(index=["seed", "fold"], columns="method", values="score")
    return corrected_interval((keyed[method] - keyed[reference]).dropna(), test_share)


def summarise(results, folds):
    """The goal rows: each network against the best classical baseline of its variant, the
    guard variant against LogReg (clinical), defaults against augment=False."""
    share = 1 / folds
    goals = []
    for name, part in results.groupby("variant", sort=False):
        means = part.groupby("method")["score"].mean()
        task, role = part["task"].iloc[0], part["role"].iloc[0]
        classical = [m for m in means.index if m in baselines(task, 0, 2)]
        best = means[classical].idxmax()
        for network in FAMILIES:
            mean, low, high = _paired(part, network, best, share)
            row = {
                "variant": name,
                "role": role,
                "metric": METRIC[task],
                "method": network,
                "score": means[network],
                "reference": best,
                "reference_score": means[best],
                "difference": mean,
                "ci_low": low,
                "ci_high": high,
                "goal": "best baseline - 0.02, low >= -0.05",
                "met": bool(mean >= -0.02 and low >= -0.05),
            }
            goals.append(row)
            if name == "no image signal":
                mean, low, high = _paired(part, network, "LogReg (clinical)", share)
                goals.append(
                    {
                        **row,
                        "reference": "LogReg (clinical)",
                        "reference_score": means["LogReg (clinical)"],
                        "difference": mean,
                        "ci_low": low,
                        "ci_high": high,
                        "goal": "not below LogReg (clinical) by > 0.01",
                        "met": bool(mean >= -0.01),
                    }
                )
            plain = f"{network}, augment=False"
            if plain in means.index:
                mean, low, high = _paired(part, network, plain, share)
                goals.append(
                    {
                        **row,
                        "reference": plain,
                        "reference_score": means[plain],
                        "difference": mean,
                        "ci_low": low,
                        "ci_high": high,
                        "goal": "within 0.03 of augment=False",
                        "met": bool(mean >= -0.03),
                    }
                )
    return pd.DataFrame(goals)


def _column(method):
    """The table's column of a method: baselines under one name across tasks."""
    if method.startswith(("LogReg", "Ridge", "Cox")):
        return "linear (PCA + clinical)" if "PCA" in method else "linear (clinical)"
    return method


def markdown(results, goals, command, elapsed):
    lines = [
        f"Command: `{command}` ({elapsed / 60:.0f} min, {platform.processor() or 'CPU'})",
        "",
        "All cohorts are **simulated** (`benchmarks/_variants.py`). Mean over "
        "(seed, fold); linear = logistic regression (classification), ridge "
        "(regression), Cox (survival).",
        "",
    ]
    means = results.assign(column=results["method"].map(_column)).pivot_table(
        index=["variant", "role", "task"], columns="column", values="score", sort=False
    )
    order = [
        c
        for c in [
            *FAMILIES,
            *[f"{f}, augment=False" for f in FAMILIES],
            "linear (clinical)",
            "linear (PCA + clinical)",
            "GradBoost (PCA + clinical)",
        ]
        if c in means.columns
    ]
    lines += [
        "| variant | role | metric | " + " | ".join(order) + " |",
        "|" + "---|" * (3 + len(order)),
    ]
    for (variant, role, task), row in means[order].iterrows():
        cells = " | ".join("" if np.isnan(v) else f"{v:.3f}" for v in row)
        lines.append(f"| {variant} | {role} | {METRIC[task]} | {cells} |")
    lines += [
        "",
        "Goals (paired over (seed, fold), Nadeau-Bengio corrected 95% intervals):",
        "",
        "| variant | role | method | reference | difference [95% CI] | goal | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in goals.itertuples():
        lines.append(
            f"| {g.variant} | {g.role} | {g.method} | {g.reference} "
            f"({g.reference_score:.3f}) | {g.difference:+.3f} "
            f"[{g.ci_low:+.3f}, {g.ci_high:+.3f}] | {g.goal} | "
            f"{'yes' if g.met else 'no'} |"
        )
    judged = goals[goals["role"] == "judged"]
    lines += ["", f"Judged goal rows met: {int(judged['met'].sum())} of {len(judged)}."]
    for goal, part in judged.groupby("goal", sort=False):
        lines.append(f"- {goal}: {int(part['met'].sum())} of {len(part)}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument(
        "--variants", default=None, help="comma-separated variant names (default: all)"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="two variants, 60 patients, 2 epochs, 2 folds: checks the script",
    )
    parser.add_argument(
        "--tag",
        default=None,
        help="run part of the benchmark into results/cohorts_<tag>_partial.json",
    )
    parser.add_argument(
        "--combine",
        nargs="+",
        default=None,
        metavar="PARTIAL",
        help="summarise the rows of these partial files together",
    )
    args = parser.parse_args(argv)
    variants = VARIANTS
    if args.variants:
        wanted = args.variants.split(",")
        variants = [v for v in VARIANTS if v.name in wanted]
    profile, n, folds, components = dict(PROFILE), 200, 5, 20
    if args.smoke:
        variants = [v for v in VARIANTS if v.name in ("lesion side", "lesion area (regression)")]
        profile.update(max_epochs=2, base_width=4)
        n, folds, components = 60, 2, 4
    command = (
        "python benchmarks/cohorts.py "
        + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    ).strip()
    stem = "cohorts_smoke" if args.smoke else "cohorts"
    RESULTS.mkdir(exist_ok=True)
    started = time.perf_counter()
    if args.combine:
        parts = [json.loads(pathlib.Path(p).read_text()) for p in args.combine]
        results = pd.DataFrame([row for part in parts for row in part["rows"]])
        commands = [part["command"] for part in parts]
        started -= sum(part["seconds"] for part in parts)
        results = results.drop_duplicates(["variant", "seed", "fold", "method"], keep="last")
    else:
        partial = RESULTS / (
            f"{stem}_{args.tag}_partial.json" if args.tag else f"{stem}_partial.json"
        )
        results = run(
            variants,
            [int(s) for s in args.seeds.split(",")],
            n,
            profile,
            components,
            folds,
            lambda message: print(message, flush=True),
            partial=partial,
            command=command,
        )
        commands = [command]
        if args.tag:
            return
    goals = summarise(results, folds)
    elapsed = time.perf_counter() - started
    text = markdown(results, goals, " ; ".join(commands), elapsed)
    print(text)
    (RESULTS / f"{stem}.md").write_text(text)
    (RESULTS / f"{stem}.json").write_text(
        json.dumps(
            {
                "commands": commands,
                "profile": profile,
                "patients": n,
                "folds": folds,
                "results": results.to_dict("records"),
                "goals": goals.to_dict("records"),
            },
            indent=1,
            default=float,
        )
    )


if __name__ == "__main__":
    main()
