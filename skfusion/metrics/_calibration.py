"""Calibration of predicted probabilities (binary tasks): the calibration slope and
intercept, the expected calibration error over equal-mass bins, the Brier score, and the
reliability diagram, as TRIPOD+AI asks a clinical prediction model to report them."""

import os
from numbers import Integral, Real

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, logit
from scipy.stats import norm
from sklearn.utils._param_validation import Interval, validate_params

from ._bootstrap import bootstrap_report
from ._subject import infer_pos_label

__all__ = [
    "calibration_report",
    "expected_calibration_error",
    "plot_reliability",
    "reliability_curve",
]

#: Probabilities are clipped to [EPS, 1 - EPS] before their logit is taken.
EPS = 1e-6

_PARAMS = {
    "y_true": ["array-like"],
    "y_score": ["array-like"],
    "pos_label": [str, Integral, bool, np.bool_, None],
    "n_bins": [Interval(Integral, 1, None, closed="left")],
}


def _check(y_true, y_score, pos_label):
    """``(events, probabilities)`` as 0/1 and float arrays, or a ValueError saying why."""
    y_true = np.asarray(y_true)
    scores = np.asarray(y_score, dtype=float)
    if scores.ndim == 2 and scores.shape[1] == 2:
        raise ValueError(
            "y_score has two columns; pass the positive class's probability, e.g. "
            "model.predict_proba(X)[:, list(model.classes_).index(pos_label)]."
        )
    if scores.ndim != 1 or len(scores) != len(y_true) or len(y_true) == 0:
        raise ValueError(
            f"y_true and y_score must be 1-D of the same, non-zero length; got shapes "
            f"{y_true.shape} and {scores.shape}."
        )
    if not np.isfinite(scores).all() or scores.min() < 0 or scores.max() > 1:
        raise ValueError(
            f"y_score must hold probabilities in [0, 1]; got values from {np.nanmin(scores):g} "
            f"to {np.nanmax(scores):g}{' and NaN' if np.isnan(scores).any() else ''}. Pass "
            "predict_proba's column, not decision_function."
        )
    labels = np.unique(y_true)
    if len(labels) > 2:
        raise ValueError(
            f"calibration is reported for binary tasks; y_true has {len(labels)} classes. "
            "Report one class against the rest: y_true == label with that class's "
            "probability."
        )
    if pos_label is None:
        pos_label = infer_pos_label(labels)
    elif pos_label not in set(labels.tolist()) and len(labels) == 2:
        raise ValueError(
            f"pos_label={pos_label!r} is not among the labels {labels.tolist()} of y_true."
        )
    return (y_true == pos_label).astype(float), scores


def _equal_mass_bins(scores, n_bins):
    """Index arrays of ``n_bins`` bins of (nearly) equal size, by increasing probability."""
    order = np.argsort(scores, kind="stable")
    return [part for part in np.array_split(order, min(n_bins, len(scores))) if len(part)]


def _calibration(events, scores, n_bins, start=None):
    """The four calibration figures of one sample (NaN where undefined). ``start``: the
    (intercept, slope) and intercept that Newton's method starts from (a bootstrap starts
    each resample from the whole sample's optimum: two or three steps instead of six)."""
    values = {"Brier": float(np.mean((scores - events) ** 2))}
    values["ECE"] = _ece(events, scores, n_bins)
    if events.min() == events.max():  # one class: no slope, no intercept
        values["Calibration slope"] = values["Calibration intercept"] = np.nan
        return values
    logits = logit(np.clip(scores, EPS, 1 - EPS))
    start = start or {}
    # The slope: an unpenalised logistic regression of the outcome on the predicted logit.
    # The intercept: calibration-in-the-large, the slope held at 1.
    slope = _newton(events, logits, start.get("slope", np.zeros(2)))
    shift = _newton(events, logits, start.get("shift", np.zeros(1)))
    values["Calibration slope"] = float(slope[1])
    values["Calibration intercept"] = float(shift[0])
    return values


