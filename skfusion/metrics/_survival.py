"""Metrics for time-to-event predictions: Harrell's concordance index and the
inverse-probability-of-censoring weighted Brier score (Graf et al., 1999), integrated over
time. Re-exported by :mod:`skfusion.metrics`."""

import numpy as np

from .._base.inputs.validation import check_survival_target
from .._tasks.concordance import harrell_c

__all__ = ["brier_score", "concordance_index", "integrated_brier_score"]


def concordance_index(y_true, risk):
    """Harrell's concordance index of ``risk`` (higher = earlier event) against ``y_true``, a
    structured (event, time) array (:func:`skfusion.survival_target`). Computed by lifelines
    when installed.

    Parameters
    ----------
    y_true : structured array of shape (n_samples,)
        Observed (event, time) pairs.
    risk : array-like of shape (n_samples,)
        Predicted risk scores (e.g. a survival model's ``predict``).

    Examples
    --------
    >>> from skfusion import survival_target
    >>> from skfusion.metrics import concordance_index
    >>> y = survival_target([True, True, False], [1.0, 2.0, 3.0])
    >>> concordance_index(y, [3.0, 2.0, 1.0])
    1.0
    """
    event, time = check_survival_target(y_true, n_samples=len(y_true), argument="y_true")
    risk = np.asarray(risk, dtype=np.float64)
    if risk.shape != time.shape:
        raise ValueError(
            f"risk must have one value per sample ({len(time)}); got shape {risk.shape}."
        )
    return harrell_c(time, event, risk)


def _censoring_survival(time, event):
    """Kaplan-Meier estimate of the censoring distribution G: (times, G after each time)."""
    times, start = np.unique(np.sort(time), return_index=True)
    order = np.argsort(time, kind="stable")
    censored = np.add.reduceat((~event[order]).astype(np.float64), start)
    at_risk = len(time) - start
    return times, np.cumprod(1 - censored / at_risk)


def _g_at(times, g, t, left):
    index = np.searchsorted(times, t, side="left" if left else "right") - 1
    return np.where(index >= 0, g[np.clip(index, 0, None)], 1.0)


def brier_score(y_train, y_test, survival, times):
    """Time-dependent Brier score of predicted survival probabilities, weighted by the inverse
    probability of censoring (Graf et al., 1999).

    Parameters
    ----------
    y_train : structured (event, time) array
        Training targets; their censoring times give the Kaplan-Meier weights.
    y_test : structured (event, time) array of shape (n_samples,)
        Targets the predictions are scored against.
    survival : array of shape (n_samples, n_times)
        Predicted S(t | x) at ``times`` (e.g. ``predict_survival_function(X,
        return_array=True)`` evaluated at ``times``).
    times : array of shape (n_times,)
        Time points, inside the follow-up of ``y_test``.

    Returns
    -------
    times, scores : ndarrays of shape (n_times,)
    """
    train_event, train_time = check_survival_target(
        y_train, n_samples=len(y_train), argument="y_train"
    )
    event, time = check_survival_target(y_test, n_samples=len(y_test), argument="y_test")
    times = np.asarray(times, dtype=np.float64)
    survival = np.asarray(survival, dtype=np.float64)
    if survival.shape != (len(time), len(times)):
        raise ValueError(
            f"survival must have shape (n_samples, n_times) = "
            f"({len(time)}, {len(times)}); got {survival.shape}."
        )
    g_times, g = _censoring_survival(train_time, train_event)
    g_event = np.clip(_g_at(g_times, g, time, left=True), 1e-12, None)  # G(T_i-)
    g_now = np.clip(_g_at(g_times, g, times, left=False), 1e-12, None)  # G(t)
    died = (time[:, None] <= times[None, :]) & event[:, None]
    alive = time[:, None] > times[None, :]
    scores = (
        survival**2 * died / g_event[:, None] + (1 - survival) ** 2 * alive / g_now[None, :]
    ).mean(axis=0)
    return times, scores


def integrated_brier_score(y_train, y_test, survival, times):
    """The Brier score integrated over ``times`` (trapezoidal rule) and divided by their
    range: 0 is perfect, 0.25 is what predicting 0.5 everywhere scores without censoring.

    Parameters
    ----------
    y_train : structured array
        The training (event, time) pairs, for the censoring distribution (inverse
        probability of censoring weights).
    y_test : structured array of shape (n_samples,)
        The (event, time) pairs scored.
    survival : array-like of shape (n_samples, n_times)
        Predicted probability of each test sample surviving past each of ``times``.
    times : array-like of shape (n_times,)
        Increasing times within the follow-up of ``y_test``.

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion import survival_target
    >>> from skfusion.metrics import integrated_brier_score
    >>> y = survival_target([True, True, True, True], [1.0, 2.0, 3.0, 4.0])
    >>> times = np.array([1.5, 2.5, 3.5])
    >>> perfect = (y["time"][:, None] > times).astype(float)
    >>> integrated_brier_score(y, y, perfect, times)
    0.0
    """
    times, scores = brier_score(y_train, y_test, survival, times)
    if len(times) < 2:
        raise ValueError("integrated_brier_score needs at least 2 time points.")
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has only trapz
    return float(trapezoid(scores, times) / (times[-1] - times[0]))
