"""Diagnostic metrics from the confusion matrix: sensitivity, specificity, PPV, NPV."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = ["npv_score", "ppv_score", "sensitivity_score", "specificity_score"]

_PARAMS = {
    "y_true": ["array-like"],
    "y_pred": ["array-like"],
    "pos_label": [str, Integral, bool, np.bool_],
    "zero_division": [StrOptions({"nan"}), Interval(Real, 0, 1, closed="both")],
}


def _binary_counts(y_true, y_pred, pos_label):
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    labels = np.unique(np.concatenate([y_true, y_pred]))
    if len(labels) > 2:
        raise ValueError(
            f"These metrics are binary; y_true and y_pred have {len(labels)} labels "
            f"{labels.tolist()}. Pass binary labels."
        )
    if pos_label not in set(labels.tolist()) and len(labels) == 2:
        raise ValueError(
            f"pos_label={pos_label!r} is not a label of y_true or y_pred ({labels.tolist()}); "
            "pass pos_label= one of them."
        )
    positive_true = y_true == pos_label
    positive_pred = y_pred == pos_label
    tp = int(np.sum(positive_true & positive_pred))
    fn = int(np.sum(positive_true & ~positive_pred))
    fp = int(np.sum(~positive_true & positive_pred))
    tn = int(np.sum(~positive_true & ~positive_pred))
    return tp, fn, fp, tn


def _ratio(numerator, denominator, zero_division):
    if denominator == 0:
        return float("nan") if zero_division == "nan" else float(zero_division)
    return numerator / denominator


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def sensitivity_score(y_true, y_pred, *, pos_label=1, zero_division="nan"):
    """Sensitivity (recall of the positive class): TP / (TP + FN).

    ``zero_division`` is returned when there is no positive sample ("nan" by default).

    Examples
    --------
    >>> from skfusion.metrics import sensitivity_score
    >>> sensitivity_score(["AD", "AD", "NC"], ["AD", "NC", "NC"], pos_label="AD")
    0.5
    """
    tp, fn, _, _ = _binary_counts(y_true, y_pred, pos_label)
    return _ratio(tp, tp + fn, zero_division)


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def specificity_score(y_true, y_pred, *, pos_label=1, zero_division="nan"):
    """Specificity (recall of the negative class): TN / (TN + FP)."""
    _, _, fp, tn = _binary_counts(y_true, y_pred, pos_label)
    return _ratio(tn, tn + fp, zero_division)


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def ppv_score(y_true, y_pred, *, pos_label=1, zero_division="nan"):
    """Positive predictive value (precision): TP / (TP + FP)."""
    tp, _, fp, _ = _binary_counts(y_true, y_pred, pos_label)
    return _ratio(tp, tp + fp, zero_division)


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def npv_score(y_true, y_pred, *, pos_label=1, zero_division="nan"):
    """Negative predictive value: TN / (TN + FN)."""
    _, fn, _, tn = _binary_counts(y_true, y_pred, pos_label)
    return _ratio(tn, tn + fn, zero_division)
