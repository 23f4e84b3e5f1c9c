"""The time-to-event layer: ``y`` as scikit-survival's structured (event, time) arrays, the Cox
partial likelihood (DeepSurv) on the network's log-risk output, Harrell's C as ``score`` and
survival functions from a Breslow baseline hazard fitted at the end of ``fit``."""

import numpy as np
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from .._base.core.encoders import Target, TargetEncoder
from .._base.core.estimator import BaseFusionEstimator
from .._base.files.persistence import ModelFileError, check_number_list
from .._base.inputs.validation import check_survival_target
from .._base.parameters.params import Param
from ..nn.losses import TIES, CoxPHLoss
from .concordance import harrell_c

__all__ = ["BaseFusionSurvival", "StepFunction", "survival_target"]


def survival_target(event, time, *, event_name="event", time_name="time"):
    """Build ``y`` for the survival estimators: a structured array of (event, time), the form
    scikit-survival's ``Surv.from_arrays`` makes (either can be passed).

    Parameters
    ----------
    event : array-like of bool, shape (n_samples,)
        True where the event (e.g. conversion to dementia) was observed, False where the
        time is censored (last seen without the event).
    time : array-like of float, shape (n_samples,)
        Time of the event or of censoring.
    event_name, time_name : str, default="event", "time"
        The fields' names in the structured array.

    Examples
    --------
    >>> from skfusion import survival_target
    >>> y = survival_target([True, False], [2.5, 4.0])
    >>> y.dtype.names, y["event"].tolist(), y["time"].tolist()
    (('event', 'time'), [True, False], [2.5, 4.0])
    """
    event = np.asarray(event)
    time = np.asarray(time, dtype=np.float64)
    if event.dtype.kind not in "bi" or not np.isin(event, (0, 1)).all():
        raise ValueError("event must hold booleans (or 0/1): True where the event happened.")
    if event.shape != time.shape or event.ndim != 1:
        raise ValueError(
            f"event and time must be 1-D of equal length; got {event.shape} and {time.shape}."
        )
    y = np.empty(len(time), dtype=[(event_name, "?"), (time_name, "<f8")])
    y[event_name] = event.astype(bool)
    y[time_name] = time
    return y


class StepFunction:
    """A right-continuous step function ``f(t) = y[k]`` for ``x[k] <= t < x[k + 1]`` (as
    scikit-survival's), equal to ``initial`` before ``x[0]``; call it with times."""

    def __init__(self, x, y, initial):
        self.x = x
        self.y = y
        self.initial = initial

    def __call__(self, t):
        t = np.asarray(t, dtype=np.float64)
        index = np.searchsorted(self.x, t, side="right") - 1
        values = np.where(index >= 0, self.y[np.clip(index, 0, None)], self.initial)
        return values if values.ndim else float(values)

    def __repr__(self):
        return f"StepFunction(x=<{len(self.x)} times>, initial={self.initial})"


class _EventTimes(TargetEncoder):
    """(event, time) targets as the dense ranks of the times plus the events (the Cox
    likelihood depends on the times' order only); the Breslow baseline learned after
    training is its model-file state."""

    attributes = ("unique_times_", "baseline_cumulative_hazard_", "risk_offset_")

    def transform(self, y, *, n_samples, classes=None):
        event, time = check_survival_target(y, n_samples=n_samples)
        if not event.any():
            raise ValueError(
                "y has no event (every time is censored); the Cox likelihood "
                "needs at least one. Check the event field, or the split."
            )
        # The partial likelihood depends on the order of the times only: the network trains
        # on their dense ranks, exact in float32 whatever the unit.
        rank = np.unique(time, return_inverse=True)[1].reshape(-1)
        values = np.column_stack([rank, event]).astype(np.float32)
        return Target(values, 1, stratify=event.astype(int), raw=(time, event))

    def state(self, target_fitted):
        if "unique_times_" not in target_fitted:  # a checkpoint written during training
            return {}
        return {
            "unique_times": [float(t) for t in target_fitted["unique_times_"]],
            "baseline_cumulative_hazard": [
                float(h) for h in target_fitted["baseline_cumulative_hazard_"]
            ],
            "risk_offset": float(target_fitted["risk_offset_"]),
        }

    @classmethod
    def restore(cls, fitted):
        if "unique_times" not in fitted:
            return {}, 1
        return (
            {
                "unique_times_": np.asarray(fitted["unique_times"], dtype=np.float64),
                "baseline_cumulative_hazard_": np.asarray(
                    fitted["baseline_cumulative_hazard"], dtype=np.float64
                ),
                "risk_offset_": float(fitted["risk_offset"]),
            },
            1,
        )

    @classmethod
    def check_state(cls, path, fitted):
        if "unique_times" not in fitted:
            return
        times = check_number_list(path, "unique_times", fitted["unique_times"])
        hazard = check_number_list(
            path,
            "baseline_cumulative_hazard",
            fitted.get("baseline_cumulative_hazard"),
            length=len(times),
        )
        if (
            not times
            or np.any(np.diff(times) <= 0)
            or np.any(np.diff(hazard) < 0)
            or min(hazard) < 0
        ):
            raise ModelFileError(
                f"{path!s}: fitted.unique_times must increase and the "
                "baseline cumulative hazard must be a non-decreasing, "
                "non-negative list."
            )
        check_number_list(path, "risk_offset", [fitted.get("risk_offset")])


