"""The main job: the clinical-attention ablation (image / clinical / concat / full) under
cross-validation, printed as the paper's table and saved as CSV, Markdown and PNG."""

import contextlib
import json
import pathlib
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.exceptions import ConvergenceWarning, UndefinedMetricWarning
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .._families.clinical_attention import ClinicalAttentionClassifier
from ..datasets import make_brain_cohort
from ..evaluation import cross_val_diagnostics
from ..metrics import diagnostic_report
from ..preprocessing import ClinicalTransformer

__all__ = ["run_demo"]

METRICS = ["ACC", "Sensitivity", "Specificity", "PPV", "NPV", "AUC", "Balanced ACC"]

#: The demo's CPU configuration and the paper's configuration.
CONFIGS = {
    "quick": dict(
        n_subjects=160,
        n_slices=3,
        image_size=64,
        backbone="resnet18",
        base_width=8,
        clinical_dim="auto",
        max_epochs=12,
        batch_size=64,
        lr=2e-3,
        optimizer__weight_decay=1e-2,
    ),
    "paper": dict(
        n_subjects=400,
        n_slices=10,
        image_size=256,
        backbone="resnet50",
        base_width=64,
        clinical_dim="auto",
        max_epochs=100,
        batch_size=16,
        lr=1e-4,
        optimizer__weight_decay=0.0,
        # The paper's network: its RBCA block and start (the estimator's default since 0.4.0
        # is the clinical attention inside the plain block; docs/fusion_methods.md).
        attention_form="paper",
        attention_start="paper",
    ),
}

#: Printed after the table: the demo trains every network from scratch, and says where
#: pretraining was measured instead of pretraining within the demo's time.
PRETRAINING_NOTE = (
    "Pretraining (image_weights=, ImageClinicalPretrainer) is not run here: pretraining on "
    "enough unlabelled patients takes longer than this demo. Its measurements "
    '(benchmarks/README.md, "Pretraining") predate changes of output and are marked '
    "stale there until they are run again."
)


#: What the pipeline does to the clinical table before the network.
def _clinical_preprocessing():
    return ClinicalTransformer(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["sex"]),
            remainder=StandardScaler(),
        )
    )


