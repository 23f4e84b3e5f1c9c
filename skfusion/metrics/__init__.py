"""Diagnostic metrics as reported in medical imaging papers, usable as sklearn scorers.

Sensitivity, specificity, positive and negative predictive value from the confusion matrix
(binary with ``pos_label``, or one-vs-rest per class with ``average`` as in sklearn),
:func:`diagnostic_report` with bootstrap confidence intervals (resampling subjects when
``groups`` is given), and :func:`diagnostic_scorers` for ``cross_validate`` and searches;
survival metrics; and the text metrics of generated reports (:func:`rouge_l`, :func:`bleu`).
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    make_scorer,
    roc_auc_score,
)
from sklearn.utils._param_validation import Interval, Options, validate_params

from .._tasks.text_scores import bleu, rouge_l
from ._binary import binary_values
from ._bootstrap import bootstrap_report
from ._calibration import (
    calibration_report,
    expected_calibration_error,
    plot_reliability,
    reliability_curve,
)
from ._confusion import _DEFINITIONS, npv_score, ppv_score, sensitivity_score, specificity_score
from ._subject import aggregate_by_subject, infer_pos_label
from ._survival import brier_score, concordance_index, integrated_brier_score

__all__ = [
    "aggregate_by_subject",
    "bleu",
    "brier_score",
    "calibration_report",
    "concordance_index",
    "diagnostic_report",
    "diagnostic_scorers",
    "expected_calibration_error",
    "infer_pos_label",
    "plot_diagnostics",
    "plot_reliability",
    "reliability_curve",
    "npv_score",
    "ppv_score",
    "sensitivity_score",
    "specificity_score",
    "integrated_brier_score",
    "rouge_l",
]


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "y_score": ["array-like", None],
        "pos_label": [str, Integral, bool, np.bool_, None],
        "groups": ["array-like", None],
        "n_bootstraps": [Interval(Integral, 0, None, closed="left")],
        "confidence_level": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def diagnostic_report(
    y_true,
    y_pred,
    y_score=None,
    *,
    pos_label=None,
    groups=None,
    n_bootstraps=1000,
    confidence_level=0.95,
    random_state=0,
):
    """ACC, sensitivity, specificity, PPV, NPV, balanced accuracy and AUC with confidence
    intervals.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes), default=None
        Scores for AUC: the positive class's probability (binary), or ``predict_proba``
        (columns in sorted label order; one-vs-rest macro AUC for several classes). Without
        it the AUC row is left out.
    pos_label : label, default=None
        Positive class of a binary problem, inferred only where unambiguous
        (:func:`infer_pos_label`: 1 for labels {0, 1} or {-1, 1}, True for booleans); other
        labels ("AD"/"NC") need it. With more than two classes the confusion-matrix metrics
        are macro one-vs-rest averages.
    groups : array-like of shape (n_samples,), default=None
        Subject of each sample. The bootstrap then resamples subjects, not slices, so the
        intervals account for slices of one subject being alike.
    n_bootstraps : int, default=1000
        Bootstrap resamples for the intervals (0: no intervals).
    confidence_level : float, default=0.95
        Coverage of the percentile bootstrap intervals.
    random_state : int, RandomState instance or None, default=0
        Seeds the bootstrap.

    Returns
    -------
    report : pandas.DataFrame
        One row per metric; columns ``value``, ``ci_low``, ``ci_high``. Metrics undefined in
        a resample (e.g. no positive sample) are left out of that resample's interval.

    Examples
    --------
    >>> from skfusion.metrics import diagnostic_report
    >>> report = diagnostic_report(["AD", "AD", "NC", "NC"], ["AD", "NC", "NC", "NC"],
    ...                            pos_label="AD", n_bootstraps=0)
    >>> report["value"].round(3).to_dict()
    {'ACC': 0.75, 'Sensitivity': 0.5, 'Specificity': 1.0, 'PPV': 1.0, 'NPV': 0.667, \
'Balanced ACC': 0.75}
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if len(y_true) != len(y_pred) or len(y_true) == 0:
        raise ValueError(
            f"y_true and y_pred must have the same, non-zero length; got {len(y_true)} and "
            f"{len(y_pred)}."
        )
    labels = np.unique(np.concatenate([y_true, y_pred]))
    binary = len(labels) <= 2
    if binary and pos_label is None:
        pos_label = infer_pos_label(labels)
    scores = None if y_score is None else np.asarray(y_score, dtype=float)
    if scores is not None and len(scores) != len(y_true):
        raise ValueError(f"y_score has {len(scores)} rows but y_true has {len(y_true)}.")

    if binary:
        if len(labels) == 2 and pos_label not in set(labels.tolist()):
            raise ValueError(
                f"pos_label={pos_label!r} is not a label of y_true or y_pred "
                f"({labels.tolist()}); pass pos_label= the positive class."
            )
        truth, said = y_true == pos_label, y_pred == pos_label
        if scores is not None and scores.ndim == 2:
            scores = scores[:, -1]

    def compute(index):
        if binary:  # plain numpy: 1,000 resamples in well under a second
            return binary_values(
                truth[index], said[index], None if scores is None else scores[index]
            )
        t, p = y_true[index], y_pred[index]
        options = dict(labels=labels, average="macro")
        values = {"ACC": accuracy_score(t, p)}
        for name, metric in (
            ("Sensitivity", sensitivity_score),
            ("Specificity", specificity_score),
            ("PPV", ppv_score),
            ("NPV", npv_score),
        ):
            values[name] = metric(t, p, zero_division=np.nan, **options)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values["Balanced ACC"] = balanced_accuracy_score(t, p)
        if scores is not None:
            values["AUC"] = (
                np.nan
                if len(np.unique(t)) < 2
                else roc_auc_score(t, scores[index], multi_class="ovr", labels=labels)
            )
        return values

    report = bootstrap_report(
        compute,
        len(y_true),
        groups=groups,
        n_bootstraps=n_bootstraps,
        confidence_level=confidence_level,
        random_state=random_state,
    )
    _warn_undefined(report["value"].to_dict(), "diagnostic_report")
    return report


