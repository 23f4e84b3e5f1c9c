"""Paired comparisons of the benchmarks: Nadeau and Bengio's corrected resampled t-interval,
the t interval over independent training draws, and the differences of every method against
chosen references over (seed, fold) pairs."""

import numpy as np
from scipy import stats


def corrected_interval(diff, test_share=0.2):
    """Mean and Nadeau-Bengio corrected 95% interval of paired (seed, fold) differences."""
    diff = np.asarray(diff, dtype=float)
    j = len(diff)
    variance = diff.var(ddof=1) * (1 / j + test_share / (1 - test_share))
    half = stats.t.ppf(0.975, j - 1) * np.sqrt(variance)
    return diff.mean(), diff.mean() - half, diff.mean() + half


def draws_interval(values):
    """Mean and 95% t interval over independent training draws (no correction: the draws
    share no patient; with one draw the bounds are NaN)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def paired_rows(task, part, metric, references):
    """Rows of the differences of every method of ``part`` (one task's (seed, fold, method)
    results) against each reference in ``references`` (label -> method)."""
    keyed = part.set_index(["seed", "fold", "method"])[metric].unstack("method")
    rows = []
    for label, ref in references.items():
        for method in keyed.columns:
            if method == ref:
                continue
            diff = (keyed[method] - keyed[ref]).dropna()
            if len(diff) < 2:
                continue
            mean, low, high = corrected_interval(diff)
            rows.append(
                {
                    "task": task,
                    "method": method,
                    "reference": label,
                    "reference_method": ref,
                    "metric": metric,
                    "difference": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "pairs": len(diff),
                }
            )
    return rows
