"""Outputs a clinician can trust (issues 25 and 37): calibration with
``calibration="temperature"``, its transfer to another site, conformal prediction sets, and
ensemble uncertainty on a shifted site.

Data (simulated from the MNI152 template): the built-in cohort, AD vs NC, one row per
patient, 2 coronal slices of 64x64; its shifted site is ``site="external"`` (intensity
x1.3, noise x2, resolution x0.75, AD prevalence 0.3; fixed in
``skfusion/datasets/_simulated/site.py`` before any of these measurements). Every network has the
same CPU size profile (ResNet18 width 8, 15 epochs, batch 32, Adam lr 1e-3, its other
defaults) and the fused classifier families are: ``ClinicalAttention`` full and concat,
``FeatureModulation`` DAFT and FiLM, ``GatedFusion`` and ``ReportFusion`` (the cohort's
simulated reports).

The design is independent draws (issue 37): simulated patients cost nothing, so every
draw ``d`` trains on its own new patients and is scored on its own new test patients; no
two draws share a patient, and no two cohorts share a ``random_state`` (the reference and
the external site are drawn independently). Every figure is a mean over draws with a 95%
t interval over the draws, and every difference to ``LogReg (clinical)`` is paired by draw;
so the intervals hold both the training's and the test patients' variation.

Parts (each writes ``results/trust_<part>.json``; every run rewrites ``results/trust.md``
from the parts present):

* ``calibration``: per draw, every family with ``calibration="temperature"`` (the
  temperature fitted on 10% of the training subjects, held out of training) and
  ``LogReg (clinical)`` are fitted on 800 reference patients (``random_state=d``), then
  scored on 1,000 new reference patients (``10_000 + d``; "reference"), on 1,000 patients
  of the external site (``20_000 + d``; "external, as fitted": the transfer a clinician
  meets), and on the same external patients after recalibration-in-the-large fitted on 100
  other external patients (``30_000 + d``; one shift of every logit, the slope held at 1).
  Figures: AUC, ECE over 15 equal-mass bins (plug-in, and debiased as Kumar et al. 2019,
  ``skfusion.metrics.expected_calibration_error``), calibration slope and intercept, Brier.
* ``conformal``: per draw, each family and ``LogReg (clinical)`` in a
  ``ConformalClassifier`` (split conformal, alpha = 0.1, 25% of the subjects calibrate)
  fitted on 800 reference patients (``random_state=d``); coverage and mean set size on
  1,000 new reference patients (``40_000 + d``). The "best fused model" is the family with
  the highest reference AUC in the calibration part, concat where that part is absent.
* ``uncertainty``: per draw, a ``SeedEnsemble`` of 5 concat networks fitted on 800
  reference patients (``random_state=d``); mean epistemic uncertainty (mutual information,
  nats) on 500 new reference patients (``50_000 + d``) and 500 external ones
  (``60_000 + d``), and their difference.

    python benchmarks/trust.py                       # every part, 6 draws
    python benchmarks/trust.py --part calibration --draws 8
    python benchmarks/trust.py --quick               # 120 patients, 32x32, 5 epochs

Writes ``results/trust[_quick]_<part>.json`` (with the command and commit) and
``results/trust[_quick].md``. Earlier versions of this benchmark (cross-validation within
each site, both sites drawn with ``random_state=0``, patient-bootstrap intervals of
seed-averaged figures) are kept in ``results/trust_before_independent_draws/``.
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
from scipy.special import expit, logit
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from _provenance import commit  # noqa: E402
from _stats import draws_interval  # noqa: E402

from skfusion import (  # noqa: E402
    ClinicalAttentionClassifier,
    FeatureModulationClassifier,
    FusionInput,
    GatedFusionClassifier,
    ReportFusionClassifier,
)
from skfusion.conformal import ConformalClassifier, coverage  # noqa: E402
from skfusion.datasets import make_brain_cohort  # noqa: E402
from skfusion.metrics import expected_calibration_error  # noqa: E402
from skfusion.metrics._calibration import EPS, _calibration  # noqa: E402
from skfusion.uncertainty import SeedEnsemble  # noqa: E402

RESULTS = pathlib.Path(__file__).parent / "results"
CONFIGS = {
    "standard": dict(
        train=800,
        test=1000,
        recalibrate=100,
        held_out=1000,
        shifted=500,
        image_size=64,
        epochs=15,
        draws=6,
    ),
    "quick": dict(
        train=120,
        test=150,
        recalibrate=40,
        held_out=150,
        shifted=60,
        image_size=32,
        epochs=5,
        draws=2,
    ),
}
#: Each cohort's random_state is OFFSET[role] + draw: no two cohorts share one.
OFFSET = {
    "train": 0,
    "reference": 10_000,
    "external": 20_000,
    "recalibrate": 30_000,
    "held_out": 40_000,
    "new reference": 50_000,
    "new external": 60_000,
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
SETTINGS = ("reference", "external, as fitted", "external, recalibrated in the large")
FIGURES = ("AUC", "ECE", "ECE (debiased)", "Calibration slope", "Calibration intercept", "Brier")


class ClinicalOnly(LogisticRegression):
    """Logistic regression on a FusionInput's clinical table (sex one-hot, the other columns
    median-imputed with indicators and standardised), so that the conformal wrapper hands
    it the same patients as the networks."""

    def fit(self, X, y):
        self.pipeline_ = make_pipeline(
            make_column_transformer(
                (OneHotEncoder(handle_unknown="ignore"), ["sex"]),
                remainder=make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                ),
            ),
            LogisticRegression(max_iter=2000),
        ).fit(X.clinical, y)
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, X):
        return self.pipeline_.predict_proba(X.clinical)

    def predict(self, X):
        return self.pipeline_.predict(X.clinical)


def cohort(config, size, role, draw):
    """``config[size]`` new patients of the site ``role`` names, ``random_state`` from
    ``OFFSET[role] + draw``."""
    site = "external" if "external" in role or role == "recalibrate" else None
    data = make_brain_cohort(
        config[size],
        n_slices=2,
        image_size=config["image_size"],
        reports=True,
        site=site,
        random_state=OFFSET[role] + draw,
    )
    return data.X, np.asarray(data.y)


def model(name, config, seed, calibration="temperature"):
    if name == LOGREG:
        return ClinicalOnly()
    cls, options = FAMILIES[name]
    return cls(
        backbone="resnet18",
        base_width=8,
        max_epochs=config["epochs"],
        batch_size=32,
        lr=1e-3,
        calibration=calibration,
        verbose=0,
        random_state=seed,
        **options,
    )


def inputs_for(name, X):
    """Only ReportFusion reads the reports; the others get images and the table."""
    if name == "ReportFusion":
        return X
    return FusionInput(X.images, X.clinical, subjects=X.subjects, layout=X.layout)


def positive(estimator, X):
    return estimator.predict_proba(X)[:, list(estimator.classes_).index(POSITIVE)]


def figures(y, p):
    """The calibration table's figures of one set of patients."""
    events = (np.asarray(y) == POSITIVE).astype(float)
    values = _calibration(events, p, 15)
    values["AUC"] = roc_auc_score(events, p)
    values["ECE (debiased)"] = expected_calibration_error(events, p, debiased=True)
    return {key: float(values[key]) for key in FIGURES}