class _PositiveClassAUC:
    """Scorer: ROC AUC of the ``predict_proba`` column of ``pos_label``."""

    def __init__(self, pos_label):
        self.pos_label = pos_label

    def __call__(self, estimator, X, y):
        classes = list(estimator.classes_)
        if self.pos_label not in classes:
            raise ValueError(
                f"pos_label={self.pos_label!r} is not among the classes {classes} the "
                "estimator was fitted on."
            )
        proba = estimator.predict_proba(X)[:, classes.index(self.pos_label)]
        return roc_auc_score(np.asarray(y) == self.pos_label, proba)

    def __repr__(self):
        return f"roc_auc(pos_label={self.pos_label!r})"


class _NaNWarning:
    """A confusion-matrix metric that returns ``zero_division`` for an undefined split and
    says so with an UndefinedMetricWarning (a picklable callable, for parallel CV)."""

    def __init__(self, name, metric, zero_division):
        self.name = name
        self.metric = metric
        self.zero_division = zero_division
        self.__name__ = f"{name}_score"

    def __call__(self, y_true, y_pred, **options):
        value = self.metric(y_true, y_pred, zero_division=np.nan, **options)
        if np.isnan(value):
            warnings.warn(
                f"{self.name} is undefined for this split ({_DEFINITIONS[self.name][1]}, e.g. "
                f"the model predicted one class) and scored {self.zero_division}; "
                "np.mean over the splits is then NaN: use np.nanmean and report the number of "
                "undefined splits, or pass diagnostic_scorers(zero_division=0).",
                UndefinedMetricWarning,
                stacklevel=2,
            )
            return self.zero_division
        return value


def _warn_undefined(values, where):
    """Warn, naming the metric and the reason, for each NaN in a report's point values."""
    reasons = {
        "Sensitivity": _DEFINITIONS["sensitivity"][1],
        "Specificity": _DEFINITIONS["specificity"][1],
        "PPV": _DEFINITIONS["ppv"][1],
        "NPV": _DEFINITIONS["npv"][1],
        "AUC": "y_true holds one class",
    }
    for name, value in values.items():
        if isinstance(value, float) and np.isnan(value) and name in reasons:
            warnings.warn(
                f"{where}: {name} is undefined ({reasons[name]}) and reported as NaN.",
                UndefinedMetricWarning,
                stacklevel=3,
            )


