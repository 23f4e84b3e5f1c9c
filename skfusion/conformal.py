"""Conformal prediction with whole subjects: prediction sets for classifiers and intervals for
regressors, with marginal coverage guaranteed on exchangeable subjects.

Split conformal prediction (Vovk et al. 2005; Lei et al. 2018): the wrapped estimator is
fitted on part of the training subjects, and its errors on the other part (the calibration
subjects) fix how wide a set or an interval must be. Where a subject has several rows, the
calibration keeps **one score per subject, the largest of its rows**: subjects, not rows,
are exchangeable, and the maximum makes the guarantee hold for all rows of a new subject at
once (a conservative choice; with one row per subject it is the textbook method). MAPIE and
crepes calibrate over rows, so this glue is written here; it is short.

Guarantee (split conformal, exchangeable subjects): for a new subject, the probability that
its true label is in the set (its true value in the interval) for every one of its rows is
at least ``1 - alpha``, and below ``1 - alpha + 1 / (n_calibration_subjects + 1)`` when
scores do not tie. It is marginal: averaged over subjects, not per subgroup.
"""

import math
import warnings
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.model_selection import GroupShuffleSplit
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base.core.fitting import fit_with_groups
from ._input import FusionInput, as_fusion_input, subjects_of

__all__ = ["ConformalClassifier", "ConformalRegressor", "coverage"]


def _take(X, rows):
    return X[rows] if isinstance(X, FusionInput) else _safe_indexing(X, rows)


class _SplitConformal(BaseEstimator):
    """Shared by both: the subject split, the fit, the per-subject scores and the quantile."""

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"])],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "calibration_size": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    }

    def _fit(self, X, y, groups):
        if isinstance(X, tuple):
            X = as_fusion_input(X)
        y = np.asarray(y)
        subjects = subjects_of(X, groups)
        subjects = np.arange(len(y)) if subjects is None else np.asarray(subjects)
        if len(subjects) != len(y):
            raise ValueError(
                f"groups must give one subject per sample ({len(y)}); got {len(subjects)}."
            )
        n_subjects = len(np.unique(subjects))
        n_calibration = math.floor(self.calibration_size * n_subjects)
        if n_calibration < 1 or n_subjects - n_calibration < 2:
            raise ValueError(
                f"calibration_size={self.calibration_size} leaves {n_calibration} of "
                f"{n_subjects} subjects for calibration and {n_subjects - n_calibration} for "
                "fitting; pass more subjects or another calibration_size."
            )
        split = GroupShuffleSplit(
            n_splits=1, test_size=n_calibration, random_state=self.random_state
        )
        train, calibration = next(split.split(np.zeros(len(y)), y, subjects))
        self.estimator_ = fit_with_groups(
            clone(self.estimator), _take(X, train), y[train], subjects[train]
        )
        scores = self._scores(_take(X, calibration), y[calibration])
        # One score per calibration subject: the largest of its rows.
        order = np.unique(subjects[calibration], return_inverse=True)[1].reshape(-1)
        per_subject = np.full(order.max() + 1, -np.inf)
        np.maximum.at(per_subject, order, scores)
        self.calibration_scores_ = np.sort(per_subject)
        self.n_calibration_subjects_ = len(per_subject)
        self.calibration_indices_ = calibration
        self.quantile_ = self._quantile(self.alpha)
        return self

    def _quantile(self, alpha):
        """The ceil((n + 1)(1 - alpha))-th smallest calibration score (inf when that rank
        exceeds n: too few calibration subjects for this alpha)."""
        n = len(self.calibration_scores_)
        rank = math.ceil((n + 1) * (1 - alpha))
        if rank > n:
            warnings.warn(
                f"{n} calibration subjects cannot guarantee coverage {1 - alpha:g}: it needs "
                f"at least {math.ceil(1 / alpha) - 1}. Every set holds every class and every "
                "interval is infinite; calibrate on more subjects or raise alpha.",
                UserWarning,
                stacklevel=3,
            )
            return np.inf
        return float(self.calibration_scores_[rank - 1])

    def _alpha(self, alpha):
        if alpha is None:
            return self.quantile_
        if not (isinstance(alpha, Real) and 0 < alpha < 1):
            raise ValueError(f"alpha must be a number in (0, 1); got {alpha!r}.")
        return self._quantile(alpha)

    def predict(self, X):
        """The wrapped estimator's predictions (fitted on the training part)."""
        check_is_fitted(self)
        return self.estimator_.predict(X)


