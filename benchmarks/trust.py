"""Outputs a clinician can trust (issue 25's goals): calibration with
``calibration="temperature"``, conformal prediction sets, and ensemble uncertainty on a
shifted site.

Data (simulated from the MNI152 template): the built-in cohort, AD vs NC, one row per
patient, 2 coronal slices of 64x64; its judged shifted site is ``site="external"``
(intensity x1.3, noise x2, resolution x0.75, AD prevalence 0.3; fixed in
``skfusion/datasets/_site.py`` before any of these measurements). Every network has the
same CPU size profile (ResNet18 width 8, 15 epochs, batch 32, Adam lr 1e-3, its other
defaults) and the fused classifier families are: ``ClinicalAttention`` full and concat,
``FeatureModulation`` DAFT and FiLM, ``GatedFusion`` and ``ReportFusion`` (the cohort's
simulated reports).

Parts (each writes ``results/trust_<part>.json``; every run rewrites ``results/trust.md``
from the parts present):

* ``calibration``: 1,000 patients (``random_state=0``) of the reference site and 1,000 of
  the shifted site, each cross-validated on its own (the site's own out-of-fold
  probabilities; subject-grouped stratified 5-fold x 3 seeds; the seed moves the folds and
  the networks' initialisation). Every family with ``calibration="temperature"`` (the
  temperature fitted on 10% of each fold's training subjects, held out of training) and
  ``LogReg (clinical)``. ECE over 15 equal-mass bins, the calibration slope and intercept
  and Brier per seed, averaged over the 3 seeds; 95% intervals from 500 bootstrap
  resamples of patients (the same resample for every seed and model, so differences to
  LogReg are paired).
* ``conformal``: each family and ``LogReg (clinical)`` in a ``ConformalClassifier``
  (split conformal, alpha = 0.1, 25% of the subjects calibrate) fitted on the 1,000
  reference patients, per seed 0-2; coverage and mean set size on 700 newly generated
  held-out reference patients per seed (``random_state=1000+seed``; 2,100 in all). The
  "best fused model" is the family with the highest reference out-of-fold AUC in the
  calibration part (other data than the held-out patients), concat where that part is
  absent.
* ``uncertainty``: a ``SeedEnsemble`` of 5 concat networks fitted on the 1,000 reference
  patients; mean epistemic uncertainty (mutual information, nats) on 500 new reference
  patients vs 500 new shifted-site patients (``random_state=2000``), the difference with a
  95% bootstrap interval (patients of each site resampled independently); the same
  ensemble's ``external_validation`` on the shifted patients, as it is and recalibrated in
  the large.

    python benchmarks/trust.py                       # every part, ~60 min on 2 cores
    python benchmarks/trust.py --part calibration --site external
    python benchmarks/trust.py --quick               # 200 patients, 32x32, 5 epochs

Writes ``results/trust[_quick]_<part>.json`` (with the command) and ``results/trust[_quick].md``.
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
from scipy import stats
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skfusion import (ClinicalAttentionClassifier, FeatureModulationClassifier,
                      FusionInput, GatedFusionClassifier, ReportFusionClassifier)
from skfusion.conformal import ConformalClassifier, coverage
from skfusion.datasets import make_brain_cohort
from skfusion.evaluation import external_validation
from skfusion.metrics._calibration import _calibration
from skfusion.uncertainty import SeedEnsemble

RESULTS = pathlib.Path(__file__).parent / "results"
CONFIGS = {
    "standard": dict(subjects=1000, held_out=700, shifted=500, image_size=64, epochs=15,
                     seeds=3, bootstraps=500),
    "quick": dict(subjects=200, held_out=150, shifted=100, image_size=32, epochs=5,
                  seeds=2, bootstraps=100),
}
FAMILIES = {
    "full": (ClinicalAttentionClassifier, {"mode": "full"}),
    "concat": (ClinicalAttentionClassifier, {"mode": "concat"}),
    "DAFT": (FeatureModulationClassifier, {}),
    "FiLM": (FeatureModulationClassifier, {"method": "film"}),
    "GatedFusion": (GatedFusionClassifier, {}),
    "ReportFusion": (ReportFusionClassifier, {}),
}
LOGREG = "LogReg (clinical)"
POSITIVE = "AD"


class ClinicalOnly(LogisticRegression):
    """Logistic regression on a FusionInput's clinical table (sex one-hot, the other columns
    median-imputed with indicators and standardised), so that the conformal wrapper and the
    cross-validation hand it the same patients as the networks."""

    def fit(self, X, y):
        self.pipeline_ = make_pipeline(make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["sex"]),
            remainder=make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                                    StandardScaler())),
            LogisticRegression(max_iter=2000)).fit(X.clinical, y)
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, X):
        return self.pipeline_.predict_proba(X.clinical)

    def predict(self, X):
        return self.pipeline_.predict(X.clinical)


def cohort(n, config, *, site=None, random_state=0):
    data = make_brain_cohort(n, n_slices=2, image_size=config["image_size"], reports=True,
                             site=site, random_state=random_state)
    return data.X, np.asarray(data.y), np.asarray(data.groups)


def model(name, config, seed, calibration="temperature"):
    if name == LOGREG:
        return ClinicalOnly()
    cls, options = FAMILIES[name]
    return cls(backbone="resnet18", base_width=8, max_epochs=config["epochs"], batch_size=32,
               lr=1e-3, calibration=calibration, verbose=0, random_state=seed, **options)


def inputs_for(name, X):
    """Only ReportFusion reads the reports; the others get images and the table."""
    if name == "ReportFusion":
        return X
    return FusionInput(X.images, X.clinical, subjects=X.subjects, layout=X.layout)


def positive(estimator, X):
    return estimator.predict_proba(X)[:, list(estimator.classes_).index(POSITIVE)]


def calibration_part(config, site, say, method="temperature"):
    X, y, groups = cohort(config["subjects"], config, site=site)
    names = [*FAMILIES, LOGREG]
    proba = {name: np.zeros((config["seeds"], len(y))) for name in names}
    temperatures = {name: [] for name in FAMILIES}
    for seed in range(config["seeds"]):
        folds = StratifiedGroupKFold(5, shuffle=True, random_state=seed).split(
            np.zeros(len(y)), y, groups)
        for fold, (train, test) in enumerate(folds):
            for name in names:
                started = time.perf_counter()
                data = inputs_for(name, X)
                fitted = model(name, config, seed, method).fit(data[train], y[train])
                proba[name][seed, test] = positive(fitted, data[test])
                if name in FAMILIES:
                    temperatures[name].append(float(fitted.temperature_))
                say(f"  site={site or 'reference'} seed {seed} fold {fold} {name}: "
                    f"{time.perf_counter() - started:.0f} s", flush=True)
    return {"site": site or "reference", "method": method,
            "y": (y == POSITIVE).astype(int).tolist(),
            "proba": {k: v.tolist() for k, v in proba.items()},
            "temperatures": temperatures}


def calibration_rows(part, bootstraps):
    """Seed-averaged calibration figures with paired patient-bootstrap intervals."""
    y = np.asarray(part["y"])
    proba = {k: np.asarray(v) for k, v in part["proba"].items()}

    def figures(rows):
        out = {}
        for name, p in proba.items():
            per_seed = [_calibration(y[rows], s[rows], 15) for s in p]
            out[name] = {key: float(np.mean([v[key] for v in per_seed]))
                         for key in ("ECE", "Calibration slope", "Calibration intercept",
                                     "Brier")}
            out[name]["AUC"] = float(np.mean([roc_auc_score(y[rows], s[rows]) for s in p]))
        return out

    point = figures(np.arange(len(y)))
    rng = np.random.default_rng(0)
    draws = [figures(rng.integers(0, len(y), len(y))) for _ in range(bootstraps)]
    rows = []
    for name in proba:
        row = {"site": part["site"], "method": part.get("method", "temperature"),
               "model": name}
        for key in ("AUC", "ECE", "Calibration slope", "Calibration intercept", "Brier"):
            values = [d[name][key] for d in draws]
            row[key] = (point[name][key], *np.percentile(values, [2.5, 97.5]))
        diff = [d[name]["ECE"] - d[LOGREG]["ECE"] for d in draws]
        row["ECE - LogReg"] = (point[name]["ECE"] - point[LOGREG]["ECE"],
                               *np.percentile(diff, [2.5, 97.5]))
        diff = [d[name]["AUC"] - d[LOGREG]["AUC"] for d in draws]
        row["AUC - LogReg"] = (point[name]["AUC"] - point[LOGREG]["AUC"],
                               *np.percentile(diff, [2.5, 97.5]))
        if name in FAMILIES:
            row["goal"] = bool(row["ECE"][0] <= 0.04
                               and row["ECE"][0] <= point[LOGREG]["ECE"] + 0.01
                               and 0.85 <= row["Calibration slope"][0] <= 1.15)
        rows.append(row)
    return rows


def conformal_part(config, say):
    X, y, _ = cohort(config["subjects"], config)
    records = []
    for seed in range(config["seeds"]):
        X_new, y_new, _ = cohort(config["held_out"], config, random_state=1000 + seed)
        for name in [*FAMILIES, LOGREG]:
            started = time.perf_counter()
            wrapped = ConformalClassifier(model(name, config, seed, calibration=None),
                                          alpha=0.1, random_state=seed)
            wrapped.fit(inputs_for(name, X), y)
            sets = wrapped.predict_set(inputs_for(name, X_new))
            records.append({"seed": seed, "model": name,
                            "covered": sets[np.arange(len(y_new)), np.searchsorted(
                                wrapped.classes_, y_new)].tolist(),
                            "size": sets.sum(axis=1).tolist(),
                            "coverage": coverage(y_new, sets, classes=wrapped.classes_),
                            "n_calibration_subjects": int(wrapped.n_calibration_subjects_)})
            say(f"  conformal seed {seed} {name}: coverage {records[-1]['coverage']:.3f}, "
                f"mean size {np.mean(records[-1]['size']):.3f} "
                f"({time.perf_counter() - started:.0f} s)", flush=True)
    return {"records": records}


def conformal_rows(part, best, bootstraps):
    by = {}
    for record in part["records"]:
        by.setdefault(record["model"], []).append(record)
    rows = []
    rng = np.random.default_rng(0)
    reference = np.concatenate([r["size"] for r in by[LOGREG]]).astype(float)
    for name, records in by.items():
        covered = np.concatenate([r["covered"] for r in records]).astype(float)
        size = np.concatenate([r["size"] for r in records]).astype(float)
        n, hits = len(covered), covered.sum()
        low, high = stats.binomtest(int(hits), n).proportion_ci(0.95, method="wilson")
        diff = size - reference  # the same held-out patients, paired
        draws = [diff[rng.integers(0, n, n)].mean() for _ in range(bootstraps)]
        rows.append({"model": name, "patients": n, "coverage": (hits / n, low, high),
                     "mean set size": float(size.mean()),
                     "size - LogReg": (float(diff.mean()), *np.percentile(draws, [2.5, 97.5])),
                     "best": name == best})
    return rows


def uncertainty_part(config, say):
    X, y, _ = cohort(config["subjects"], config)
    started = time.perf_counter()
    ensemble = SeedEnsemble(model("concat", config, 0, calibration=None), n_members=5,
                            random_state=0, verbose=0).fit(inputs_for("concat", X), y)
    say(f"  ensemble of 5 fitted: {time.perf_counter() - started:.0f} s", flush=True)
    out = {}
    for site in (None, "external"):
        X_new, y_new, _ = cohort(config["shifted"], config, site=site, random_state=2000)
        data = inputs_for("concat", X_new)
        epistemic = ensemble.predict_uncertainty(data)["epistemic"]
        p = positive(ensemble, data)
        entry = {"epistemic": np.asarray(epistemic, dtype=float).tolist(),
                 "AUC": roc_auc_score(y_new == POSITIVE, p)}
        report = external_validation(ensemble, data, y_new, pos_label=POSITIVE,
                                     recalibrate=True, n_bootstraps=200)
        entry["report"] = report.reset_index().to_dict("records")
        out[site or "reference"] = entry
    return out


def uncertainty_rows(part, bootstraps):
    a = np.asarray(part["reference"]["epistemic"])
    b = np.asarray(part["external"]["epistemic"])
    rng = np.random.default_rng(0)
    draws = [b[rng.integers(0, len(b), len(b))].mean() - a[rng.integers(0, len(a), len(a))].mean()
             for _ in range(bootstraps * 4)]
    return {"reference": float(a.mean()), "external": float(b.mean()),
            "difference": (float(b.mean() - a.mean()), *np.percentile(draws, [2.5, 97.5])),
            "AUC": {k: part[k]["AUC"] for k in ("reference", "external")}}


def _ci(value, digits=3, sign=False):
    fmt = f"{{:{'+' if sign else ''}.{digits}f}}"
    return f"{fmt.format(value[0])} [{fmt.format(value[1])}, {fmt.format(value[2])}]"


def markdown(parts, prefix, config):
    lines = ["# Outputs a clinician can trust: calibration, conformal sets, uncertainty", "",
             "All data simulated (the built-in cohort, AD vs NC; see the script's docstring "
             "for every setting). Each part's command and machine time:", ""]
    for key, part in parts.items():
        lines.append(f"- {key}: `{part['command']}`, {part['minutes']:.1f} min, "
                     f"{part['machine']}")
    best = "concat"
    calibration = [p for k, p in parts.items() if k.startswith("calibration")]
    if calibration:
        lines += ["", "## Calibration with calibration=\"temperature\" and \"temperature_bias\"", "",
                  f"{config['subjects']} patients per site, each site cross-validated on its "
                  "own (5-fold; seeds per part: "
                  + ", ".join(f"{p['site']}/{p.get('method', 'temperature')} "
                              f"{len(p['proba'][LOGREG])}" for p in calibration)
                  + "); figures are means over seeds of "
                  "each seed's pooled out-of-fold probabilities; ECE over 15 equal-mass bins; "
                  f"95% intervals from {config['bootstraps']} patient bootstraps, paired for "
                  "the differences to LogReg (each resample's figures averaged over the seeds: "
                  "the intervals hold the patients' variation, not the trainings'). Goal: "
                  "ECE <= 0.04 and <= LogReg's + 0.01, slope in [0.85, 1.15].", "",
                  "| site | calibration | model | AUC | AUC - LogReg | ECE | ECE - LogReg | slope "
                  "| intercept | Brier | goal |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        aucs, notes = {}, [""]
        for part in calibration:
            for row in calibration_rows(part, config["bootstraps"]):
                if (row["site"] == "reference" and row["method"] == "temperature"
                        and row["model"] in FAMILIES):
                    aucs[row["model"]] = row["AUC"][0]
                goal = {True: "met", False: "NOT met"}.get(row.get("goal"), "")
                lines.append(
                    f"| {row['site']} | {row['method']} | {row['model']} | "
                    f"{row['AUC'][0]:.3f} | {_ci(row['AUC - LogReg'], sign=True)} | "
                    f"{_ci(row['ECE'])} | {_ci(row['ECE - LogReg'], sign=True)} | "
                    f"{_ci(row['Calibration slope'], 2)} | "
                    f"{_ci(row['Calibration intercept'], 2, True)} | {row['Brier'][0]:.3f} "
                    f"| {goal} |")
            temps = {k: np.round([min(v), np.median(v), max(v)], 2).tolist()
                     for k, v in part["temperatures"].items()}
            notes.append(f"- fitted temperatures ({part.get('method', 'temperature')}, site "
                         f"{part['site']}; min, median, max over folds and seeds): {temps}")
        lines += notes + [""]
        if aucs:
            best = max(aucs, key=aucs.get)
    if "conformal" in parts:
        lines += ["## Conformal prediction sets, alpha = 0.1", "",
                  f"Fitted on {config['subjects']} reference patients per seed (25% of the "
                  "subjects calibrate), judged on newly generated held-out reference patients; "
                  f"coverage with a Wilson 95% interval; set size difference to {LOGREG} on "
                  "the same patients with a bootstrap interval. Best fused model (highest "
                  f"reference out-of-fold AUC in the calibration part): {best}. Goal: "
                  "coverage 0.88-0.92; the best fused model's mean set size <= LogReg's.", "",
                  "| model | held-out patients | coverage | mean set size | size - LogReg |",
                  "|---|---|---|---|---|"]
        for row in conformal_rows(parts["conformal"], best, config["bootstraps"]):
            lines.append(f"| {row['model']}{' (best)' if row['best'] else ''} | "
                         f"{row['patients']} | {_ci(row['coverage'])} | "
                         f"{row['mean set size']:.3f} | {_ci(row['size - LogReg'], sign=True)} |")
        lines.append("")
    if "uncertainty" in parts:
        row = uncertainty_rows(parts["uncertainty"], config["bootstraps"])
        lines += ["## Ensemble uncertainty on the shifted site", "",
                  "SeedEnsemble of 5 concat networks fitted on the reference patients; mean "
                  "epistemic uncertainty (mutual information, nats) on new patients of each "
                  "site. Goal: shifted > reference, the interval above 0.", "",
                  "| reference | shifted site | shifted - reference | AUC reference | "
                  "AUC shifted |", "|---|---|---|---|---|",
                  f"| {row['reference']:.4f} | {row['external']:.4f} | "
                  f"{_ci(row['difference'], 4, True)} | {row['AUC']['reference']:.3f} | "
                  f"{row['AUC']['external']:.3f} |", "",
                  "The same ensemble moved to the shifted site (`external_validation`):", "",
                  "| site | recalibrated in the large | AUC | ECE | slope | intercept |",
                  "|---|---|---|---|---|---|"]
        for site in ("reference", "external"):
            for recalibrated in ("as fitted", "recalibrated in the large"):
                value = {r["metric"]: r["value"] for r in parts["uncertainty"][site]["report"]
                         if r["model"] == recalibrated}
                lines.append(f"| {site} | {recalibrated != 'as fitted'} | {value['AUC']:.3f} "
                             f"| {value['ECE']:.3f} | {value['Calibration slope']:.2f} | "
                             f"{value['Calibration intercept']:+.2f} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv=None):
    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # fixed epoch budget
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--part", choices=["calibration", "conformal", "uncertainty", "all",
                                           "report"], default="all")
    parser.add_argument("--site", choices=["reference", "external", "both"], default="both",
                        help="the calibration part's site(s)")
    parser.add_argument("--calibration", choices=["temperature", "temperature_bias"],
                        default="temperature", help="the calibration part's method")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds (default 3; 2 with --quick); the conformal part keeps "
                        "its held-out total (2,100) whatever the number")
    args = parser.parse_args(argv)
    config = dict(CONFIGS["quick" if args.quick else "standard"])
    if args.seeds is not None:
        config["held_out"] = -(-config["held_out"] * config["seeds"] // args.seeds)
        config["seeds"] = args.seeds
    prefix = "trust_quick" if args.quick else "trust"
    command = "python benchmarks/trust.py " + shlex.join(sys.argv[1:] if argv is None
                                                         else argv)
    RESULTS.mkdir(exist_ok=True)
    jobs = []
    if args.part in ("calibration", "all"):
        sites = ["reference", "external"] if args.site == "both" else [args.site]
        suffix = "" if args.calibration == "temperature" else "_" + args.calibration
        jobs += [(f"calibration_{site}{suffix}", lambda site=site: calibration_part(
            config, None if site == "reference" else site, print, args.calibration))
                 for site in sites]
    if args.part in ("conformal", "all"):
        jobs.append(("conformal", lambda: conformal_part(config, print)))
    if args.part in ("uncertainty", "all"):
        jobs.append(("uncertainty", lambda: uncertainty_part(config, print)))
    for key, job in jobs:
        started = time.perf_counter()
        print(f"{key}:", flush=True)
        result = job()
        result.update(command=command, machine=platform.platform(),
                      minutes=(time.perf_counter() - started) / 60)
        (RESULTS / f"{prefix}_{key}.json").write_text(json.dumps(result, default=float))
    parts = {}
    for key in ("calibration_reference", "calibration_external",
                "calibration_reference_temperature_bias", "calibration_external_temperature_bias",
                "conformal", "uncertainty"):
        path = RESULTS / f"{prefix}_{key}.json"
        if path.exists():
            parts[key] = json.loads(path.read_text())
    text = markdown(parts, prefix, config)
    print(text)
    (RESULTS / f"{prefix}.md").write_text(text)


if __name__ == "__main__":
    main()
