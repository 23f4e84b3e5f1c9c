"""The classification layer: labels to class indices, class weights, a logistic-regression
start for the clinical shortcut, and probabilities from the network's logits."""

import warnings

import numpy as np
import torch
from scipy.special import log_softmax, softmax
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import compute_class_weight
from sklearn.utils._param_validation import StrOptions

from .._base.core.encoders import Target, TargetEncoder
from .._base.core.estimator import BaseFusionEstimator
from .._base.files.persistence import ModelFileError, check_number_list
from .._base.inputs.validation import check_labels
from .._base.parameters.params import Param
from .._net.callbacks import BatchAccuracy

__all__ = ["BaseFusionClassifier"]

_CLASS_DTYPE_KINDS = set("biufUO")


class _ClassLabels(TargetEncoder):
    """Labels of any type to class indices (``classes_``, sorted as sklearn's
    ``LabelEncoder`` sorts them); the validation split keeps the classes in proportion."""

    attributes = ("classes_", "temperature_", "calibration_bias_")

    def fit(self, y, *, n_samples, classes):
        y = check_labels(y, n_samples=n_samples)
        encoder = LabelEncoder()
        try:
            encoder.fit(y if classes is None else np.concatenate([np.asarray(classes), y]))
            y_encoded = encoder.transform(y).astype(np.int64)
        except TypeError:
            raise ValueError(
                "y mixes label types that cannot be ordered; use one type, e.g. y.astype(str)."
            ) from None
        if len(encoder.classes_) < 2:
            raise ValueError(
                f"y has a single class {encoder.classes_.tolist()}; a classifier needs at least "
                "two. Check the labels, or the split that produced this subset."
            )
        self.estimator._check_class_weight(encoder.classes_)
        return Target(
            y_encoded,
            len(encoder.classes_),
            stratify=y_encoded,
            fitted={"classes_": encoder.classes_},
        )

    def transform(self, y, *, n_samples, classes):
        y = check_labels(y, n_samples=n_samples)
        known = self.estimator.classes_
        unknown = sorted(set(y.tolist()) - set(known.tolist()), key=str)
        if unknown:
            raise ValueError(
                f"y has label(s) {unknown} that the fitted model does not know "
                f"({known.tolist()}); refit without warm_start, or pass classes= with "
                "every label to the first partial_fit call."
            )
        if classes is not None and set(np.asarray(classes).tolist()) != set(known.tolist()):
            raise ValueError(
                f"classes={list(classes)} differs from the fitted classes {known.tolist()}."
            )
        encoded = np.searchsorted(known, y).astype(np.int64)
        return Target(encoded, len(known), stratify=encoded, fitted={"classes_": known})

    def state(self, target_fitted):
        classes = np.asarray(target_fitted["classes_"])
        state = {
            "classes": classes.tolist(),
            "classes_dtype": classes.dtype.str if classes.dtype != object else "O",
        }
        if "temperature_" in target_fitted:  # calibration="temperature" (and "+bias")
            state["temperature"] = float(target_fitted["temperature_"])
        if "calibration_bias_" in target_fitted:
            state["calibration_bias"] = [float(b) for b in target_fitted["calibration_bias_"]]
        return state

    @classmethod
    def restore(cls, fitted):
        classes = np.asarray(fitted["classes"], dtype=np.dtype(fitted["classes_dtype"]))
        restored = {"classes_": classes}
        if "temperature" in fitted:
            restored["temperature_"] = float(fitted["temperature"])
        if "calibration_bias" in fitted:
            restored["calibration_bias_"] = np.asarray(fitted["calibration_bias"], dtype=float)
        return restored, len(classes)

    @classmethod
    def check_state(cls, path, fitted):
        classes = fitted.get("classes")
        if (
            not isinstance(classes, list)
            or not 2 <= len(classes) <= 10**5
            or not all(isinstance(c, (str, int, float, bool)) for c in classes)
        ):
            raise ModelFileError(f"{path!s}: fitted.classes must be a list of 2 or more labels.")
        dtype_text = fitted.get("classes_dtype")
        try:
            dtype = (
                np.dtype(dtype_text)
                if isinstance(dtype_text, str) and len(dtype_text) < 16
                else None
            )
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind not in _CLASS_DTYPE_KINDS or dtype.itemsize > 4096:
            raise ModelFileError(
                f"{path!s}: fitted.classes_dtype {dtype_text!r} is not a label dtype."
            )
        if "temperature" in fitted:
            check_number_list(path, "temperature", [fitted["temperature"]], positive=True)
        if "calibration_bias" in fitted:
            bias = fitted["calibration_bias"]
            if not isinstance(bias, list) or len(bias) != len(classes):
                raise ModelFileError(
                    f"{path!s}: fitted.calibration_bias must hold one number per class."
                )
            check_number_list(path, "calibration_bias", bias)


