"""Cross-validation reported the way medical imaging papers report it; subgroups and
external validation of a fitted classifier."""

import pathlib
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import UndefinedMetricWarning

from .._base.core.cv import default_cv
from .._base.core.fitting import fit_with_groups
from .._input import as_fusion_input, subjects_of, warn_if_subjects_repeat
from .._net.progress import progress
from ..metrics import (
    aggregate_by_subject,
    calibration_report,
    diagnostic_report,
    infer_pos_label,
    plot_diagnostics,
    plot_reliability,
)

__all__ = ["cross_val_diagnostics", "external_validation", "subgroup_report"]


def cross_val_diagnostics(
    estimator,
    X,
    y,
    *,
    groups=None,
    cv=5,
    pos_label=None,
    output_dir=None,
    random_state=0,
    verbose=1,
):
    """Cross-validate, then report ACC, sensitivity, specificity, PPV, NPV, balanced accuracy
    and AUC per fold, and save a ROC curve and confusion matrix per fold.

    Parameters
    ----------
    estimator : classifier or pipeline
        Cloned for every fold.
    X, y : FusionInput (or any sliceable X) and labels
    groups : array-like, default=None
        Subject per sample: folds then keep subjects whole (``StratifiedGroupKFold``), and
        ``groups`` reaches the estimator's ``fit`` (its early-stopping split) where it
        accepts it.
    cv : int or splitter, default=5
    pos_label : label, default=None
        Positive class of a binary task; inferred only where unambiguous (1 for labels
        {0, 1}, True for booleans, see :func:`skfusion.metrics.infer_pos_label`); labels
        such as "AD"/"NC" need it, and a ValueError says so.
    output_dir : str or path-like, default=None
        Write ``fold_<k>.png`` (ROC + confusion matrix), ``folds.csv`` and ``pooled.csv``
        (the pooled out-of-fold report with subject-bootstrap intervals) there, and for a
        binary task ``calibration.csv`` and ``reliability.png`` (the reliability diagram of
        the pooled out-of-fold probabilities).
    random_state : int, default=0
        Seeds the folds and the bootstrap.
    verbose : int, default=1
        Print a line per fold; 2 also draws a progress bar over the folds on a terminal.

    Returns
    -------
    folds : pandas.DataFrame
        One row per fold, one column per metric; ``folds.attrs["pooled"]`` holds the pooled
        report, and for a binary task ``folds.attrs["calibration"]`` the calibration of
        the pooled out-of-fold probabilities (slope, intercept, ECE and Brier with
        subject-bootstrap intervals, :func:`skfusion.metrics.calibration_report`). When
        subjects have several samples (``groups`` repeat), every fold is also
        scored per subject (each subject's mean predicted probabilities, see
        :func:`skfusion.metrics.aggregate_by_subject`): ``folds.attrs["per_subject"]`` (one
        row per fold) and ``folds.attrs["pooled_per_subject"]``; ``folds`` itself is per
        slice, and the printed lines say which is which. A metric undefined in a fold (PPV
        when the model predicted no positive sample...) is NaN there, with an
        ``UndefinedMetricWarning`` naming the fold and the reason; ``folds.mean()``
        averages the defined folds (pandas skips NaN) and ``folds.count()`` says how many
        there were. ``folds.attrs["out_of_fold"]`` holds every sample's out-of-fold
        prediction, one row per sample in ``X``'s order: its fold, subject, true and
        predicted label, and for a binary task ``score`` (the probability of
        ``pos_label``). ``folds.attrs["fit_seconds"]``: each fold's seconds (fit and prediction).
    """
    y = np.asarray(y)
    groups = subjects_of(X, groups)
    if groups is None and isinstance(cv, int):
        warn_if_subjects_repeat(X, getattr(X, "clinical", None), "cross_val_diagnostics' folds")
    cv = default_cv(cv, y, groups, random_state)
    labels = np.unique(y)
    binary = len(labels) == 2
    if pos_label is None and binary:
        pos_label = infer_pos_label(labels)
    elif pos_label is not None and binary and pos_label not in labels.tolist():
        raise ValueError(
            f"pos_label={pos_label!r} is not one of the labels of y "
            f"{labels.tolist()}; pass one of them."
        )
    out = None if output_dir is None else pathlib.Path(output_dir)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    rows, pooled_true, pooled_pred, pooled_score, pooled_groups = [], [], [], [], []
    repeated = groups is not None and len(np.unique(groups)) < len(y)
    subject_rows, subject_parts = [], []
    splits = list(cv.split(np.zeros(len(y)), y, groups))
    fold_seconds = []
    for fold, (train, test) in enumerate(progress(splits, verbose=verbose, desc="folds"), start=1):
        started = time.perf_counter()
        model = fit_with_groups(
            clone(estimator),
            X[train],
            y[train],
            None if groups is None else np.asarray(groups)[train],
        )
        proba = model.predict_proba(X[test])
        pred = model.classes_[np.argmax(proba, axis=1)]
        score = proba[:, list(model.classes_).index(pos_label)] if binary else proba
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UndefinedMetricWarning)
            report = diagnostic_report(
                y[test], pred, score, pos_label=pos_label if binary else None, n_bootstraps=0
            )
        for warning in caught:  # name the fold
            warnings.warn(f"fold {fold}: {warning.message}", UndefinedMetricWarning, stacklevel=2)
        rows.append({"fold": fold, **report["value"].to_dict()})
        if repeated:  # the same fold scored per subject: mean probabilities of its slices
            _, y_subject, proba_subject = aggregate_by_subject(
                y[test], proba, np.asarray(groups)[test]
            )
            pred_subject = model.classes_[np.argmax(proba_subject, axis=1)]
            score_subject = (
                proba_subject[:, list(model.classes_).index(pos_label)] if binary else proba_subject
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UndefinedMetricWarning)
                subject_report = diagnostic_report(
                    y_subject,
                    pred_subject,
                    score_subject,
                    pos_label=pos_label if binary else None,
                    n_bootstraps=0,
                )
            subject_rows.append({"fold": fold, **subject_report["value"].to_dict()})
            subject_parts.append((y_subject, pred_subject, score_subject))
        if out is not None:
            plot_diagnostics(
                y[test],
                pred,
                score if binary else None,
                pos_label=pos_label,
                path=out / f"fold_{fold}.png",
                title=f"fold {fold}",
            )
        pooled_true.append(y[test])
        pooled_pred.append(pred)
        pooled_score.append(score)
        pooled_groups.append(
            np.asarray(groups)[test] if groups is not None else np.arange(len(y))[test]
        )
        fold_seconds.append(time.perf_counter() - started)
        if verbose:  # the unit from the data: rows are patients unless subjects repeat
            left = np.mean(fold_seconds) * (len(splits) - fold)
            timing = f"{fold_seconds[-1]:.0f} s" + (f"; about {left:.0f} s left" if left else "")
            for level, row in (
                ("per image" if repeated else "per patient", rows[-1]),
                *((("per patient", subject_rows[-1]),) if repeated else ()),
            ):
                metrics = ", ".join(f"{k} {v:.3f}" for k, v in row.items() if k != "fold")
                print(f"  fold {fold}/{len(splits)} ({level}): {metrics} [{timing}]", flush=True)
    folds = pd.DataFrame(rows).set_index("fold")
    folds.attrs["fit_seconds"] = fold_seconds
    order = np.concatenate([test for _, test in splits])
    folds.attrs["out_of_fold"] = pd.DataFrame(
        {
            "fold": np.repeat(np.arange(1, len(splits) + 1), [len(t) for _, t in splits]),
            "subject": np.concatenate(pooled_groups),
            "y": np.concatenate(pooled_true),
            "predicted": np.concatenate(pooled_pred),
            **({"score": np.concatenate(pooled_score)} if binary else {}),
        },
        index=pd.Index(order, name="row"),
    ).sort_index()
    pooled = diagnostic_report(
        np.concatenate(pooled_true),
        np.concatenate(pooled_pred),
        np.concatenate(pooled_score),
        pos_label=pos_label if binary else None,
        groups=np.concatenate(pooled_groups),
        random_state=random_state,
    )
    folds.attrs["pooled"] = pooled
    if binary:  # calibration of the pooled out-of-fold probabilities
        folds.attrs["calibration"] = calibration_report(
            np.concatenate(pooled_true),
            np.concatenate(pooled_score),
            pos_label=pos_label,
            groups=np.concatenate(pooled_groups),
            random_state=random_state,
        )
    if repeated:
        folds.attrs["per_subject"] = pd.DataFrame(subject_rows).set_index("fold")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            folds.attrs["pooled_per_subject"] = diagnostic_report(
                *(np.concatenate(part) for part in zip(*subject_parts)),
                pos_label=pos_label if binary else None,
                random_state=random_state,
            )
    if out is not None:
        folds.to_csv(out / "folds.csv")
        pooled.to_csv(out / "pooled.csv")
        if binary:
            folds.attrs["calibration"].to_csv(out / "calibration.csv")
            plot_reliability(
                np.concatenate(pooled_true),
                np.concatenate(pooled_score),
                pos_label=pos_label,
                path=out / "reliability.png",
                title="pooled out-of-fold probabilities",
            )
    return folds


