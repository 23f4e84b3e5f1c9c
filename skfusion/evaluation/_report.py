"""``model_report``: one self-contained HTML file that reports a binary classifier as the
reporting guidelines for clinical prediction models ask (TRIPOD+AI): the data, discrimination
and calibration with intervals, a decision curve, subgroups, conformal coverage, example
Grad-CAM maps, the settings and the versions."""

import pathlib
import tempfile
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.utils import Bunch

from .._base.core.fitting import fit_with_groups
from .._base.files.atomic import atomic_write
from .._input import as_fusion_input, subjects_of
from ..metrics import infer_pos_label, plot_diagnostics, plot_reliability
from . import _report_page as html
from ._diagnostics import binary_labels, cross_val_diagnostics, subgroup_rows, whole_fit_seconds
from ._report_numbers import conformal_coverage, data_summary, decision_curve, settings, versions

_SHOWN = [
    "n",
    "Prevalence",
    "AUC",
    "Sensitivity",
    "Specificity",
    "Calibration slope",
    "Calibration intercept",
    "ECE",
    "Brier",
]


def _check(X, y, path, alpha, n_maps):
    path = pathlib.Path(path)
    if not path.parent.is_dir():
        raise ValueError(
            f"model_report(path={str(path)!r}): the folder {str(path.parent)!r} "
            "does not exist; create it or pass a path in an existing folder."
        )
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(
            f"model_report(path={str(path)!r}) writes an HTML page; give the path an .html suffix."
        )
    y, labels = binary_labels(
        X, y, "model_report", " Report other tasks with cross_val_diagnostics."
    )
    if not 0 < alpha < 1:
        raise ValueError(
            f"model_report(alpha={alpha!r}); expected the conformal miscoverage "
            "level, a number between 0 and 1 (e.g. 0.1 for 90% sets)."
        )
    if isinstance(n_maps, bool) or not isinstance(n_maps, (int, np.integer)) or n_maps < 0:
        raise ValueError(f"model_report(n_maps={n_maps!r}); expected a whole number >= 0.")
    return path, y, labels


def _subgroup_values(X, by):
    if isinstance(by, str):
        columns = list(getattr(X.clinical, "columns", []))
        if by not in columns:
            raise ValueError(
                f"model_report(by={by!r}) is not a column of X's clinical table "
                f"(columns: {columns}); pass a column name or one value per "
                "sample."
            )
        return X.clinical[by].to_numpy()
    values = np.asarray(by, dtype=object)
    if values.shape != (len(X),):
        raise ValueError(
            f"model_report(by=...) must give one subgroup per sample "
            f"({len(X)}); got shape {values.shape}."
        )
    return values


def _wide(report):
    """(part, metric) rows -> one row per part: each metric as "value [low, high]"."""

    def cell(row):
        if np.isnan(row["ci_low"]):
            return f"{row['value']:.3f}" if row["value"] % 1 else f"{row['value']:.0f}"
        return f"{row['value']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"

    shown = report[report.index.get_level_values(-1).isin(_SHOWN)]
    text = shown.apply(cell, axis=1)
    return text.unstack(-1)[[m for m in _SHOWN if m in set(text.index.get_level_values(-1))]]


def _decision_figure(curve):
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.5, 3.5))
    for column, style in (("model", "-"), ("treat all", "--"), ("treat none", ":")):
        axis.plot(curve["threshold"], curve[column], style, label=column)
    # Net benefit below -0.1 (harm beyond acting on none) is drawn at the bottom edge.
    axis.set_ylim(-0.1, max(curve["treat all"].max(), curve["model"].max()) + 0.05)
    axis.set_xlabel("threshold probability")
    axis.set_ylabel("net benefit")
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def _maps(model, X, n_maps, title=str):
    """Example Grad-CAM maps of the model fitted on every patient, or why there are none;
    ``title(row)`` names each panel."""
    if n_maps == 0:
        return html.note("No maps asked (n_maps=0).")
    present = (X.present or {}).get("images") if hasattr(X, "present") else None
    rows = np.flatnonzero(np.ones(len(X), bool) if present is None else present)[:n_maps]
    from ..explain import grad_cam, plot_overlays

    try:
        maps = grad_cam(model, X[rows])
    except (TypeError, ValueError, AttributeError, NotImplementedError) as error:
        return html.note(f"Grad-CAM maps are not available for this model: {error}")
    images = np.asarray(X[rows].images, dtype=np.float32)
    if images.ndim == maps.ndim + 1:
        images = images[:, 0]
    if maps.ndim == 4:  # stacks and volumes: the middle slice
        middle = maps.shape[1] // 2
        images, maps = images[:, middle], maps[:, middle]
    with tempfile.TemporaryDirectory() as folder:
        figure = pathlib.Path(folder) / "maps.png"
        plot_overlays(images, maps, path=figure, n=len(rows), titles=[title(r) for r in rows])
        tag = html.png_tag(figure.read_bytes(), alt="Grad-CAM maps")
    return tag + html.note(
        "Grad-CAM of the predicted class (the last image stage with at least 2x2 "
        "positions), from the model fitted on every patient; top: the image, bottom: the "
        "map; each titled with the patient, the true label and the out-of-fold predicted "
        "probability of the positive class. Maps show where the network's evidence lies, not "
        "a validated localisation."
    )


