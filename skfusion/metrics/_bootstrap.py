"""Metrics with subject-bootstrap intervals: the point value on every sample, and percentile
intervals over resamples of whole subjects (of samples when no subjects are given)."""

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

__all__ = ["bootstrap_report"]


def bootstrap_report(
    compute, n_samples, *, groups=None, n_bootstraps=1000, confidence_level=0.95, random_state=0
):
    """``compute(index)`` (a dict of metric -> value for the samples at ``index``) on every
    sample, with intervals over ``n_bootstraps`` subject resamples (0: none).

    Returns a DataFrame with one row per metric and the columns ``value``, ``ci_low`` and
    ``ci_high``; a metric that is NaN in a resample is left out of that resample's interval.
    """
    report = pd.DataFrame({"value": compute(np.arange(n_samples))}).astype(float)
    report["ci_low"] = np.nan
    report["ci_high"] = np.nan
    if not n_bootstraps:
        return report
    rng = check_random_state(random_state)
    units = np.arange(n_samples) if groups is None else np.asarray(groups)
    if len(units) != n_samples:
        raise ValueError(f"groups has {len(units)} entries but y_true has {n_samples}.")
    unique_units, members = np.unique(units, return_inverse=True)
    by_unit = [np.flatnonzero(members == u) for u in range(len(unique_units))]
    draws = []
    for _ in range(n_bootstraps):
        chosen = rng.randint(len(unique_units), size=len(unique_units))
        draws.append(compute(np.concatenate([by_unit[u] for u in chosen])))
    draws = pd.DataFrame(draws)
    alpha = (1 - confidence_level) / 2
    report["ci_low"] = draws.quantile(alpha).reindex(report.index)
    report["ci_high"] = draws.quantile(1 - alpha).reindex(report.index)
    return report