def shift_in_the_large(y, p):
    """The logit shift (slope held at 1) that matches ``p`` to the event rate of ``y``."""
    return _calibration((np.asarray(y) == POSITIVE).astype(float), p, 15)["Calibration intercept"]


def calibration_part(config, say, method="temperature", draws=None):
    records = []
    for draw in range(draws or config["draws"]):
        X, y = cohort(config, "train", "train", draw)
        tests = {
            role: cohort(config, size, role, draw)
            for role, size in (
                ("reference", "test"),
                ("external", "test"),
                ("recalibrate", "recalibrate"),
            )
        }
        for name in [*FAMILIES, LOGREG]:
            started = time.perf_counter()
            fitted = model(name, config, draw, method).fit(inputs_for(name, X), y)
            p = {role: positive(fitted, inputs_for(name, Xt)) for role, (Xt, _) in tests.items()}
            shift = shift_in_the_large(tests["recalibrate"][1], p["recalibrate"])
            shifted = expit(logit(np.clip(p["external"], EPS, 1 - EPS)) + shift)
            record = {
                "draw": draw,
                "model": name,
                "shift": shift,
                "temperature": float(getattr(fitted, "temperature_", np.nan)),
                SETTINGS[0]: figures(tests["reference"][1], p["reference"]),
                SETTINGS[1]: figures(tests["external"][1], p["external"]),
                SETTINGS[2]: figures(tests["external"][1], shifted),
            }
            records.append(record)
            say(
                f"  draw {draw} {name}: AUC {record[SETTINGS[0]]['AUC']:.3f} reference, "
                f"{record[SETTINGS[1]]['AUC']:.3f} external; ECE "
                f"{record[SETTINGS[0]]['ECE']:.3f}, {record[SETTINGS[1]]['ECE']:.3f}, "
                f"{record[SETTINGS[2]]['ECE']:.3f} recalibrated "
                f"({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    return {"method": method, "records": records}


def by_model(records):
    found = {}
    for record in records:
        found.setdefault(record["model"], {})[record["draw"]] = record
    return found


def paired(found, name, key):
    """Mean [t interval] of ``name``'s figure minus LogReg's, paired by draw."""
    if name == LOGREG:
        return None
    shared = sorted(set(found[name]) & set(found[LOGREG]))
    return draws_interval([key(found[name][d]) - key(found[LOGREG][d]) for d in shared])


def calibration_rows(part):
    found = by_model(part["records"])
    rows = []
    for setting in SETTINGS:
        for name, draws in found.items():
            row = {"setting": setting, "model": name, "draws": len(draws)}
            for key in FIGURES:
                row[key] = draws_interval([d[setting][key] for d in draws.values()])
            for key in ("AUC", "ECE"):
                row[f"{key} - LogReg"] = paired(found, name, lambda r: r[setting][key])
            if name in FAMILIES and setting == "reference":
                row["goal"] = bool(
                    row["ECE"][0] <= 0.04
                    and row["ECE"][0] <= found_mean(found, setting) + 0.01
                    and 0.85 <= row["Calibration slope"][0] <= 1.15
                )
            rows.append(row)
    return rows


def found_mean(found, setting):
    return float(np.mean([d[setting]["ECE"] for d in found[LOGREG].values()]))


def conformal_part(config, say, draws=None):
    records = []
    for draw in range(draws or config["draws"]):
        X, y = cohort(config, "train", "train", draw)
        X_new, y_new = cohort(config, "held_out", "held_out", draw)
        for name in [*FAMILIES, LOGREG]:
            started = time.perf_counter()
            wrapped = ConformalClassifier(
                model(name, config, draw, calibration=None), alpha=0.1, random_state=draw
            )
            wrapped.fit(inputs_for(name, X), y)
            sets = wrapped.predict_set(inputs_for(name, X_new))
            records.append(
                {
                    "draw": draw,
                    "model": name,
                    "coverage": float(coverage(y_new, sets, classes=wrapped.classes_)),
                    "size": float(sets.sum(axis=1).mean()),
                    "n_calibration_subjects": int(wrapped.n_calibration_subjects_),
                }
            )
            say(
                f"  conformal draw {draw} {name}: coverage {records[-1]['coverage']:.3f}, "
                f"mean size {records[-1]['size']:.3f} "
                f"({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    return {"records": records}


def conformal_rows(part, best):
    found = by_model(part["records"])
    return [
        {
            "model": name,
            "draws": len(draws),
            "coverage": draws_interval([d["coverage"] for d in draws.values()]),
            "size": draws_interval([d["size"] for d in draws.values()]),
            "size - LogReg": paired(found, name, lambda r: r["size"]),
            "best": name == best,
        }
        for name, draws in found.items()
    ]


def uncertainty_part(config, say, draws=None):
    records = []
    for draw in range(draws or config["draws"]):
        X, y = cohort(config, "train", "train", draw)
        started = time.perf_counter()
        ensemble = SeedEnsemble(
            model("concat", config, draw, calibration=None),
            n_members=5,
            random_state=draw,
            verbose=0,
        ).fit(inputs_for("concat", X), y)
        record = {"draw": draw}
        for role in ("new reference", "new external"):
            X_new, y_new = cohort(config, "shifted", role, draw)
            data = inputs_for("concat", X_new)
            record[role] = {
                "epistemic": float(np.mean(ensemble.predict_uncertainty(data)["epistemic"])),
                "AUC": float(roc_auc_score(y_new == POSITIVE, positive(ensemble, data))),
            }
        records.append(record)
        say(
            f"  ensemble draw {draw}: epistemic {record['new reference']['epistemic']:.4f} "
            f"reference, {record['new external']['epistemic']:.4f} external "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    return {"records": records}


def uncertainty_row(part):
    records = part["records"]
    value = {
        role: {key: draws_interval([r[role][key] for r in records]) for key in ("epistemic", "AUC")}
        for role in ("new reference", "new external")
    }
    value["difference"] = draws_interval(
        [r["new external"]["epistemic"] - r["new reference"]["epistemic"] for r in records]
    )
    value["draws"] = len(records)
    return value


def _ci(value, digits=3, sign=False):
    if value is None:
        return "—"
    fmt = f"{{:{'+' if sign else ''}.{digits}f}}"
    return f"{fmt.format(value[0])} [{fmt.format(value[1])}, {fmt.format(value[2])}]"


def markdown(parts, config):
    lines = [
        "# Outputs a clinician can trust: calibration, transfer, conformal sets, uncertainty",
        "",
        "All data simulated (the built-in cohort, AD vs NC; see the script's docstring "
        "for every setting). Independent draws: each draw trains on its own new "
        "patients and is scored on its own new patients; every figure is the mean over "
        "draws [95% t interval over the draws]; differences to LogReg (clinical) are "
        "paired by draw. Each part's command, commit and machine time:",
        "",
    ]
    for key, part in parts.items():
        lines.append(
            f"- {key}: `{part['command']}` (commit {part.get('commit')}), "
            f"{part['minutes']:.1f} min, {part['machine']}"
        )
    best = "concat"
    for key, part in parts.items():
        if not key.startswith("calibration"):
            continue
        rows = calibration_rows(part)
        lines += [
            "",
            f'## Calibration with calibration="{part["method"]}", and its '
            "transfer to the external site",
            "",
            f'Fitted on {config["train"]} reference patients per draw; "reference": '
            f'{config["test"]} new reference patients; "external, as fitted": '
            f"{config['test']} patients of the external site (another scanner, AD "
            'prevalence 0.3); "recalibrated in the large": the same external patients '
            "after one logit shift fitted on "
            f"{config['recalibrate']} other external patients. ECE over 15 equal-mass "
            "bins, plug-in and debiased (Kumar et al. 2019). Goal (reference rows): ECE "
            "<= 0.04 and <= LogReg's + 0.01, slope in [0.85, 1.15].",
            "",
            "| setting | model | AUC | AUC - LogReg | ECE | ECE (debiased) | "
            "ECE - LogReg | slope | intercept | Brier | goal |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            goal = {True: "met", False: "NOT met"}.get(row.get("goal"), "")
            lines.append(
                f"| {row['setting']} | {row['model']} | {_ci(row['AUC'])} | "
                f"{_ci(row['AUC - LogReg'], sign=True)} | {_ci(row['ECE'])} | "
                f"{_ci(row['ECE (debiased)'])} | {_ci(row['ECE - LogReg'], sign=True)} | "
                f"{_ci(row['Calibration slope'], 2)} | "
                f"{_ci(row['Calibration intercept'], 2, True)} | {row['Brier'][0]:.3f} | "
                f"{goal} |"
            )
        found = by_model(part["records"])
        temps = {
            k: np.round(
                np.percentile([r["temperature"] for r in v.values()], [0, 50, 100]), 2
            ).tolist()
            for k, v in found.items()
            if k in FAMILIES
        }
        lines += ["", f"Fitted temperatures (min, median, max over draws): {temps}", ""]
        if part["method"] == "temperature":
            aucs = {
                r["model"]: r["AUC"][0]
                for r in rows
                if r["setting"] == "reference" and r["model"] in FAMILIES
            }
            best = max(aucs, key=aucs.get)
    if "conformal" in parts:
        lines += [
            "## Conformal prediction sets, alpha = 0.1",
            "",
            f"Fitted on {config['train']} reference patients per draw (25% of the "
            f"subjects calibrate), judged on {config['held_out']} new reference "
            "patients per draw. Best fused model (highest reference AUC in the "
            f"calibration part): {best}. Goal: coverage 0.88-0.92; the best fused "
            "model's mean set size <= LogReg's.",
            "",
            "| model | draws | coverage | mean set size | size - LogReg |",
            "|---|---|---|---|---|",
        ]
        for row in conformal_rows(parts["conformal"], best):
            lines.append(
                f"| {row['model']}{' (best)' if row['best'] else ''} | "
                f"{row['draws']} | {_ci(row['coverage'])} | {_ci(row['size'])} | "
                f"{_ci(row['size - LogReg'], sign=True)} |"
            )
        lines.append("")
    if "uncertainty" in parts:
        row = uncertainty_row(parts["uncertainty"])
        lines += [
            "## Ensemble uncertainty on the shifted site",
            "",
            f"Per draw, a SeedEnsemble of 5 concat networks fitted on {config['train']} "
            "reference patients; mean epistemic uncertainty (mutual information, nats) "
            f"on {config['shifted']} new patients of each site ({row['draws']} draws). "
            "Goal: shifted > reference, the interval above 0.",
            "",
            "| reference | shifted site | shifted - reference | AUC reference | AUC shifted |",
            "|---|---|---|---|---|",
            f"| {_ci(row['new reference']['epistemic'], 4)} | "
            f"{_ci(row['new external']['epistemic'], 4)} | "
            f"{_ci(row['difference'], 4, True)} | "
            f"{_ci(row['new reference']['AUC'])} | {_ci(row['new external']['AUC'])} |",
            "",
        ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # fixed epoch budget
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--part",
        choices=["calibration", "conformal", "uncertainty", "all", "report"],
        default="all",
    )
    parser.add_argument(
        "--calibration",
        choices=["temperature", "temperature_bias"],
        default="temperature",
        help="the calibration part's method",
    )
    parser.add_argument(
        "--draws", type=int, default=None, help="independent draws (default 6; 2 with --quick)"
    )
    args = parser.parse_args(argv)
    config = dict(CONFIGS["quick" if args.quick else "standard"])
    if args.draws is not None:
        config["draws"] = args.draws
    prefix = "trust_quick" if args.quick else "trust"
    code = commit()  # the code this process runs, whatever is committed while it runs
    command = " ".join(
        ["python benchmarks/trust.py", shlex.join(sys.argv[1:] if argv is None else argv)]
    ).strip()
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if args.calibration == "temperature" else "_" + args.calibration
    jobs = []
    if args.part in ("calibration", "all"):
        jobs.append(
            (f"calibration{suffix}", lambda: calibration_part(config, print, args.calibration))
        )
    if args.part in ("conformal", "all"):
        jobs.append(("conformal", lambda: conformal_part(config, print)))
    if args.part in ("uncertainty", "all"):
        jobs.append(("uncertainty", lambda: uncertainty_part(config, print)))
    for key, job in jobs:
        started = time.perf_counter()
        print(f"{key}:", flush=True)
        result = job()
        result.update(
            command=command,
            commit=code,
            machine=platform.platform(),
            minutes=(time.perf_counter() - started) / 60,
        )
        (RESULTS / f"{prefix}_{key}.json").write_text(json.dumps(result, default=float))
    parts = {}
    for key in ("calibration", "calibration_temperature_bias", "conformal", "uncertainty"):
        path = RESULTS / f"{prefix}_{key}.json"
        if path.exists():
            parts[key] = json.loads(path.read_text())
    text = markdown(parts, config)
    print(text)
    (RESULTS / f"{prefix}.md").write_text(text)


if __name__ == "__main__":
    main()