def run_demo(
    *,
    config="quick",
    task="ad_vs_nc",
    modes=("image", "clinical", "concat", "full"),
    n_folds=5,
    output="skfusion-demo",
    device="auto",
    random_state=0,
    verbose=1,
    report_mode=None,
    **overrides,
):
    """Cross-validate ClinicalAttentionClassifier in each mode on the built-in brain cohort
    and write the ablation table.

    Folds keep each subject's slices together (StratifiedGroupKFold); metrics are computed
    per slice, as in Yang et al. Returns the per-fold results as a DataFrame (one row per mode
    and fold). ``report_mode`` (a mode) also writes ``report.html``, the model report of that
    mode (:func:`skfusion.evaluation.model_report`) on the same folds.
    """
    settings = {**CONFIGS[config], **overrides}
    say = print if verbose else (lambda *a, **k: None)
    tick = time.perf_counter()
    data = make_brain_cohort(
        settings["n_subjects"],
        task=task,
        n_slices=settings["n_slices"],
        image_size=settings["image_size"],
        random_state=random_state,
        unit="slice",
    )
    X, y, groups = data.X, data.y, data.groups
    pos_label = {"ad_vs_nc": "AD", "mci_conversion": "pMCI"}[task]
    model_params = {
        k: settings[k]
        for k in (
            "backbone",
            "base_width",
            "clinical_dim",
            "max_epochs",
            "batch_size",
            "lr",
            "optimizer__weight_decay",
            "attention_form",
            "attention_start",
        )
        if k in settings
    }
    say(
        f"skfusion demo, task {task}: built-in brain cohort of {settings['n_subjects']} "
        f"subjects x {settings['n_slices']} coronal slices = {len(y)} images of "
        f"{settings['image_size']}x{settings['image_size']} + {X.clinical.shape[1]} clinical "
        f"columns (simulated from the MNI152 template; {time.perf_counter() - tick:.1f}s)"
    )
    say(f"model: {model_params}, device={device!r}")
    say(
        f"{n_folds}-fold subject-grouped stratified CV; modes {list(modes)}; positive class "
        f"{pos_label!r}"
    )
    folds = list(
        StratifiedGroupKFold(n_folds, shuffle=True, random_state=random_state).split(
            np.zeros(len(y)), y, groups
        )
    )
    rows = []
    roc = {}
    repeated = {}
    started = time.perf_counter()
    n_fits, done = len(modes) * n_folds, 0

    def model_of(mode):
        return make_pipeline(
            _clinical_preprocessing(),
            ClinicalAttentionClassifier(
                mode=mode,
                device=device,
                random_state=random_state,
                verbose=0,
                clinical_preprocessing=None,
                **model_params,
            ),
        )

    diagnosed = None
    for mode in modes:
        if mode == report_mode:  # its folds serve the table and the report: fitted once
            say(f"  [{mode:>8}] the model report's cross-validation (the same folds):")
            with _counting_convergence(
                repeated, [f"{mode} fold {k}" for k in range(1, n_folds + 1)]
            ):
                diagnosed = cross_val_diagnostics(
                    model_of(mode),
                    X,
                    y,
                    groups=groups,
                    cv=folds,
                    pos_label=pos_label,
                    random_state=random_state,
                    verbose=verbose,
                )
            rows += [
                {"mode": mode, "fold": fold, **row.to_dict()}
                for fold, row in diagnosed[METRICS].iterrows()
            ]
            oof = diagnosed.attrs["out_of_fold"]
            roc[mode] = (oof["y"].to_numpy() == pos_label, oof["score"].to_numpy())
            done += n_folds
            continue
        scores_all, truth_all = [], []
        for fold, (train, test) in enumerate(folds, start=1):
            tick = time.perf_counter()
            model = model_of(mode)
            with _counting_convergence(repeated, f"{mode} fold {fold}"):
                model.fit(X[train], y[train])
            classes = model.classes_
            probabilities = model.predict_proba(X[test])
            proba = probabilities[:, list(classes).index(pos_label)]
            pred = classes[np.argmax(probabilities, axis=1)]
            # Undefined values (e.g. PPV with no positive prediction) are NaN and left out
            # of the mean over folds; the fold's line says which.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", UndefinedMetricWarning)
                report = diagnostic_report(
                    y[test], pred, proba, pos_label=pos_label, n_bootstraps=0
                )
            row = {"mode": mode, "fold": fold, **report["value"].to_dict()}
            rows.append(row)
            scores_all.append(proba)
            truth_all.append(y[test] == pos_label)
            undefined = [
                name for name, value in row.items() if isinstance(value, float) and np.isnan(value)
            ]
            note = (
                f"  ({', '.join(undefined)} undefined in this fold: left out of the mean)"
                if caught and undefined
                else ""
            )
            done += 1
            elapsed = time.perf_counter() - started
            say(
                f"  [{mode:>8}] fold {fold}/{n_folds}: ACC {row['ACC']:.3f}  AUC {row['AUC']:.3f}"
                f"  ({time.perf_counter() - tick:.1f}s; fit {done}/{n_fits}, {elapsed:.0f}s "
                f"so far, about {elapsed / done * (n_fits - done):.0f}s left){note}",
                flush=True,
            )
        roc[mode] = (np.concatenate(truth_all), np.concatenate(scores_all))
    results = pd.DataFrame(rows)
    table = summary_table(results)
    out = pathlib.Path(output)
    out.mkdir(parents=True, exist_ok=True)
    results.to_csv(out / "folds.csv", index=False)
    table.to_csv(out / "ablation.csv")
    (out / "ablation.md").write_text(_markdown(table))
    (out / "settings.json").write_text(
        json.dumps(
            {
                "config": config,
                "task": task,
                "settings": settings,
                "device": device,
                "n_folds": n_folds,
                "random_state": random_state,
            },
            indent=2,
        )
    )
    _plot(results, roc, out / "ablation.png")
    say("")
    say(_markdown(table))
    say(
        f"\nwrote {out}/ablation.csv, ablation.md, folds.csv, settings.json, ablation.png "
        f"({time.perf_counter() - started:.0f}s)"
    )
    if report_mode is not None:
        from ..evaluation import model_report
        from ..evaluation._report import _subgroup_values, report_from_folds

        with _counting_convergence(repeated, f"{report_mode} on every subject"):
            if diagnosed is None:
                say(
                    f"\nmodel report of mode {report_mode!r}: the same folds, then one fit "
                    "on every subject"
                )
                model_report(
                    model_of(report_mode),
                    X,
                    y,
                    path=out / "report.html",
                    pos_label=pos_label,
                    groups=groups,
                    cv=folds,
                    by="sex",
                    random_state=random_state,
                    verbose=verbose,
                )
            else:
                say(
                    f"\nmodel report of mode {report_mode!r}: its folds above, then one fit "
                    "on every subject for the Grad-CAM maps"
                )
                report_from_folds(
                    model_of(report_mode),
                    X,
                    y,
                    diagnosed,
                    path=out / "report.html",
                    pos_label=pos_label,
                    groups=groups,
                    values=_subgroup_values(X, "sex"),
                    alpha=0.1,
                    n_maps=4,
                    n_bootstraps=1000,
                    random_state=random_state,
                    verbose=verbose,
                )
    total = n_fits + (report_mode is not None) * (1 + n_folds * (diagnosed is None))
    for message, where in repeated.items():
        say(
            f"\nnote: {len(where)} of {total} fits ({', '.join(where[:3])}"
            f"{' ...' if len(where) > 3 else ''}) warned: {message}"
        )
    say(f"\n{PRETRAINING_NOTE}")
    return results