def whole_fit_seconds(folds):
    """About how long one fit on every sample takes, from a :func:`cross_val_diagnostics`
    result: the mean fold's seconds scaled from (k-1)/k of the samples to all; 0 without
    recorded times."""
    seconds = folds.attrs.get("fit_seconds") or []
    return float(np.mean(seconds) * len(seconds) / max(len(seconds) - 1, 1)) if seconds else 0.0


def subgroup_report(
    estimator,
    X,
    y,
    *,
    by,
    pos_label=None,
    groups=None,
    n_bootstraps=1000,
    confidence_level=0.95,
    random_state=0,
):
    """Discrimination, calibration and prevalence of a fitted binary classifier in each
    subgroup (sex, age band, site...), with subject-bootstrap intervals.

    Parameters
    ----------
    estimator : fitted classifier or pipeline
        Scored as it is (not refitted): pass held-out data.
    X : FusionInput or tuple
        The samples scored.
    y : array-like of shape (n_samples,)
        Their true labels (two classes).
    by : str or array-like of shape (n_samples,)
        A column of ``X``'s clinical table, or one subgroup value per sample (e.g.
        ``pandas.cut(age, [0, 65, 75, 120])``). Missing values form their own subgroup,
        ``"missing"``.
    pos_label : label, default=None
        The positive class; inferred only where unambiguous (labels such as "AD"/"NC" need
        it).
    groups : array-like of shape (n_samples,), default=None
        Subject of each sample (default: the subjects ``X`` carries); the bootstrap
        resamples whole subjects.
    n_bootstraps : int, default=1000
        Bootstrap resamples for the intervals (0: none).
    confidence_level : float, default=0.95
        Coverage of the percentile intervals.
    random_state : int, default=0
        Seeds the bootstrap.

    Returns
    -------
    report : pandas.DataFrame
        Indexed by (subgroup, metric), columns ``value``, ``ci_low``, ``ci_high``: per
        subgroup "n" (samples), "Prevalence" (share of ``pos_label``), AUC, sensitivity,
        specificity and the other metrics of :func:`skfusion.metrics.diagnostic_report`, and
        the calibration slope, intercept, ECE and Brier of
        :func:`skfusion.metrics.calibration_report`. A metric undefined in a subgroup (AUC
        where it holds one class) is NaN, with an ``UndefinedMetricWarning``.
    """
    X = as_fusion_input(X)
    y, score, predicted, subjects, pos_label = _scored(
        estimator, X, y, pos_label, groups, "subgroup_report"
    )
    if isinstance(by, str):
        if X.clinical is None or by not in getattr(X.clinical, "columns", ()):
            columns = list(getattr(X.clinical, "columns", []))
            raise ValueError(
                f"by={by!r} is not a column of X's clinical table (columns: "
                f"{columns}); pass a column name or one value per sample."
            )
        values = X.clinical[by].to_numpy()
    else:
        values = np.asarray(by)
    if values.shape != (len(y),):
        raise ValueError(
            f"by must give one subgroup per sample ({len(y)}); got shape {values.shape}."
        )
    options = dict(
        n_bootstraps=n_bootstraps, confidence_level=confidence_level, random_state=random_state
    )
    return subgroup_rows(y, predicted, score, subjects, values, pos_label, options)


