"""The binary diagnostic metrics of one (re)sample in plain numpy: the same values as
scikit-learn's accuracy, balanced accuracy, confusion-matrix ratios and ROC AUC, without
their per-call input checks, which dominate a 1,000-resample subject bootstrap (a model
report's intervals took minutes through scikit-learn and take well under a second here;
``tests/metrics/test_binary.py`` checks every value against scikit-learn)."""

import numpy as np
from scipy.stats import rankdata

__all__ = ["binary_values", "roc_auc"]


def roc_auc(positive, scores):
    """ROC AUC of ``scores`` for the boolean ``positive`` (NaN with one class): the
    Mann-Whitney statistic with tied scores counted half, which is the area under the
    trapezoidal ROC curve that scikit-learn computes."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return np.nan
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def binary_values(truth, predicted, scores=None):
    """ACC, sensitivity, specificity, PPV, NPV, balanced accuracy and (with ``scores``) AUC
    of boolean arrays ``truth`` and ``predicted`` (True: the positive class). Undefined
    ratios are NaN; balanced accuracy averages the recall of the classes present in
    ``truth``, as scikit-learn's does."""
    tp = int(np.count_nonzero(truth & predicted))
    fn = int(np.count_nonzero(truth)) - tp
    fp = int(np.count_nonzero(predicted)) - tp
    tn = len(truth) - tp - fn - fp

    def ratio(numerator, denominator):
        return numerator / denominator if denominator else np.nan

    values = {
        "ACC": (tp + tn) / len(truth),
        "Sensitivity": ratio(tp, tp + fn),
        "Specificity": ratio(tn, tn + fp),
        "PPV": ratio(tp, tp + fp),
        "NPV": ratio(tn, tn + fn),
    }
    recalls = [r for r in (values["Sensitivity"], values["Specificity"]) if not np.isnan(r)]
    values["Balanced ACC"] = float(np.mean(recalls))
    if scores is not None:
        values["AUC"] = roc_auc(truth, scores)
    return values