class ConformalClassifier(ClassifierMixin, _SplitConformal):
    """Prediction sets with guaranteed coverage around any fitted-probability classifier.

    Parameters
    ----------
    estimator : classifier
        Any classifier with ``predict_proba`` (a skfusion estimator, a pipeline ending in
        one); cloned and fitted on the training subjects.
    alpha : float, default=0.1
        Miscoverage: sets hold the true label with probability at least ``1 - alpha``.
    method : {"lac", "aps"}, default="lac"
        The score. "lac": one minus the probability of the true class (the smallest sets on
        average; Sadinle et al. 2019). "aps": the probability mass of the classes ranked
        above the true one plus a uniform share of its own (sets that grow where the model
        is unsure; Romano et al. 2020, randomised as there: without it, a binary task's sets
        would nearly always hold both classes). Its draws come from ``random_state``, so
        ``predict_set`` returns the same sets on every call.
    calibration_size : float, default=0.25
        Share of the subjects held out to calibrate (whole subjects).
    random_state : int, RandomState instance or None, default=None
        Seeds the subject split.

    Attributes
    ----------
    estimator_ : classifier
        The wrapped classifier fitted on the training subjects.
    classes_ : ndarray
        Its classes, the columns of :meth:`predict_set`.
    calibration_scores_ : ndarray
        One score per calibration subject, sorted.
    n_calibration_subjects_ : int
        Subjects the quantile rests on.
    calibration_indices_ : ndarray
        Positions of the calibration samples in ``X``.
    quantile_ : float
        The score threshold for ``alpha``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skfusion.conformal import ConformalClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(400, 2)); y = (X[:, 0] + rng.normal(size=400) > 0).astype(int)
    >>> model = ConformalClassifier(LogisticRegression(), alpha=0.1, random_state=0)
    >>> sets = model.fit(X[:300], y[:300]).predict_set(X[300:])
    >>> sets.shape
    (100, 2)
    """

    _parameter_constraints = {
        **_SplitConformal._parameter_constraints,
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "method": [StrOptions({"lac", "aps"})],
    }

    def __init__(
        self, estimator, *, alpha=0.1, method="lac", calibration_size=0.25, random_state=None
    ):
        self.estimator = estimator
        self.alpha = alpha
        self.method = method
        self.calibration_size = calibration_size
        self.random_state = random_state

    def fit(self, X, y, groups=None):
        """Fit the classifier on the training subjects and calibrate on the others.

        Parameters
        ----------
        X : FusionInput, tuple or array-like
            Training samples.
        y : array-like of shape (n_samples,)
            Labels.
        groups : array-like of shape (n_samples,), default=None
            Subject of each sample (default: the subjects ``X`` carries, else one per row).

        Returns
        -------
        self : object
        """
        self._validate_params()
        return self._fit(X, y, groups)

    @property
    def classes_(self):
        return self.estimator_.classes_

    def _scores(self, X, y):
        proba = self.estimator_.predict_proba(X)
        classes = list(self.estimator_.classes_)
        unknown = sorted({label for label in y.tolist() if label not in classes}, key=str)
        if unknown:
            raise ValueError(
                f"the calibration subjects have label(s) {unknown} that the "
                "training subjects lack; every class needs training subjects."
            )
        true = np.array([classes.index(label) for label in y.tolist()])
        return self._class_scores(proba, "calibration")[np.arange(len(y)), true]

    def _class_scores(self, proba, stage):
        """The score each class would have as the true one: (n_samples, n_classes)."""
        if self.method == "lac":
            return 1.0 - proba
        # APS, randomised: the mass of the classes ranked above, plus a uniform share of
        # the class's own probability (one draw per sample, seeded by random_state and the
        # stage, so predict_set gives the same sets on every call).
        seed = check_random_state(self.random_state).randint(2**31 - 1)
        u = np.random.default_rng([seed, 0 if stage == "calibration" else 1]).uniform(
            size=(len(proba), 1)
        )
        order = np.argsort(-proba, axis=1, kind="stable")
        ranked = np.take_along_axis(proba, order, axis=1)
        ranked_scores = np.cumsum(ranked, axis=1) - ranked + u * ranked
        scores = np.empty_like(proba)
        np.put_along_axis(scores, order, ranked_scores, axis=1)
        return scores

    def predict_proba(self, X):
        """The wrapped classifier's probabilities (not changed by calibration)."""
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    def predict_set(self, X, *, alpha=None):
        """Prediction sets: a boolean array (n_samples, n_classes), True where the class is
        in the sample's set (columns in ``classes_`` order).

        Parameters
        ----------
        X : FusionInput, tuple or array-like
            Samples.
        alpha : float, default=None
            Another miscoverage than the fitted ``alpha`` (same calibration).

        Returns
        -------
        sets : ndarray of bool, shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        threshold = self._alpha(alpha)
        return self._class_scores(self.estimator_.predict_proba(X), "predict") <= threshold


class ConformalRegressor(RegressorMixin, _SplitConformal):
    """Prediction intervals with guaranteed coverage around any regressor.

    The score is the absolute residual on the calibration subjects, so every interval is
    the prediction plus or minus one width (split conformal regression, Lei et al. 2018).

    Parameters
    ----------
    estimator : regressor
        Any single-output regressor (a skfusion estimator, a pipeline ending in one);
        cloned and fitted on the training subjects.
    alpha : float, default=0.1
        Miscoverage: intervals hold the true value with probability at least ``1 - alpha``.
    calibration_size : float, default=0.25
        Share of the subjects held out to calibrate (whole subjects).
    random_state : int, RandomState instance or None, default=None
        Seeds the subject split.

    Attributes
    ----------
    estimator_ : regressor
        The wrapped regressor fitted on the training subjects.
    calibration_scores_ : ndarray
        One absolute residual per calibration subject (its largest), sorted.
    n_calibration_subjects_ : int
        Subjects the width rests on.
    calibration_indices_ : ndarray
        Positions of the calibration samples in ``X``.
    quantile_ : float
        The interval's half-width for ``alpha``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skfusion.conformal import ConformalRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(400, 2)); y = X[:, 0] + rng.normal(size=400)
    >>> model = ConformalRegressor(Ridge(), alpha=0.1, random_state=0).fit(X[:300], y[:300])
    >>> model.predict_interval(X[300:]).shape
    (100, 2)
    """

    def __init__(self, estimator, *, alpha=0.1, calibration_size=0.25, random_state=None):
        self.estimator = estimator
        self.alpha = alpha
        self.calibration_size = calibration_size
        self.random_state = random_state

    def fit(self, X, y, groups=None):
        """Fit the regressor on the training subjects and calibrate on the others.

        Parameters
        ----------
        X : FusionInput, tuple or array-like
            Training samples.
        y : array-like of shape (n_samples,)
            Targets (one per sample).
        groups : array-like of shape (n_samples,), default=None
            Subject of each sample (default: the subjects ``X`` carries, else one per row).

        Returns
        -------
        self : object
        """
        self._validate_params()
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 1:
            raise ValueError(
                f"ConformalRegressor takes one target per sample; y has shape "
                f"{y.shape}. Wrap one model per target."
            )
        return self._fit(X, y, groups)

    def _scores(self, X, y):
        return np.abs(y - np.asarray(self.estimator_.predict(X), dtype=np.float64))

    def predict_interval(self, X, *, alpha=None):
        """Prediction intervals: an array (n_samples, 2) of lower and upper bounds.

        Parameters
        ----------
        X : FusionInput, tuple or array-like
            Samples.
        alpha : float, default=None
            Another miscoverage than the fitted ``alpha`` (same calibration).

        Returns
        -------
        intervals : ndarray of shape (n_samples, 2)
        """
        check_is_fitted(self)
        width = self._alpha(alpha)
        prediction = np.asarray(self.estimator_.predict(X), dtype=np.float64)
        return np.column_stack([prediction - width, prediction + width])


def coverage(y, sets_or_intervals, *, classes=None):
    """Share of samples whose true label is in their set, or true value in their interval.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        True labels or values.
    sets_or_intervals : ndarray
        Boolean sets (n_samples, n_classes) from :meth:`ConformalClassifier.predict_set`
        (then pass ``classes``), or intervals (n_samples, 2).
    classes : array-like, default=None
        The sets' column labels (``model.classes_``).

    Returns
    -------
    coverage : float
    """
    y = np.asarray(y)
    values = np.asarray(sets_or_intervals)
    if y.ndim != 1 or values.ndim != 2 or len(y) != len(values):
        raise ValueError(
            f"coverage needs y of shape (n_samples,) and sets or intervals of shape "
            f"(n_samples, k) for the same samples; got y of shape {y.shape} and "
            f"sets_or_intervals of shape {values.shape}. Pass the labels of the samples the "
            "sets were predicted for."
        )
    if values.dtype == bool:
        if classes is None:
            raise ValueError("coverage of prediction sets needs classes= (model.classes_).")
        if values.shape[1] != len(classes):
            raise ValueError(
                f"the sets have {values.shape[1]} columns but classes= names "
                f"{len(classes)}; pass the model's classes_."
            )
        index = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
        columns = np.array([index.get(label, -1) for label in y.tolist()])
        inside = (columns >= 0) & values[np.arange(len(y)), np.clip(columns, 0, None)]
        return float(np.mean(inside))
    if values.shape[1] != 2:
        raise ValueError(f"intervals must have shape (n_samples, 2); got {values.shape}.")
    return float(np.mean((values[:, 0] <= y) & (y <= values[:, 1])))