def model_report(
    estimator,
    X,
    y,
    *,
    path,
    pos_label=None,
    groups=None,
    cv=5,
    by=None,
    alpha=0.1,
    n_maps=4,
    n_bootstraps=1000,
    random_state=0,
    verbose=1,
):
    """Cross-validate a binary classifier and write one self-contained HTML report.

    The page (no outside resources: it opens offline) holds what reporting guidelines for
    clinical prediction models ask (TRIPOD+AI): the data (samples, subjects, classes,
    images, clinical columns with their missing shares), discrimination (AUC, sensitivity,
    specificity... pooled over out-of-fold predictions, with subject-bootstrap intervals,
    and per fold, with the ROC curve), calibration (slope, intercept, ECE, Brier and the
    reliability diagram), a decision curve (net benefit against treating all and none),
    subgroups, the coverage of conformal prediction sets, example Grad-CAM maps of the model
    refitted on every patient, the estimator's settings and the versions used. Needs
    matplotlib.

    Parameters
    ----------
    estimator : classifier or pipeline
        Unfitted (cloned for every fold, and once more for the final model on every
        patient).
    X, y : FusionInput (or tuple) and labels of a binary task
    path : str or path-like
        The HTML file written (its folder must exist; written atomically).
    pos_label : label, default=None
        The positive class; inferred only where unambiguous (labels such as "AD"/"NC" need
        it).
    groups : array-like, default=None
        Subject per sample (default: the subjects ``X`` carries): folds, bootstraps and
        conformal halves keep subjects whole.
    cv : int or splitter, default=5
    by : str or array-like, default=None
        Subgroups: a clinical column (e.g. "sex") or one value per sample.
    alpha : float, default=0.1
        Miscoverage of the conformal prediction sets (0.1: sets holding the true class for
        at least 90% of new exchangeable subjects).
    n_maps : int, default=4
        Example Grad-CAM maps (0: none).
    n_bootstraps : int, default=1000
        Subject-bootstrap resamples for the intervals.
    random_state : int, default=0
        Seeds the folds, the bootstraps and the conformal halvings.
    verbose : int, default=1
        Progress of the folds.

    Returns
    -------
    report : Bunch
        ``path``; ``model`` (fitted on every patient); ``folds`` (see
        :func:`cross_val_diagnostics`); ``discrimination``, ``calibration`` and
        ``subgroups`` (rows as in :func:`subgroup_report`; ``subgroups`` None without
        ``by``); ``decision_curve`` (net benefit per threshold); ``conformal`` (coverage,
        set sizes).
    """
    X = as_fusion_input(X)
    path, y, labels = _check(X, y, path, alpha, n_maps)
    pos_label = infer_pos_label(labels) if pos_label is None else pos_label
    values = None if by is None else _subgroup_values(X, by)
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(
            "model_report draws its figures with matplotlib: "
            "pip install 'skfusion[docs]' (or matplotlib)."
        ) from error
    matplotlib.use("Agg")
    folds = cross_val_diagnostics(
        estimator,
        X,
        y,
        groups=groups,
        cv=cv,
        pos_label=pos_label,
        random_state=random_state,
        verbose=verbose,
    )
    return report_from_folds(
        estimator,
        X,
        y,
        folds,
        path=path,
        pos_label=pos_label,
        groups=groups,
        values=values,
        alpha=alpha,
        n_maps=n_maps,
        n_bootstraps=n_bootstraps,
        random_state=random_state,
        verbose=verbose,
    )