def _newton(events, logits, weights):
    """The maximum-likelihood (intercept, slope) of ``events`` on ``logits`` (given two
    starting weights), or the intercept with the slope held at 1 (given one), by Newton's
    method with step halving (each step lowers the likelihood's loss): exact to 1e-10 in
    a few steps. Where it does not settle (outcomes separated by the logits: no finite
    optimum), the bounded search of the clipped likelihood that earlier versions used
    answers."""
    slope = len(weights) == 2
    design = np.column_stack([np.ones_like(logits), logits]) if slope else None

    def offsets(w):
        return design @ w if slope else w[0] + logits

    def loss(offset):  # negative log-likelihood, computed stably
        return float(np.sum(np.logaddexp(0, offset) - events * offset))

    weights = np.asarray(weights, dtype=float)
    offset = offsets(weights)
    current = loss(offset)
    for _ in range(100):
        p = expit(offset)
        curvature = p * (1 - p)
        if slope:
            hessian = design.T @ (design * curvature[:, None])
            try:
                step = np.linalg.solve(hessian, design.T @ (p - events))
            except np.linalg.LinAlgError:
                break
        else:
            if curvature.sum() <= 1e-12:
                break
            step = np.array([(p - events).sum() / curvature.sum()])
        for _ in range(40):  # halve the step until it lowers the loss
            trial_offset = offsets(weights - step)
            trial = loss(trial_offset)
            if trial <= current:
                break
            step = step / 2
        else:
            break
        weights, offset, current = weights - step, trial_offset, trial
        if not np.all(np.isfinite(weights)) or np.max(np.abs(weights)) > 1e3:
            break
        if np.max(np.abs(step)) < 1e-10:
            return weights
    fallback = _bounded(events, logits, slope)
    return np.array([np.nan, fallback]) if slope else np.array([fallback])


def _bounded(events, logits, slope):
    """The clipped-likelihood search of :func:`_newton` for outcomes without a finite
    optimum: BFGS from slope 1 for the slope, a bounded search in [-20, 20] for the
    intercept."""

    def loss(intercept, slope_):  # mean negative log-likelihood of the outcomes
        p = np.clip(expit(intercept + slope_ * logits), EPS, 1 - EPS)
        return -np.mean(events * np.log(p) + (1 - events) * np.log(1 - p))

    if slope:
        return float(minimize(lambda w: loss(*w), x0=np.array([0.0, 1.0]), method="BFGS").x[1])
    return float(minimize_scalar(lambda a: loss(a, 1.0), bounds=(-20, 20), method="bounded").x)


def _ece(events, scores, n_bins, debiased=False):
    """Plug-in or debiased expected calibration error over equal-mass bins."""
    if not debiased:  # each bin's |sum of gaps|, in one pass (a bootstrap calls it often)
        order = np.argsort(scores, kind="stable")
        sizes = [len(part) for part in np.array_split(order, min(n_bins, len(scores)))]
        starts = np.cumsum([0] + sizes[:-1])
        gaps = np.add.reduceat((scores - events)[order], starts)
        return float(np.abs(gaps).sum() / len(scores))
    total = 0.0
    for b in _equal_mass_bins(scores, n_bins):
        gap = scores[b].mean() - events[b].mean()
        rate = events[b].mean()
        spread = np.sqrt(rate * (1 - rate) / len(b))
        # E|gap + spread * Z|, Z standard normal: the plug-in's expected value were the
        # bin's observed rate the truth; twice the gap minus it removes the bias.
        expected = (
            abs(gap)
            if spread == 0
            else (
                spread * np.sqrt(2 / np.pi) * np.exp(-(gap**2) / (2 * spread**2))
                + gap * (1 - 2 * norm.cdf(-gap / spread))
            )
        )
        total += len(b) * (2 * abs(gap) - expected)
    return float(total / len(scores))