class BaseFusionSurvival(BaseFusionEstimator):
    """Time-to-event layer of skfusion's estimators (not for direct use).

    The network outputs one log-risk per sample and trains on the negative Cox partial
    log-likelihood of each mini-batch (DeepSurv; tied times by Efron's or Breslow's method).
    After training, a Breslow estimate of the baseline cumulative hazard on the training
    samples turns risks into survival functions.
    """

    _doc_task = "survival"
    _params = {
        "ties": Param(
            "efron",
            [StrOptions(set(TIES))],
            """\
How tied event times enter the Cox partial likelihood (Efron's approximation is
closer to the exact likelihood; Breslow's is the simpler one).""",
            type='{"efron", "breslow"}',
        ),
    }
    _target_encoder = _EventTimes

    def fit(self, X, y, groups=None):
        """Train the network on images, clinical values and (event, time) targets.

        Parameters
        ----------
        X : FusionInput or tuple (images, clinical)
            As for the classifiers.
        y : structured array of shape (n_samples,)
            A boolean event field and a float time field (:func:`skfusion.survival_target`
            or scikit-survival's ``Surv.from_arrays``); at least one event.
        groups : array-like of shape (n_samples,), default=None
            Subject of each sample; with ``early_stopping`` the validation part takes whole
            subjects, stratified by event.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(X, y, groups=groups)

    def partial_fit(self, X, y, groups=None):
        """Train for one more epoch; the first call builds the network.

        Returns
        -------
        self : object
        """
        return self._partial_fit(X, y, groups=groups)

    # -- the task contract -------------------------------------------------------------------

    def _criterion_params(self, target):
        return {"criterion": CoxPHLoss, "criterion__ties": self.ties}

    def _start_shortcut(self, net, clinical, target, train):
        """Start the linear paths (the clinical shortcut; with ``image_shortcut``, the image's
        component scores sit beside the clinical values in ``clinical``) at a ridge-
        penalised linear Cox model (penalty 1/2 of the squared weights on standardised
        values, per training sample as a logistic regression with C=1 has) fitted on the
        training samples."""
        values = target.values[train]
        if values[:, 1].sum() == 0:
            return
        net.fit_linear_(net.linear_start, clinical, values, alpha=1.0 / len(values))

    def _after_training(self, net, dataset, target):
        risk = net.predict_outputs(dataset, threads=self.n_threads)[:, 0]
        time, event = target.raw
        if not np.isfinite(risk).all():
            raise ValueError(
                "the network produced NaN or infinite risks on the training "
                "samples; lower lr or check the inputs for extreme values."
            )
        offset = float(risk.max())
        weight = np.exp(risk - offset)
        order = np.argsort(time, kind="stable")
        times, start = np.unique(time[order], return_index=True)
        at_risk = np.cumsum(weight[order][::-1])[::-1][start]  # sum over time_j >= t
        deaths = np.add.reduceat(event[order].astype(np.float64), start)
        hazard = np.cumsum(deaths / at_risk)
        return {
            "unique_times_": times,
            "baseline_cumulative_hazard_": hazard,
            "risk_offset_": offset,
        }

    # -- predictions ---------------------------------------------------------------------------

    def _export_head(self):
        return {
            "kind": "first",
            "output": {
                "name": "output",
                "dtype": "float32",
                "shape": ["n_samples"],
                "meaning": "predict: the risk score (log hazard ratio), higher means an earlier "
                "event; survival curves need the baseline hazard, which stays in the "
                "skfusion model file",
            },
        }

    def predict(self, X):
        """Risk scores (log hazard ratios), shape (n_samples,): higher means an earlier event."""
        return self._outputs(X)[:, 0]

    def score(self, X, y, sample_weight=None):
        """Harrell's concordance index of ``predict(X)`` with ``y`` (0.5: random ordering,
        1: perfect). Computed by lifelines when installed."""
        if sample_weight is not None:
            raise ValueError(
                "sample_weight is not supported by the concordance index; pass sample_weight=None."
            )
        event, time = check_survival_target(y, n_samples=len(y))
        return harrell_c(time, event, self.predict(X))

    def predict_cumulative_hazard_function(self, X, return_array=False):
        """Cumulative hazard H(t | x) = H0(t) exp(risk(x)) per sample, with H0 the Breslow
        estimate from the training samples.

        Returns
        -------
        functions : ndarray of :class:`StepFunction`, shape (n_samples,), or, with
            ``return_array=True``, an array (n_samples, len(unique_times_)) of values at
            ``unique_times_``.
        """
        scale = np.exp(self._risk_for_baseline(X))
        values = scale[:, None] * self.baseline_cumulative_hazard_[None, :]
        if return_array:
            return values
        return np.array([StepFunction(self.unique_times_, row, 0.0) for row in values])

    def predict_survival_function(self, X, return_array=False):
        """Survival S(t | x) = exp(-H(t | x)) per sample (see
        :meth:`predict_cumulative_hazard_function`; 1 before the first training time)."""
        scale = np.exp(self._risk_for_baseline(X))
        values = np.exp(-scale[:, None] * self.baseline_cumulative_hazard_[None, :])
        if return_array:
            return values
        return np.array([StepFunction(self.unique_times_, row, 1.0) for row in values])

    def _risk_for_baseline(self, X):
        check_is_fitted(self)
        if not hasattr(self, "baseline_cumulative_hazard_"):
            raise ValueError(
                f"{type(self).__name__} has no baseline hazard: it was loaded from a "
                "checkpoint written during training. Finish training (fit with "
                "warm_start=True) to estimate it."
            )
        return self.predict(X) - self.risk_offset_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