def report_from_folds(
    estimator,
    X,
    y,
    folds,
    *,
    path,
    pos_label,
    groups,
    values,
    alpha,
    n_maps,
    n_bootstraps,
    random_state,
    verbose,
):
    """The report's page from a finished :func:`cross_val_diagnostics` (its out-of-fold
    predictions), then one fit on every patient for the maps. ``X``, ``y`` and ``path``
    as :func:`model_report` checked them; ``values`` the subgroup of each sample or None.
    The command line's ``cv`` writes its report this way, without cross-validating twice."""
    labels = np.unique(np.asarray(y))
    oof = folds.attrs["out_of_fold"]
    subjects = oof["subject"].to_numpy()
    truth, predicted, score = (
        oof["y"].to_numpy(),
        oof["predicted"].to_numpy(),
        oof["score"].to_numpy(),
    )
    options = dict(n_bootstraps=n_bootstraps, confidence_level=0.95, random_state=random_state)
    sections = {}
    summary, columns = data_summary(X, y, subjects)
    sections["data"] = html.table(summary) + (
        html.table(columns) if columns is not None else html.note("No clinical table.")
    )
    everyone = subgroup_rows(
        truth, predicted, score, subjects, np.full(len(y), "all"), pos_label, options
    )
    sections["discrimination"] = (
        html.table(_wide(everyone))
        + html.table(folds)
        + html.figure_png(
            plot_diagnostics(
                truth, predicted, score, pos_label=pos_label, title="pooled out-of-fold predictions"
            )
        )
        + html.note(
            f"Out-of-fold predictions of {folds.shape[0]}-fold cross-validation "
            "(subjects kept whole); intervals: 95% subject bootstrap."
        )
    )
    sections["calibration"] = (
        html.table(folds.attrs["calibration"])
        + html.figure_png(plot_reliability(truth, score, pos_label=pos_label))
        + html.note(
            "Reliability of the pooled out-of-fold probabilities (15 equal-mass "
            "bins); a slope below 1 means overconfident probabilities."
        )
    )
    curve = decision_curve(truth, score, pos_label)
    sampled = curve[
        np.isin(np.round(curve["threshold"], 2), np.round(np.arange(0.1, 0.91, 0.1), 2))
    ].set_index("threshold")
    sections["decision-curve"] = (
        html.figure_png(_decision_figure(curve))
        + html.table(sampled)
        + html.note(
            "Net benefit of acting on the patients whose predicted probability "
            f"of {pos_label!r} reaches each threshold, against acting on all and "
            "on none (Vickers and Elkin, 2006)."
        )
    )
    subgroups = None
    if values is None:
        sections["subgroups"] = html.note(
            "No subgroups asked: pass by= (a clinical column "
            "such as 'sex', or one value per sample)."
        )
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # undefined metrics in small subgroups: NaN
            subgroups = subgroup_rows(truth, predicted, score, subjects, values, pos_label, options)
        sections["subgroups"] = html.table(_wide(subgroups))
    coverage = conformal_coverage(
        truth, score, subjects, labels, pos_label, alpha, n_splits=50, seed=random_state
    )
    sections["conformal"] = html.table(coverage) + html.note(
        f"Split conformal prediction sets (LAC) at alpha={alpha:g} on the out-of-fold "
        "probabilities: half of the subjects calibrate, the other half measure coverage, "
        f"over 50 random halvings. The guarantee: coverage of at least {1 - alpha:.0%} on "
        "average for exchangeable new subjects (not per subgroup, not at another site)."
    )
    if verbose and folds.attrs.get("fit_seconds"):
        print(
            f"one fit on every patient for the maps: about {whole_fit_seconds(folds):.0f} s",
            flush=True,
        )
    model = fit_with_groups(clone(estimator), X, y, subjects_of(X, groups))
    sections["maps"] = _maps(
        model,
        X,
        n_maps,
        title=lambda r: f"{subjects[r]}: {truth[r]}\nP({pos_label}) {score[r]:.2f}",
    )
    sections["settings"] = html.table(settings(estimator))
    sections["versions"] = html.table(versions())
    title = f"Model report: {type(model).__name__}"
    atomic_write(
        path,
        lambda stream: stream.write(
            html.page(
                title,
                f"{len(y)} samples; positive class {pos_label!r}; "
                f"{folds.shape[0]}-fold cross-validation, random_state={random_state}.",
                sections,
            ).encode("utf-8")
        ),
    )
    if verbose:
        print(f"model report written to {path}", flush=True)
    return Bunch(
        path=path,
        model=model,
        folds=folds,
        discrimination=everyone,
        calibration=folds.attrs["calibration"],
        decision_curve=curve,
        subgroups=subgroups,
        conformal=coverage,
    )