@validate_params(
    {
        "pos_label": [str, Integral, bool, np.bool_, None],
        "zero_division": [Options(Real, {0.0, 1.0, np.nan})],
    },
    prefer_skip_nested_validation=True,
)
def diagnostic_scorers(pos_label=None, zero_division=np.nan):
    """Scorers for ``cross_validate(..., scoring=diagnostic_scorers(...))`` and searches.

    Parameters
    ----------
    pos_label : label or None, default=None
        The positive class of a binary task ("AD"). ``None`` returns multi-class scorers:
        one-vs-rest macro averages of the confusion-matrix metrics and one-vs-rest AUC.

    zero_division : np.nan, 0.0 or 1.0, default=np.nan
        The score of a split where a metric is undefined (PPV when the model predicted no
        positive sample, sensitivity when the test part holds no positive sample...). The
        default, NaN, keeps such splits apart from real zeros; each one raises an
        ``UndefinedMetricWarning`` that names the metric and the reason. ``np.mean`` of
        ``cross_validate``'s scores is then NaN: average with ``np.nanmean`` and report how
        many splits were undefined, or pass ``zero_division=0``.

    Returns
    -------
    scorers : dict
        Keys ``accuracy``, ``sensitivity``, ``specificity``, ``ppv``, ``npv``,
        ``balanced_accuracy``, ``roc_auc``.

    Examples
    --------
    >>> from skfusion.metrics import diagnostic_scorers
    >>> sorted(diagnostic_scorers(pos_label="AD"))
    ['accuracy', 'balanced_accuracy', 'npv', 'ppv', 'roc_auc', 'sensitivity', 'specificity']
    """
    if pos_label is None:
        options = dict(average="macro")
        auc = "roc_auc_ovr"
    else:
        options = dict(average="binary", pos_label=pos_label)
        auc = _PositiveClassAUC(pos_label)
    scorers = {
        "accuracy": "accuracy",
        **{
            name: make_scorer(_NaNWarning(name, metric, zero_division), **options)
            for name, metric in (
                ("sensitivity", sensitivity_score),
                ("specificity", specificity_score),
                ("ppv", ppv_score),
                ("npv", npv_score),
            )
        },
        "balanced_accuracy": "balanced_accuracy",
        "roc_auc": auc,
    }
    return scorers


def plot_diagnostics(y_true, y_pred, y_score=None, *, pos_label=None, path=None, title=None):
    """ROC curve and confusion matrix side by side (sklearn's display classes), as a PNG.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    y_score : array-like of shape (n_samples,), default=None
        Score of ``pos_label`` for the ROC curve (binary tasks); without it only the
        confusion matrix is drawn.
    pos_label : label, default=None
        The positive class; inferred only where unambiguous (:func:`infer_pos_label`).
    path : str or path-like, default=None
        Where to save the PNG; ``None`` only returns the figure.
    title : str, default=None
        Figure title (e.g. "fold 3").

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

    y_true = np.asarray(y_true)
    labels = np.unique(np.concatenate([y_true, np.asarray(y_pred)]))
    if pos_label is None and len(labels) == 2:
        pos_label = infer_pos_label(labels)
    with_roc = y_score is not None and len(labels) <= 2
    figure, axes = plt.subplots(1, 2 if with_roc else 1, figsize=(9 if with_roc else 4.5, 4))
    axes = np.atleast_1d(axes)
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=labels, ax=axes[-1], colorbar=False
    )
    axes[-1].set_title("confusion matrix")
    if with_roc:
        RocCurveDisplay.from_predictions(
            y_true, y_score, pos_label=pos_label, ax=axes[0], plot_chance_level=True
        )
        axes[0].set_title(f"ROC ({pos_label} positive)")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
        plt.close(figure)
    return figure
