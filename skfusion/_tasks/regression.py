"""The regression layer: continuous targets (one or several), standardised inside ``fit``,
squared-error or Huber loss, a ridge-regression start for the clinical shortcut, and
predictions on the original scale."""

from numbers import Real

import numpy as np
import torch
from sklearn.base import RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.utils._param_validation import Interval, StrOptions

from .._base.core.encoders import Target, TargetEncoder
from .._base.core.estimator import BaseFusionEstimator
from .._base.files.persistence import ModelFileError, check_int, check_number_list
from .._base.inputs.validation import check_continuous_targets
from .._base.parameters.params import Param

__all__ = ["BaseFusionRegressor", "LOSSES"]

#: ``loss`` -> the torch criterion (on standardised targets).
LOSSES = {"squared_error": torch.nn.MSELoss, "huber": torch.nn.HuberLoss}


class _StandardisedTargets(TargetEncoder):
    """Continuous targets standardised on the training samples (``target_mean_``,
    ``target_scale_``), so one learning rate suits every unit."""

    attributes = ("target_mean_", "target_scale_", "n_outputs_", "target_ndim_")

    def fit(self, y, *, n_samples, classes=None):
        y = check_continuous_targets(y, n_samples=n_samples)
        values = y.reshape(n_samples, -1)
        with np.errstate(over="ignore", invalid="ignore"):
            mean = values.mean(axis=0)
            scale = values.std(axis=0)
            standardised = (values - mean) / np.where(scale == 0, 1.0, scale)
        if not (
            np.isfinite(mean).all() and np.isfinite(scale).all() and np.isfinite(standardised).all()
        ):
            raise ValueError(
                f"y cannot be standardised: its mean or standard deviation overflows "
                f"(largest |y| = {np.max(np.abs(values)):.3g}). Rescale y before fitting "
                "(divide it by a power of ten, or fit its logarithm) and undo that on the "
                "predictions."
            )
        scale[scale == 0] = 1.0
        fitted = {
            "target_mean_": mean,
            "target_scale_": scale,
            "n_outputs_": values.shape[1],
            "target_ndim_": y.ndim,
        }
        return Target(((values - mean) / scale).astype(np.float32), values.shape[1], fitted=fitted)

    def transform(self, y, *, n_samples, classes=None):
        y = check_continuous_targets(y, n_samples=n_samples)
        values = y.reshape(n_samples, -1)
        fitted = self.fitted()
        if values.shape[1] != fitted["n_outputs_"]:
            raise ValueError(
                f"y has {values.shape[1]} output(s) but the model was fitted on "
                f"{fitted['n_outputs_']}; pass the same target columns, or refit without "
                "warm_start."
            )
        standardised = (values - fitted["target_mean_"]) / fitted["target_scale_"]
        return Target(standardised.astype(np.float32), fitted["n_outputs_"], fitted=fitted)

    def state(self, target_fitted):
        return {
            "target_mean": [float(v) for v in target_fitted["target_mean_"]],
            "target_scale": [float(v) for v in target_fitted["target_scale_"]],
            "target_ndim": int(target_fitted["target_ndim_"]),
        }

    @classmethod
    def restore(cls, fitted):
        mean = np.asarray(fitted["target_mean"], dtype=np.float64)
        return (
            {
                "target_mean_": mean,
                "target_scale_": np.asarray(fitted["target_scale"], dtype=np.float64),
                "n_outputs_": len(mean),
                "target_ndim_": fitted["target_ndim"],
            },
            len(mean),
        )

    @classmethod
    def check_state(cls, path, fitted):
        mean = check_number_list(path, "target_mean", fitted.get("target_mean"), max_length=10**5)
        if not mean:
            raise ModelFileError(f"{path!s}: fitted.target_mean must not be empty.")
        check_number_list(
            path, "target_scale", fitted.get("target_scale"), length=len(mean), positive=True
        )
        ndim = check_int(path, "fitted.target_ndim", fitted.get("target_ndim"), 1, 2)
        if ndim == 1 and len(mean) != 1:
            raise ModelFileError(
                f"{path!s}: fitted.target_ndim is 1 but there are {len(mean)} outputs."
            )