def subgroup_rows(y, predicted, score, subjects, values, pos_label, options):
    """The rows of :func:`subgroup_report` from predictions already made (``values``: one
    subgroup per sample; missing values form the subgroup "missing")."""
    values = pd.Series(values, dtype=object).where(pd.notna(values), "missing").to_numpy()
    parts = {}
    for value in pd.unique(values):
        rows = np.flatnonzero(values == value)
        parts[value] = _binary_report(
            y[rows], predicted[rows], score[rows], subjects[rows], pos_label, options
        )
    return pd.concat(parts, names=["subgroup", "metric"])


def external_validation(
    estimator,
    X_external,
    y_external,
    *,
    pos_label=None,
    groups=None,
    recalibrate=False,
    n_bootstraps=1000,
    confidence_level=0.95,
    random_state=0,
):
    """A fitted binary classifier on a second cohort (another site, scanner or period):
    discrimination, calibration and prevalence, with subject-bootstrap intervals.

    Parameters
    ----------
    estimator : fitted classifier or pipeline
        Fitted on the development cohort; scored as it is, never refitted.
    X_external : FusionInput or tuple
        The external cohort, with the clinical columns and image shape the model was
        fitted on.
    y_external : array-like of shape (n_samples,)
        Its true labels (two classes).
    pos_label : label, default=None
        The positive class; inferred only where unambiguous.
    groups : array-like of shape (n_samples,), default=None
        Subject of each sample (default: the subjects ``X_external`` carries); the bootstrap
        resamples whole subjects.
    recalibrate : bool, default=False
        Also report the model after recalibration-in-the-large: one shift of every logit,
        chosen so that the mean predicted probability equals the external prevalence (the
        usual first update when a model moves to a site whose prevalence differs). The shift
        is learned from these same labels, so the recalibrated calibration intercept is 0 by
        construction and its rows describe the updated model, not a new test of it; AUC does
        not change (the shift keeps the ranking).
    n_bootstraps : int, default=1000
        Bootstrap resamples for the intervals (0: none).
    confidence_level : float, default=0.95
        Coverage of the percentile intervals.
    random_state : int, default=0
        Seeds the bootstrap.

    Returns
    -------
    report : pandas.DataFrame
        Indexed by (model, metric), columns ``value``, ``ci_low``, ``ci_high``: for
        ``"as fitted"`` (and with ``recalibrate``, ``"recalibrated in the large"``) the rows
        of :func:`subgroup_report` for one subgroup: "n", "Prevalence", the metrics of
        :func:`skfusion.metrics.diagnostic_report` and the calibration slope, intercept, ECE
        and Brier. ``report.attrs["logit_shift"]`` holds the shift (with ``recalibrate``).
    """
    from scipy.optimize import brentq
    from scipy.special import expit, logit

    X = as_fusion_input(X_external)
    y, score, predicted, subjects, pos_label = _scored(
        estimator, X, y_external, pos_label, groups, "external_validation"
    )
    options = dict(
        n_bootstraps=n_bootstraps, confidence_level=confidence_level, random_state=random_state
    )
    parts = {"as fitted": _binary_report(y, predicted, score, subjects, pos_label, options)}
    shift = None
    if recalibrate:
        prevalence = float(np.mean(y == pos_label))
        logits = logit(np.clip(score, 1e-12, 1 - 1e-12))
        shift = float(brentq(lambda a: expit(logits + a).mean() - prevalence, -50, 50))
        shifted = expit(logits + shift)
        negative = [c for c in estimator.classes_ if c != pos_label][0]
        relabelled = np.where(shifted >= 0.5, pos_label, negative).astype(y.dtype)
        parts["recalibrated in the large"] = _binary_report(
            y, relabelled, shifted, subjects, pos_label, options
        )
    report = pd.concat(parts, names=["model", "metric"])
    if shift is not None:
        report.attrs["logit_shift"] = shift
    return report