@validate_params({**_PARAMS, "debiased": ["boolean"]}, prefer_skip_nested_validation=True)
def expected_calibration_error(y_true, y_score, *, pos_label=None, n_bins=15, debiased=False):
    """Expected calibration error over equal-mass bins, plug-in or debiased.

    The plug-in estimate (``debiased=False``, the "ECE" of :func:`calibration_report`) is
    the mean absolute gap between predicted probability and observed event rate over the
    bins, weighted by their size. It is biased upward: a bin's observed rate carries
    sampling noise of about ``sqrt(rate * (1 - rate) / n_bin)``, so even perfectly
    calibrated probabilities score above 0, the more so the fewer samples per bin, and a
    bootstrap of it lies above the point estimate. ``debiased=True`` subtracts that bias
    with the normal approximation of Kumar, Liang and Ma (2019, "Verified uncertainty
    calibration", NeurIPS): per bin ``2 |gap| - E|gap + s Z|`` with ``s`` the bin rate's
    standard error. Where the gaps are large against that noise it equals the plug-in;
    where the probabilities are calibrated it removes part of the bias, not all of it (on
    calibrated simulated probabilities, 20 to 200 samples per bin: 0.071 -> 0.041,
    0.041 -> 0.025, 0.023 -> 0.013). Compare models on the same patients with either.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels of a binary task.
    y_score : array-like of shape (n_samples,)
        Predicted probability of ``pos_label``.
    pos_label : label, default=None
        The positive class; inferred only where unambiguous.
    n_bins : int, default=15
        Equal-mass bins, ordered by predicted probability.
    debiased : bool, default=False
        Subtract the sampling bias of the bins' observed rates.

    Returns
    -------
    ece : float

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion.metrics import expected_calibration_error
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=600)
    >>> y = rng.uniform(size=600) < p  # calibrated by construction
    >>> plug_in = expected_calibration_error(y, p)
    >>> debiased = expected_calibration_error(y, p, debiased=True)
    >>> bool(debiased < plug_in)
    True
    """
    events, scores = _check(y_true, y_score, pos_label)
    return _ece(events, scores, n_bins, debiased)