class BaseFusionRegressor(RegressorMixin, BaseFusionEstimator):
    """Regression layer of skfusion's estimators (not for direct use).

    Targets are standardised in ``fit`` (each output to mean 0 and SD 1 over the training
    samples, kept in ``target_mean_`` and ``target_scale_``) so that one learning rate and one
    weight decay suit MMSE points, months or millilitres alike; the network predicts
    standardised values and ``predict`` maps them back.
    """

    _doc_task = "regressor"
    _params = {
        "loss": Param(
            "squared_error",
            [StrOptions(set(LOSSES))],
            """\
Loss on the standardised targets: mean squared error, or Huber's loss (squared
below ``huber_delta``, linear above: robust to outlying targets).""",
            type='{"squared_error", "huber"}',
        ),
        "huber_delta": Param(
            1.0,
            [Interval(Real, 0, None, closed="neither")],
            "Where Huber's loss turns linear, in standard deviations of the target.",
        ),
    }
    _target_encoder = _StandardisedTargets

    def fit(self, X, y, groups=None):
        """Train the network on images, clinical values and continuous targets.

        Parameters
        ----------
        X : FusionInput or tuple (images, clinical)
            As for the classifiers: images, slice stacks or volumes, and a clinical table
            that may hold text categories and missing values with
            ``clinical_preprocessing="auto"`` (numeric and complete with ``None``).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Continuous targets (several columns: one network predicts them all).
        groups : array-like of shape (n_samples,), default=None
            Subject of each sample; with ``early_stopping`` the validation part takes whole
            subjects.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(X, y, groups=groups)

    def partial_fit(self, X, y, groups=None):
        """Train for one more epoch; the first call builds the network (and fixes the target
        standardisation from its ``y``).

        Returns
        -------
        self : object
        """
        return self._partial_fit(X, y, groups=groups)

    # -- the task contract -------------------------------------------------------------------

    def _criterion_params(self, target):
        if self.loss == "huber":
            return {"criterion": LOSSES["huber"], "criterion__delta": self.huber_delta}
        return {"criterion": LOSSES[self.loss]}

    def _start_shortcut(self, net, clinical, target, train):
        """Start the linear paths (the clinical shortcut; with ``image_shortcut``, the image's
        component scores sit beside the clinical values in ``clinical``) at a ridge
        regression (alpha=1, on standardised clinical values) of the standardised targets,
        fitted on the training samples."""
        values = clinical.astype(np.float64)
        mean, scale = values.mean(axis=0), values.std(axis=0)
        scale[scale == 0] = 1.0
        model = Ridge(alpha=1.0).fit((values - mean) / scale, target.values[train])
        coef = np.atleast_2d(model.coef_) / scale
        intercept = np.atleast_1d(model.intercept_) - coef @ mean
        net.set_linear_(net.linear_start, coef, intercept)

    # -- predictions ---------------------------------------------------------------------------

    def _export_head(self):
        flatten = self.target_ndim_ == 1
        shape = ["n_samples"] if flatten else ["n_samples", int(self.n_outputs_)]
        return {
            "kind": "affine",
            "scale": [float(v) for v in self.target_scale_],
            "shift": [float(v) for v in self.target_mean_],
            "flatten": flatten,
            "output": {
                "name": "output",
                "dtype": "float32",
                "shape": shape,
                "meaning": "predict: the predicted target(s)",
            },
        }

    def predict(self, X):
        """Predicted targets on the original scale: shape (n_samples,) for a 1-D ``y`` in
        ``fit``, else (n_samples, n_outputs)."""
        values = self._outputs(X) * self.target_scale_ + self.target_mean_
        return values[:, 0] if self.target_ndim_ == 1 else values

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
