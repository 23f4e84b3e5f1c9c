"""Sensitivity, specificity, positive and negative predictive value from the confusion matrix:
binary with ``pos_label``, or one-vs-rest per class with ``average`` as in sklearn."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import multilabel_confusion_matrix
from sklearn.utils._param_validation import Options, StrOptions, validate_params

__all__ = ["npv_score", "ppv_score", "sensitivity_score", "specificity_score"]

# (numerator, denominator) in terms of tp, fn, fp, tn, and what an empty denominator means.
_DEFINITIONS = {
    "sensitivity": (lambda tp, fn, fp, tn: (tp, tp + fn), "no positive samples in y_true"),
    "specificity": (lambda tp, fn, fp, tn: (tn, tn + fp), "no negative samples in y_true"),
    "ppv": (lambda tp, fn, fp, tn: (tp, tp + fp), "no positive predictions in y_pred"),
    "npv": (lambda tp, fn, fp, tn: (tn, tn + fn), "no negative predictions in y_pred"),
}

_PARAMS = {
    "y_true": ["array-like"],
    "y_pred": ["array-like"],
    "labels": ["array-like", None],
    "pos_label": [str, Integral, bool, np.bool_],
    "average": [StrOptions({"binary", "micro", "macro", "weighted"}), None],
    "zero_division": [StrOptions({"warn"}), Options(Real, {0.0, 1.0, np.nan})],
}


def _confusion_metric(name, y_true, y_pred, labels, pos_label, average, zero_division):
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D of the same length; got shapes {y_true.shape} "
            f"and {y_pred.shape}."
        )
    present = np.unique(np.concatenate([y_true, y_pred]))
    if average == "binary":
        if len(present) > 2:
            raise ValueError(
                f"average='binary' needs binary labels, but y_true and y_pred have "
                f"{len(present)}: {present.tolist()}. Choose average='macro', 'weighted', "
                "'micro' or None for one-vs-rest scores per class."
            )
        if len(present) == 2 and pos_label not in set(present.tolist()):
            raise ValueError(
                f"pos_label={pos_label!r} is not a label of y_true or y_pred "
                f"({present.tolist()}); pass pos_label= the positive class."
            )
        labels = [pos_label]
    elif labels is None:
        labels = present
    counts = multilabel_confusion_matrix(y_true, y_pred, labels=labels)
    tn, fp, fn, tp = (counts[:, i, j] for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))
    formula, reason = _DEFINITIONS[name]
    if average == "micro":
        numerator, denominator = formula(tp.sum(), fn.sum(), fp.sum(), tn.sum())
        return _divide(np.array([numerator]), np.array([denominator]), zero_division, name, reason)[
            0
        ]
    numerator, denominator = formula(tp, fn, fp, tn)
    scores = _divide(numerator, denominator, zero_division, name, reason)
    if average == "binary":
        return float(scores[0])
    if average is None:
        return scores
    if average == "macro":
        return float(np.mean(scores))
    support = tp + fn
    if support.sum() == 0:
        return _divide(np.array([0.0]), np.array([0]), zero_division, name, reason)[0]
    return float(np.average(scores, weights=support))


def _divide(numerator, denominator, zero_division, name, reason):
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    empty = denominator == 0
    result = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=~empty)
    if empty.any():
        if zero_division == "warn":
            warnings.warn(
                f"{name} is undefined ({reason}) and was set to 0.0; pass zero_division=0, 1 "
                "or np.nan to choose the value and silence this warning.",
                UndefinedMetricWarning,
                stacklevel=4,
            )
            result[empty] = 0.0
        else:
            result[empty] = zero_division
    return result


def _metric(name, summary):
    @validate_params(_PARAMS, prefer_skip_nested_validation=True)
    def metric(y_true, y_pred, *, labels=None, pos_label=1, average="binary", zero_division="warn"):
        return _confusion_metric(name, y_true, y_pred, labels, pos_label, average, zero_division)

    metric.__name__ = f"{name}_score"
    metric.__qualname__ = metric.__name__
    metric.__module__ = "skfusion.metrics"  # its public home (pickled scorers name it)
    metric.__doc__ = f"""{summary}

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    labels : array-like, default=None
        Classes to score with ``average != "binary"`` (default: all labels present).
    pos_label : str, int or bool, default=1
        The positive class when ``average="binary"``.
    average : {{"binary", "micro", "macro", "weighted"}} or None, default="binary"
        "binary": the score of ``pos_label``. Otherwise one-vs-rest per class, then: None
        returns the per-class array; "macro" their mean; "weighted" their mean weighted by
        each class's support; "micro" the score of the pooled confusion counts.
    zero_division : "warn", 0.0, 1.0 or np.nan, default="warn"
        Value when the score's denominator is zero; "warn" returns 0.0 and warns.

    Returns
    -------
    score : float, or ndarray of shape (n_labels,) with ``average=None``
    """
    return metric


sensitivity_score = _metric(
    "sensitivity", "Sensitivity (true positive rate, recall): TP / (TP + FN)."
)
specificity_score = _metric("specificity", "Specificity (true negative rate): TN / (TN + FP).")
ppv_score = _metric("ppv", "Positive predictive value (precision): TP / (TP + FP).")
npv_score = _metric("npv", "Negative predictive value: TN / (TN + FN).")