@validate_params(
    {
        **_PARAMS,
        "groups": ["array-like", None],
        "n_bootstraps": [Interval(Integral, 0, None, closed="left")],
        "confidence_level": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def calibration_report(
    y_true,
    y_score,
    *,
    pos_label=None,
    n_bins=15,
    groups=None,
    n_bootstraps=1000,
    confidence_level=0.95,
    random_state=0,
):
    """Calibration slope and intercept, expected calibration error and Brier score, with
    subject-bootstrap intervals.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels of a binary task.
    y_score : array-like of shape (n_samples,)
        Predicted probability of ``pos_label`` (a ``predict_proba`` column).
    pos_label : label, default=None
        The positive class; inferred only where unambiguous (see
        :func:`infer_pos_label`), so labels such as "AD"/"NC" need it.
    n_bins : int, default=15
        Bins of the expected calibration error: equal-mass (each holds about the same
        number of samples, ordered by predicted probability).
    groups : array-like of shape (n_samples,), default=None
        Subject of each sample; the bootstrap then resamples whole subjects.
    n_bootstraps : int, default=1000
        Bootstrap resamples for the intervals (0: no intervals).
    confidence_level : float, default=0.95
        Coverage of the percentile bootstrap intervals.
    random_state : int, RandomState instance or None, default=0
        Seeds the bootstrap.

    Returns
    -------
    report : pandas.DataFrame
        Rows "Calibration slope" (of the logistic regression of the outcome on the
        predicted logit: 1 is ideal, below 1 means too extreme predictions), "Calibration
        intercept" (calibration-in-the-large: the shift of the predicted logits, with the
        slope held at 1, that matches the observed event rate; 0 is ideal, above 0 means
        predictions too low), "ECE" (mean absolute gap between predicted probability and
        observed event rate over the bins, weighted by their size) and "Brier" (mean
        squared error of the probabilities); columns ``value``, ``ci_low``, ``ci_high``.
        Slope and intercept are NaN when ``y_true`` holds one class.

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion.metrics import calibration_report
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=5000)
    >>> y = rng.uniform(size=5000) < p  # calibrated by construction
    >>> report = calibration_report(y, p, n_bootstraps=0)
    >>> bool(abs(report.loc["Calibration slope", "value"] - 1) < 0.1)
    True
    """
    events, scores = _check(y_true, y_score, pos_label)
    start = {}  # the whole sample's optimum starts Newton's method on each resample
    if events.min() != events.max():
        logits = logit(np.clip(scores, EPS, 1 - EPS))
        start = {
            name: weights
            for name, weights in (
                ("slope", _newton(events, logits, np.zeros(2))),
                ("shift", _newton(events, logits, np.zeros(1))),
            )
            if np.isfinite(weights).all()
        }
    report = bootstrap_report(
        lambda index: _calibration(events[index], scores[index], n_bins, start),
        len(events),
        groups=groups,
        n_bootstraps=n_bootstraps,
        confidence_level=confidence_level,
        random_state=random_state,
    )
    return report.loc[["Calibration slope", "Calibration intercept", "ECE", "Brier"]]


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def reliability_curve(y_true, y_score, *, pos_label=None, n_bins=15):
    """The points of a reliability diagram over equal-mass bins.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels of a binary task.
    y_score : array-like of shape (n_samples,)
        Predicted probability of ``pos_label``.
    pos_label : label, default=None
        The positive class (see :func:`calibration_report`).
    n_bins : int, default=15
        Equal-mass bins.

    Returns
    -------
    predicted, observed, counts : ndarray of shape (n_bins,)
        Per bin, the mean predicted probability, the observed event rate and the number
        of samples (fewer bins when there are fewer samples).
    """
    events, scores = _check(y_true, y_score, pos_label)
    bins = _equal_mass_bins(scores, n_bins)
    return (
        np.array([scores[b].mean() for b in bins]),
        np.array([events[b].mean() for b in bins]),
        np.array([len(b) for b in bins]),
    )


@validate_params(
    {**_PARAMS, "path": [str, os.PathLike, None], "title": [str, None]},
    prefer_skip_nested_validation=True,
)
def plot_reliability(y_true, y_score, *, pos_label=None, n_bins=15, path=None, title=None):
    """A reliability diagram (observed event rate against mean predicted probability per
    equal-mass bin, with the diagonal of perfect calibration and a histogram of the
    predictions), with the slope, intercept and ECE in the legend.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels of a binary task.
    y_score : array-like of shape (n_samples,)
        Predicted probability of ``pos_label``.
    pos_label : label, default=None
        The positive class (see :func:`calibration_report`).
    n_bins : int, default=15
        Equal-mass bins.
    path : str or path-like, default=None
        Where to save the figure (PNG); the figure is returned either way.
    title : str, default=None
        The figure's title.

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    predicted, observed, _ = reliability_curve(y_true, y_score, pos_label=pos_label, n_bins=n_bins)
    values = calibration_report(
        y_true, y_score, pos_label=pos_label, n_bins=n_bins, n_bootstraps=0
    )["value"]
    _, scores = _check(y_true, y_score, pos_label)
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    top.plot([0, 1], [0, 1], "k:", lw=1, label="perfect calibration")
    top.plot(
        predicted,
        observed,
        "o-",
        label=(
            f"slope {values['Calibration slope']:.2f}, intercept "
            f"{values['Calibration intercept']:+.2f}, ECE {values['ECE']:.3f}"
        ),
    )
    top.set_ylabel("observed event rate")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.legend(fontsize=8, loc="upper left")
    if title:
        top.set_title(title)
    bottom.hist(scores, bins=20, range=(0, 1), color="0.5")
    bottom.set_xlabel("predicted probability")
    bottom.set_ylabel("samples")
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
        plt.close(figure)
    return figure