def binary_labels(X, y, who, hint=""):
    """``y`` as an array and its two labels, or a ValueError naming ``who``."""
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"{who}: y has {len(y)} labels but X has {len(X)} samples.")
    labels = np.unique(y)
    if len(labels) != 2:
        raise ValueError(
            f"{who} is for binary tasks; y holds {len(labels)} "
            f"class(es) {labels.tolist()[:5]}.{hint}"
        )
    return y, labels


def _scored(estimator, X, y, pos_label, groups, who):
    """Checked labels, the positive class's probability, the predicted labels, the subjects
    and the positive label of a fitted binary classifier on ``X``."""
    y, labels = binary_labels(X, y, who)
    if pos_label is None:
        pos_label = infer_pos_label(labels)
    subjects = subjects_of(X, groups)
    subjects = np.arange(len(y)) if subjects is None else np.asarray(subjects)
    proba = estimator.predict_proba(X)
    classes = list(estimator.classes_)
    if pos_label not in classes:
        raise ValueError(
            f"pos_label={pos_label!r} is not among the classes {classes} the "
            "estimator was fitted on."
        )
    score = proba[:, classes.index(pos_label)]
    predicted = np.asarray(classes, dtype=object)[proba.argmax(axis=1)].astype(y.dtype)
    return y, score, predicted, subjects, pos_label


def _binary_report(y, predicted, score, subjects, pos_label, options):
    """The rows of one part of a report: counts, diagnostic metrics and calibration."""
    counts = pd.DataFrame(
        {"value": [len(y), float(np.mean(y == pos_label))], "ci_low": np.nan, "ci_high": np.nan},
        index=["n", "Prevalence"],
    )
    return pd.concat(
        [
            counts,
            diagnostic_report(y, predicted, score, pos_label=pos_label, groups=subjects, **options),
            calibration_report(y, score, pos_label=pos_label, groups=subjects, **options),
        ]
    )