@contextlib.contextmanager
def _counting_convergence(repeated, where):
    """Collect the ConvergenceWarnings of the fits inside, by message, for one note at the
    end (the same warning after every fit would bury the table); other warnings pass.
    ``where`` names the fit, or is a list naming the fits inside in order."""
    names = iter(where if isinstance(where, list) else [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for caught_warning in caught:
        if issubclass(caught_warning.category, ConvergenceWarning):
            # keyed without the estimator's repr: the same words for every mode
            repeated.setdefault(str(caught_warning.message).split(": ", 1)[-1], []).append(
                next(names, where if isinstance(where, str) else "a fit")
            )
        else:
            warnings.warn_explicit(
                caught_warning.message,
                caught_warning.category,
                caught_warning.filename,
                caught_warning.lineno,
            )


def summary_table(results):
    """Mean ± sd over folds per mode, in the paper's column order."""
    grouped = results.groupby("mode", sort=False)[METRICS]
    mean, sd = grouped.mean(), grouped.std(ddof=1)
    return pd.DataFrame(
        {m: [f"{mean.loc[i, m]:.3f} ± {sd.loc[i, m]:.3f}" for i in mean.index] for m in METRICS},
        index=mean.index,
    )


def _markdown(table):
    header = "| mode | " + " | ".join(table.columns) + " |"
    rule = "|---" * (len(table.columns) + 1) + "|"
    lines = [f"| {mode} | " + " | ".join(row) + " |" for mode, row in table.iterrows()]
    return "\n".join([header, rule, *lines])


def _plot(results, roc, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    modes = list(dict.fromkeys(results["mode"]))
    width = 0.8 / len(modes)
    x = np.arange(len(METRICS))
    for i, mode in enumerate(modes):
        part = results[results["mode"] == mode][METRICS]
        left.bar(x + i * width, part.mean(), width, yerr=part.std(ddof=1), label=mode, capsize=2)
        fpr, tpr, _ = roc_curve(*roc[mode])
        right.plot(fpr, tpr, label=f"{mode} (AUC {roc_auc_score(*roc[mode]):.3f})")
    n_folds = results["fold"].nunique()
    left.set_xticks(x + width * (len(modes) - 1) / 2, METRICS, rotation=30)
    left.set_ylim(0, 1)
    left.set_title(f"Per slice, as in Yang et al.: mean ± sd over {n_folds} folds", fontsize=10)
    # Below the axes: the legend never covers a bar.
    left.legend(fontsize=8, ncol=len(modes), loc="upper center", bbox_to_anchor=(0.5, -0.3))
    right.plot([0, 1], [0, 1], "k:", lw=1)
    right.set_xlabel("1 - specificity")
    right.set_ylabel("sensitivity")
    right.set_title("ROC per slice: pooled out-of-fold scores", fontsize=10)
    right.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