class BaseFusionClassifier(ClassifierMixin, BaseFusionEstimator):
    """Classification layer of skfusion's estimators (not for direct use): cross-entropy on
    logits, ``predict_proba``, ``classes_``."""

    _doc_task = "classifier"
    _target_encoder = _ClassLabels
    _params = {
        "criterion": Param(
            torch.nn.CrossEntropyLoss,
            [callable],
            "Loss on the network's logits; ``criterion__*`` parameters are passed to it.",
            type="torch loss class",
            default_doc="torch.nn.CrossEntropyLoss",
        ),
        "class_weight": Param(
            None,
            [StrOptions({"balanced"}), dict, None],
            """\
Per-class loss weights, keyed by the labels in ``y``; "balanced" weights classes
inversely to their frequency. Passed as the criterion's ``weight``.""",
            type='dict, "balanced" or None',
        ),
        "calibration": Param(
            None,
            [StrOptions({"temperature", "temperature_bias"}), None],
            """\
"temperature": hold out ``validation_fraction`` of the training subjects (the
early-stopping split when ``early_stopping`` is on; stratified by class, whole subjects
with ``groups``), and after training divide the logits by one temperature fitted on them
by maximum likelihood (Guo et al., ICML 2017), so that ``predict_proba`` states
calibrated probabilities without a second cross-validation (``temperature_``; predicted
classes and their ranking do not change). "temperature_bias": the same split, a
temperature and one bias per class fitted together (bias-corrected temperature scaling,
Alexandari et al., ICML 2020; with two classes, Platt scaling of the logit difference;
``calibration_bias_``, the first class's bias 0): it also corrects a network whose
probabilities are shifted towards one class, which one temperature cannot (measured in
``benchmarks/trust.py``); the ranking is kept, predicted classes may change. ``None``:
the network's own probabilities. With ``class_weight`` the probabilities follow the
reweighted classes; neither method undoes that.""",
            type='{"temperature", "temperature_bias"} or None',
        ),
    }

    def fit(self, X, y, groups=None):
        """Train the network on images, clinical values and labels.

        Parameters
        ----------
        X : FusionInput or tuple (images, clinical)
            ``images`` of shape (n_samples, H, W) or (n_samples, C, H, W), slice stacks
            (n_samples, S, H, W) or volumes (n_samples, C, D, H, W); ``clinical`` a DataFrame
            or array of shape (n_samples, n_features). With ``clinical_preprocessing="auto"``
            (the default) it may hold text categories and missing values; with ``None`` it
            must be numeric and complete (bring your own steps, e.g. a
            :class:`~skfusion.ClinicalTransformer` in a pipeline).
        y : array-like of shape (n_samples,)
            Class labels of any type (e.g. ``"AD"``/``"NC"``).
        groups : array-like of shape (n_samples,), default=None
            Subject of each sample. With ``early_stopping``, the held-out validation part then
            takes whole subjects (stratified by class), so no subject's slices are on both
            sides. Pass it through sklearn with metadata routing
            (``set_fit_request(groups=True)``) or as a fit parameter.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(X, y, groups=groups)

    def partial_fit(self, X, y, classes=None, groups=None):
        """Train for one more epoch; the first call builds the network.

        This is what lets Optuna's ``OptunaSearchCV(..., enable_pruning=True)`` stop
        unpromising trials after any epoch.

        Parameters
        ----------
        X : FusionInput or tuple (images, clinical)
            Training data, as in :meth:`fit`.
        y : array-like of shape (n_samples,)
            Labels.
        classes : array-like, default=None
            All classes, required on the first call when ``y`` may not contain every class.
        groups : array-like of shape (n_samples,), default=None
            Subjects, as in :meth:`fit`.

        Returns
        -------
        self : object
        """
        return self._partial_fit(X, y, groups=groups, classes=classes)

    # -- the task contract -------------------------------------------------------------------

    def _check_class_weight(self, classes):
        if self.class_weight is not None and "criterion__weight" in vars(self):
            raise ValueError(
                "class_weight and criterion__weight were both given; set only one of them."
            )
        if isinstance(self.class_weight, dict):
            unknown = [k for k in self.class_weight if k not in set(classes.tolist())]
            if unknown:
                raise ValueError(
                    f"class_weight has labels {unknown} that are not in y; expected keys among "
                    f"{classes.tolist()}."
                )

    def _criterion_params(self, target):
        params = {"criterion": self.criterion}
        if self.class_weight is None or target is None:
            return params
        labels = target.fitted["classes_"].tolist()
        weights = compute_class_weight(
            "balanced"
            if self.class_weight == "balanced"
            else {i: self.class_weight.get(c, 1.0) for i, c in enumerate(labels)},
            classes=np.arange(target.n_outputs),
            y=target.values,
        )
        return {**params, "criterion__weight": weights.astype(np.float32)}

    def _start_shortcut(self, net, clinical, target, train):
        """Start the linear paths (the clinical shortcut; with ``image_shortcut``, the image's
        component scores sit beside the clinical values in ``clinical``) at an L2-penalised
        logistic regression (C=1, on the standardised values) fitted on the training
        samples: the network begins as that logistic regression, and its deep path learns
        what the image adds (stage-wise fitting)."""
        coef_intercept = _logistic_start(
            clinical,
            target.values[train],
            target.n_outputs,
            self.class_weight,
            target.fitted["classes_"],
        )
        if coef_intercept is not None:
            net.set_linear_(net.linear_start, *coef_intercept)

    def _monitor_callbacks(self):
        return [("valid_acc", BatchAccuracy())]

    # -- predictions ---------------------------------------------------------------------------

    def _hold_out_settings(self):
        return super()._hold_out_settings() + (
            ("calibration=None",) if self.calibration is not None else ()
        )

    def _after_training(self, net, dataset, target):
        """With ``calibration``: the temperature (and the per-class biases) that maximise the
        likelihood of the held-out subjects' labels (the temperature searched over 0.05-20
        on a log scale, biases within +-20)."""
        if self.calibration is None:
            return {}
        from scipy.optimize import minimize, minimize_scalar

        positions = net.train_split.valid_positions_
        logits = net.predict_outputs(dataset.take(positions), threads=self.n_threads)
        labels = np.asarray(target.values)[positions]
        warn_if_calibration_split_small(
            self.calibration,
            labels,
            target.fitted["classes_"],
            _subjects_at(net.train_split, positions),
        )

        def loss(log_t, bias=0.0):
            scaled = log_softmax(logits / np.exp(log_t) + bias, axis=1)
            return -float(np.mean(scaled[np.arange(len(labels)), labels]))

        if self.calibration == "temperature":
            separated = _separated_temperature(logits, labels)
            if separated is not None:  # no finite optimum: the likelihood is monotone in T
                return {"temperature_": _checked_temperature(separated)}
            best = minimize_scalar(loss, bounds=tuple(np.log(TEMPERATURE_BOUNDS)), method="bounded")
            return {"temperature_": _checked_temperature(float(np.exp(best.x)))}
        n_classes = logits.shape[1]
        best = minimize(
            lambda w: loss(w[0], np.concatenate([[0.0], w[1:]])),
            x0=np.zeros(n_classes),
            method="L-BFGS-B",
            bounds=[tuple(np.log(TEMPERATURE_BOUNDS))] + [(-20.0, 20.0)] * (n_classes - 1),
        )
        return {
            "temperature_": _checked_temperature(float(np.exp(best.x[0]))),
            "calibration_bias_": np.concatenate([[0.0], best.x[1:]]),
        }

    def _logits(self, X):
        """The network's logits, divided by ``temperature_`` (plus ``calibration_bias_``)
        when the model is calibrated."""
        return self._outputs(X) / getattr(self, "temperature_", 1.0) + getattr(
            self, "calibration_bias_", 0.0
        )

    def _export_head(self):
        bias = getattr(self, "calibration_bias_", None)
        return {
            "kind": "softmax",
            "temperature": getattr(self, "temperature_", 1.0),
            **({} if bias is None else {"bias": [float(b) for b in bias]}),
            "output": {
                "name": "output",
                "dtype": "float32",
                "shape": ["n_samples", len(self.classes_)],
                "meaning": "predict_proba: the probability of each class, in classes order",
                "classes": [c.item() if hasattr(c, "item") else c for c in self.classes_],
            },
        }

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order.

        Prediction runs in batches of ``batch_size`` (or ``iterator_valid__batch_size``), so
        memory stays bounded for large inputs.
        """
        return softmax(self._logits(X), axis=1)

    def predict_log_proba(self, X):
        """Log of the class probabilities, computed stably from the logits."""
        return log_softmax(self._logits(X), axis=1)

    def decision_function(self, X):
        """Unnormalised scores: logits of shape (n_samples, n_classes), or for two classes the
        logit of ``classes_[1]`` minus that of ``classes_[0]``, shape (n_samples,), as in sklearn.
        """
        logits = self._logits(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict(self, X):
        """The most probable class of each sample, as labels from ``classes_``: the class of
        the highest probability :meth:`predict_proba` returns (calibrated where the model
        is), through :func:`classes_from_proba`."""
        proba = self.predict_proba(X)  # (refuses an unfitted model first)
        return classes_from_proba(self.classes_, proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags


def classes_from_proba(classes, proba):
    """The class of the highest probability in each row of ``proba`` (columns in ``classes``
    order): the one road from probabilities to classes, shared by every classifier's
    ``predict``, so that classes always agree with the (calibrated) probabilities."""
    return np.asarray(classes)[np.argmax(proba, axis=1)]


#: Fewest held-out subjects of each class that ``calibration`` fits on without a warning.
CALIBRATION_MIN_SUBJECTS = 10

#: The temperature's search interval.
TEMPERATURE_BOUNDS = (0.05, 20.0)


def _subjects_at(split, positions):
    """The subject of each held-out position (the positions themselves without groups)."""
    groups = getattr(split, "groups", None)
    return positions if groups is None else np.asarray(groups)[positions]


def warn_if_calibration_split_small(calibration, labels, classes, subjects):
    """Warn, with the counts, when the held-out split that ``calibration`` is fitted on has
    fewer than :data:`CALIBRATION_MIN_SUBJECTS` subjects of some class."""
    counts = {
        c: len(np.unique(np.asarray(subjects)[np.asarray(labels) == i]))
        for i, c in enumerate(np.asarray(classes).tolist())
    }
    if min(counts.values()) >= CALIBRATION_MIN_SUBJECTS:
        return
    shown = ", ".join(f"{c!r}: {k}" for c, k in counts.items())
    warnings.warn(
        f"calibration={calibration!r} was fitted on a held-out split with few subjects of "
        f"some class ({shown}; at least {CALIBRATION_MIN_SUBJECTS} of each are advised), so "
        "the calibrated probabilities may be unreliable. Raise validation_fraction, pass "
        "more patients, or set calibration=None.",
        UserWarning,
        stacklevel=7,
    )


def _separated_temperature(logits, labels):
    """The temperature's search bound where the held-out samples leave it no finite optimum,
    else None. The held-out negative log-likelihood is convex in ``b = 1 / T``, with slope
    ``mean(E_softmax(b z)[z] - z_label)``: when every sample's own class has the strictly
    largest logit the slope stays below 0 and the likelihood rises as ``T`` falls, without
    limit (the small bound); when the slope at ``b = 0`` (the mean logit minus the label's)
    is not below 0 it rises as ``T`` grows (the large bound). A bounded search on such a
    function stops wherever it flattens, at an arbitrary temperature, so the bound is
    returned instead (and :func:`_checked_temperature` warns)."""
    rows = np.arange(len(labels))
    own = logits[rows, labels]
    others = logits.copy()
    others[rows, labels] = -np.inf
    if logits.shape[1] > 1 and np.all(own > others.max(axis=1)):
        return TEMPERATURE_BOUNDS[0]
    if np.mean(logits.mean(axis=1) - own) >= 0:
        return TEMPERATURE_BOUNDS[1]
    return None


def _checked_temperature(temperature):
    """``temperature``, with a warning where it landed on or near its search bound (within
    a factor 1.5: the held-out split could not tell how far to scale, as when it holds one
    subject; probabilities are then pushed to 0 and 1, or flattened)."""
    low, high = TEMPERATURE_BOUNDS
    if not low * 1.5 < temperature < high / 1.5:
        warnings.warn(
            f"the calibration temperature landed near its search bound ({temperature:.3g}, "
            f"searched over {low}-{high}): the held-out split does not determine it, and the "
            "probabilities may be pushed to 0 and 1 (small bound) or flattened (large). "
            "Raise validation_fraction, pass more patients, or set calibration=None.",
            UserWarning,
            stacklevel=7,
        )
    return temperature


def _logistic_start(clinical, y_encoded, n_classes, class_weight, classes):
    """Weights ``(coef, intercept)`` of a logistic regression (C=1) fitted on standardised
    values and folded back onto the raw values; None when the part has one class."""
    present = np.unique(y_encoded)
    if len(present) < 2:
        return None
    weight = None
    if isinstance(class_weight, dict):
        weight = {
            i: class_weight.get(c, 1.0) for i, c in enumerate(classes.tolist()) if i in present
        }
    elif class_weight == "balanced":
        weight = "balanced"
    values = clinical.astype(np.float64)
    mean, scale = values.mean(axis=0), values.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=1000, class_weight=weight)
    model.fit((values - mean) / scale, y_encoded)
    model_coef = model.coef_ / scale
    model_intercept = model.intercept_ - model_coef @ mean
    coef = np.zeros((n_classes, clinical.shape[1]))
    intercept = np.zeros(n_classes)
    if model_coef.shape[0] == 1:  # binary: logit difference split between the two rows
        coef[model.classes_[1]] = model_coef[0] / 2
        coef[model.classes_[0]] = -model_coef[0] / 2
        intercept[model.classes_[1]] = model_intercept[0] / 2
        intercept[model.classes_[0]] = -model_intercept[0] / 2
    else:
        coef[model.classes_] = model_coef
        intercept[model.classes_] = model_intercept
    return coef, intercept
