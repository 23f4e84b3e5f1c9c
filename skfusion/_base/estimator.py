"""The task-neutral estimator core: parameters, input checks, fit / partial_fit / warm start,
model files, and the skorch net built in ``fit``.

It knows nothing of classes, targets or survival times: a task layer
(:mod:`skfusion._tasks.classification`, :mod:`skfusion._tasks.regression`,
:mod:`skfusion._tasks.survival`) turns ``y`` into what the network trains on and the
network's outputs into predictions, and a fusion family (one module each, e.g.
:mod:`skfusion._families.clinical_attention`) declares its network. Both contracts are
listed in :class:`BaseFusionEstimator` and in ``docs/developers.md``. Nothing here touches a
tensor: the net layer (:mod:`skfusion._net`) makes every torch decision.
"""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._net.data import make_dataset
from .building import NetBuildMixin
from .exporting import ExportMixin
from .image_weights import IMAGE_WEIGHTS_CONSTRAINTS, ImageWeightsMixin
from .._input import LazyImages, subjects_of, warn_if_subjects_repeat
from .input_checks import check_fusion_input, resolve_slices
from .localizing import LocalizeMixin
from .masks import check_masks
from .model_files import ModelFileMixin
from .._net.callbacks import ValidationSplit
from .._net.net import resolve_device, torch_threads
from .._net.callbacks import still_improving
from .params import check_routed_params, make_init, routed_params, split_routed
from .safe_names import register_estimator
from ..nn.augment import augmentation_policy, policy_flips
from ..nn.resnet import RESNET_SPECS
from ..nn.slice_stack import POOLINGS
from ..preprocessing._table import TableEncoder

__all__ = ["BaseFusionEstimator", "SHARED_SEARCH_SPACE", "Target"]

#: Parameters every estimator has, with their defaults: the paper's network and optimiser
#: settings plus the training remedies (augmentation, modality dropout, clinical shortcut).
SHARED_DEFAULTS = {
    "backbone": "resnet50",
    "base_width": 64,
    "max_epochs": 100,
    "batch_size": 16,
    "lr": 1e-4,
    "optimizer": torch.optim.Adam,
    "early_stopping": False,
    "validation_fraction": 0.1,
    "n_iter_no_change": 10,
    "tol": 1e-4,
    "augment": "auto",
    "modality_dropout": 0.2,
    "localization_weight": 1.0,
    "image_weights": None,
    "freeze": None,
    "clinical_shortcut": True,
    "clinical_preprocessing": "auto",
    "slices": "auto",
    "spatial_dims": 2,
    "callbacks": None,
    "device": "auto",
    "mixed_precision": "auto",
    "channels_last": "auto",
    "warm_start": False,
    "n_threads": None,
    "random_state": None,
    "verbose": 1,
}

#: The default search space every estimator shares (name -> (kind, *arguments); see
#: :func:`skfusion.tuning.search_space`); a family adds its own in ``_search_space``.
SHARED_SEARCH_SPACE = {
    "lr": ("log_float", 1e-5, 1e-2),
    "optimizer__weight_decay": ("log_float", 1e-6, 1e-2),
    "batch_size": ("categorical", (8, 16, 32, 64)),
    "base_width": ("categorical", (8, 16, 32, 64)),
}


class Target:
    """What a task layer hands the core: the array the network trains on (``values``), the
    network's output width (``n_outputs``), the labels the validation split keeps in
    proportion (``stratify``, or None) and the fitted attributes learned from ``y``
    (``fitted``, e.g. ``{"classes_": ...}``); ``raw`` keeps what the task layer needs of the
    validated ``y`` at full precision after training (survival times)."""

    def __init__(self, values, n_outputs, stratify=None, fitted=None, raw=None):
        self.values = values
        self.n_outputs = n_outputs
        self.stratify = stratify
        self.fitted = dict(fitted or {})
        self.raw = raw


class BaseFusionEstimator(NetBuildMixin, ImageWeightsMixin, LocalizeMixin, ExportMixin,
                          ModelFileMixin, BaseEstimator):
    """Task-neutral base of skfusion's estimators (not for direct use).

    **A fusion family declares** (class attributes, data): ``_module_class`` (the torch
    module), ``_declared_params`` (its parameters: name -> default), ``_declared_constraints``
    (their sklearn constraints), ``_module_param_names`` (those forwarded to the module as
    ``module__<name>``), ``_search_space`` (its tuning space), ``_inputs`` (which inputs the
    network reads, per configuration), and optionally ``_fuses``, ``_clinical_optional``
    (clinical values may be left out) and ``_extra_fitted`` (names of fitted attributes
    learned from extra inputs). **It may override**, for inputs beyond images and clinical
    values, ``_learn_extra(X)``, ``_extra_arrays(X)`` and ``_derived_module_params(extra)``.

    **A task layer implements**: ``_fit_target``, ``_encode_target``, ``_criterion_params``,
    ``_start_shortcut``, ``_target_state`` / ``_restore_target`` / ``_check_target_state``
    (model files), and optionally ``_monitor_callbacks`` and ``_after_training``.

    ``__init__`` is built from the declared parameters (:func:`skfusion._base.params.make_init`):
    keyword-only, stored as given, routed ``prefix__name`` parameters accepted.
    """

    _declared_params = SHARED_DEFAULTS
    _declared_constraints = {
        "backbone": [StrOptions(set(RESNET_SPECS))],
        "base_width": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [callable],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "augment": ["boolean", StrOptions({"auto"}), Hidden(StrOptions({"custom"})), dict,
                    callable],
        "modality_dropout": [Interval(Real, 0, 1, closed="left")],
        "localization_weight": [Interval(Real, 0, None, closed="left")],
        **IMAGE_WEIGHTS_CONSTRAINTS,
        "clinical_shortcut": ["boolean"],
        "clinical_preprocessing": [StrOptions({"auto"}), None],
        "slices": [StrOptions({"auto", "channels", *POOLINGS})],
        "spatial_dims": [Interval(Integral, 2, 3, closed="both")],
        "callbacks": [list, None],
        "device": [str],
        "mixed_precision": [StrOptions({"auto", "bf16", "fp16"}), "boolean"],
        "channels_last": [StrOptions({"auto"}), "boolean"],
        "warm_start": ["boolean"],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }
    _parameter_constraints = dict(_declared_constraints)
    _module_class = None
    #: The inputs the network reads ("images", "clinical", "text"): a set, or for a family
    #: whose inputs follow a parameter, ``(parameter, {value: set})`` (e.g. by ``mode``).
    _inputs = frozenset({"images", "clinical"})
    #: False where the inputs are not fused for a prediction but are the task itself
    #: (report generation, pretraining): no modality dropout, no clinical shortcut.
    _fuses = True
    _module_param_names = ()
    _search_space = {}
    _clinical_optional = False
    _extra_fitted = ()
    #: Why this estimator's targets forbid left-right flips (None: flips are the user's call).
    _flip_refusal = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        defaults, constraints = {}, {}
        for klass in cls.__mro__:  # the family's parameters first, then the task's, then ours
            for name, value in vars(klass).get("_declared_params", {}).items():
                defaults.setdefault(name, value)
            for name, value in vars(klass).get("_declared_constraints", {}).items():
                constraints.setdefault(name, value)
        cls._parameter_constraints = constraints
        if "__init__" not in vars(cls):
            cls.__init__ = make_init(defaults, cls.__name__)
        if cls._module_class is not None and not cls.__name__.startswith("_"):
            register_estimator(cls)

    # -- the family's inputs, from its table -------------------------------------------------

    def _inputs_read(self):
        """The inputs the network reads in this configuration, from ``_inputs``."""
        if isinstance(self._inputs, tuple):  # (parameter, {value: inputs})
            name, table = self._inputs
            return table[getattr(self, name)]
        return self._inputs

    def _uses_clinical(self):
        """Whether the network reads clinical values (so X must carry them)."""
        return "clinical" in self._inputs_read()

    def _reads_images(self):
        """Whether the network has an image path (so it can learn to localise)."""
        return "images" in self._inputs_read()

    def _is_multimodal(self):
        """Whether the network fuses an image with other inputs for one prediction: modality
        dropout and the clinical shortcut then apply."""
        inputs = self._inputs_read()
        return self._fuses and "images" in inputs and len(inputs) > 1

    def _learn_extra(self, X):
        """Inputs beyond images and clinical values, learned in fit: ``(arrays, fitted)``."""
        return {}, {}

    def _extra_arrays(self, X):
        """The extra input arrays of ``X`` for a fitted estimator."""
        return {}

    @classmethod
    def _derived_module_params(cls, extra):
        """Module arguments derived from the fitted extra attributes."""
        return {}

    def _module_params(self):
        return {name: tuple(value) if isinstance(value, list) else value
                for name, value in ((n, getattr(self, n)) for n in self._module_param_names)}

    # -- the task's defaults -----------------------------------------------------------------

    def _target_inputs(self, target):
        """Network inputs made from the target in training (teacher forcing): a dict."""
        return {}

    def _monitor_callbacks(self):
        """Callbacks recording validation metrics beyond the loss."""
        return []

    def _after_training(self, net, dataset, target):
        """Fitted attributes computed once training is over (e.g. a baseline hazard)."""
        return {}

    # -- parameters --------------------------------------------------------------------------

    def get_params(self, deep=True):
        """Get parameters, including routed ones such as ``optimizer__weight_decay``."""
        return {**super().get_params(deep=deep), **routed_params(self)}

    def set_params(self, **params):
        """Set parameters; keys with a skorch prefix (``optimizer__lr``...) are stored as-is."""
        routed, own = split_routed(params)
        for key, value in routed.items():
            setattr(self, key, value)
        return super().set_params(**own)

    def _describe_config(self):
        mode = getattr(self, "mode", None)
        return f"{type(self).__name__}" + (f"(mode={mode!r})" if mode is not None else "")

    def _check_X(self, X, *, fitting):
        """Checked ``(images, clinical, columns, X)``; after fit, the clinical values are
        encoded by the fitted ``clinical_encoder_`` (when the model has one)."""
        images, clinical, columns, X = check_fusion_input(self, X, fitting=fitting)
        encoder = getattr(self, "clinical_encoder_", None)
        if not fitting and encoder is not None and clinical.shape[1] > 0:
            clinical = encoder.transform(clinical)
        return images, clinical, columns, X

    # -- fit -----------------------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None):
        """Train the network (see the task layer's docstring for ``y``)."""
        with torch_threads(self.n_threads):
            if self.warm_start and hasattr(self, "net_"):
                return self._continue_training(X, y, groups=groups, classes=None, epochs=None)
            return self._fit_new(X, y, groups=groups, epochs=None, classes=None)

    def _partial_fit(self, X, y, *, groups, classes=None):
        if not hasattr(self, "net_"):
            self._validate_params()
            with torch_threads(self.n_threads):
                return self._fit_new(X, y, groups=groups, epochs=1, classes=classes)
        with torch_threads(self.n_threads):
            return self._continue_training(X, y, groups=groups, classes=classes, epochs=1)

    def _check_augment(self):
        """Check ``augment`` before any work: a policy, and no flips where the target is
        not mirrored with the image."""
        if isinstance(self.augment, str) and self.augment == "custom":
            raise ValueError(
                "augment='custom': this model was fitted with a custom augmentation callable, "
                "which model files do not hold. Pass it again to train further: "
                "model.set_params(augment=<your callable>) (or 'auto', a dict, True/False).")
        policy = augmentation_policy(self.augment)
        if self._flip_refusal and policy_flips(policy):
            raise ValueError(
                f"augment={self.augment!r} flips images left-right, which "
                f"{type(self).__name__} refuses: {self._flip_refusal} Use augment='auto' "
                "(no flips) or a dict with flip=0.")

    def _fit_new(self, X, y, *, groups, epochs, classes):
        check_routed_params(self)
        self._check_augment()
        weights = self._check_image_weights()
        device = resolve_device(self.device)
        images, clinical, columns, X = self._check_X(X, fitting=True)
        slices = resolve_slices(self, X, images)
        n_samples = images.shape[0]
        n_features = clinical.shape[1]
        masks = self._training_masks(X, images, slices)
        extra_arrays, extra_fitted = self._learn_extra(X)
        target = self._fit_target(y, n_samples=n_samples, classes=classes)
        target_fitted = target.fitted
        groups = _check_groups(subjects_of(X, groups), n_samples)
        if self.early_stopping and groups is None:
            warn_if_subjects_repeat(X, X.clinical, "the early-stopping validation split",
                                    stacklevel=6)
        n_train = n_samples
        if self.early_stopping:
            n_train -= int(np.ceil(self.validation_fraction * n_train))
        if n_train < 2:
            raise ValueError(
                f"X has {n_samples} sample(s), leaving {n_train} for training; batch "
                "normalisation needs at least 2. Pass more samples"
                + (" or set early_stopping=False." if self.early_stopping else "."))
        criterion = self._criterion_params(target)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        train = np.arange(n_samples)
        if self.early_stopping:  # the split the net will make: nothing is learned from its
            split = ValidationSplit(self.validation_fraction, seed, groups, target.stratify)
            split(np.arange(n_samples))  # validation part (encoder, shortcut start)
            train = np.setdiff1d(train, split.valid_positions_)
        encoder = None
        if self._uses_clinical() and self.clinical_preprocessing == "auto" and n_features:
            encoder = TableEncoder().fit(clinical.iloc[train] if hasattr(clinical, "iloc")
                                         else clinical[train])
            clinical = encoder.transform(clinical)
        dataset = make_dataset(images, clinical, target.values, masks=masks, **extra_arrays,
                               **self._target_inputs(target))
        net = self._build_net(
            lazy=isinstance(images, LazyImages), n_outputs=target.n_outputs,
            n_clinical=clinical.shape[1], in_channels=images.shape[1], device=device,
            seed=seed, groups=groups, stratify=target.stratify, criterion=criterion,
            extra_module=self._derived_module_params(extra_fitted), slices=slices,
            localize=masks is not None)
        net.initialize_seeded()
        common = {"n_features_in_": n_features, "feature_names_in_": columns,
                  "clinical_encoder_": encoder,
                  "image_shape_": tuple(images.shape[1:]), "device_": device, "seed_": seed,
                  "slices_": slices, "localizes_": masks is not None,
                  **self._load_image_weights(net, weights)}
        self._bind_checkpoints(self._fitted_state(common, target_fitted, extra_fitted),
                               common["pretrained_weights_"])
        if net.has_submodule("shortcut"):
            self._start_shortcut(net, clinical[train], target, train)
        net.partial_fit(dataset, y=None, epochs=epochs)
        if epochs is None:
            warn_if_still_improving(self, net)
        target_fitted = {**target_fitted, **self._after_training(net, dataset, target)}
        # Fitted state is assigned only once training has finished.
        self._assign_fitted(net, common, target_fitted, extra_fitted)
        if self.early_stopping:
            self.validation_indices_ = net.train_split.valid_positions_
        elif hasattr(self, "validation_indices_"):
            del self.validation_indices_
        self.interrupted_ = dict(net.callbacks_)["interrupt_recovery"].interrupted_
        return self

    def _continue_training(self, X, y, *, groups, classes, epochs):
        """Train the fitted network further; on any error the model is restored."""
        self._check_augment()
        images, clinical, _, X = self._check_X(X, fitting=False)
        target = self._encode_target(y, n_samples=images.shape[0], classes=classes)
        groups = _check_groups(subjects_of(X, groups), images.shape[0])
        masks = None
        if X.masks is not None and self.localizes_:
            masks = check_masks(X.masks, images.shape[0], images.shape[1:], self.slices_)
        elif X.masks is not None:
            import warnings

            warnings.warn("X.masks are ignored: this model was fitted without masks, so it "
                          "has no localisation head to train. Fit a new model with masks "
                          "(warm_start=False) to learn to localise.", UserWarning,
                          stacklevel=4)
        dataset = make_dataset(images, clinical, target.values, masks=masks,
                               **self._extra_arrays(X), **self._target_inputs(target))
        net = self.net_
        # Continue with the estimator's current training settings and callbacks.
        net.set_params(lr=self.lr, max_epochs=self.max_epochs, batch_size=self.batch_size,
                       verbose=int(self.verbose), augment=self.augment,
                       modality_dropout=self.modality_dropout if self._is_multimodal() else 0.0,
                       localization_weight=self.localization_weight)
        net.train_split = (ValidationSplit(self.validation_fraction, self.seed_, groups,
                                           target.stratify) if self.early_stopping else None)
        self._bind_checkpoints(self._current_fitted_state(),
                               getattr(self, "pretrained_weights_", None))
        if getattr(self, "pretrained_weights_", None) is not None:
            self._freeze(net, self.image_weights_loaded_)
        net.callbacks = self._net_callbacks()
        net.initialize_callbacks()
        snapshot = net.snapshot()
        before = len(net.history)
        try:
            net.partial_fit(dataset, y=None, epochs=epochs)
            if epochs is None:
                warn_if_still_improving(self, net, before)
            after = self._after_training(net, dataset, target)
        except BaseException:
            net.restore(snapshot)
            raise
        for name, value in after.items():
            setattr(self, name, value)
        self.interrupted_ = dict(net.callbacks_)["interrupt_recovery"].interrupted_
        self.n_epochs_ = len(net.history)
        return self

    def _assign_fitted(self, net, common, target_fitted, extra_fitted):
        """Set every fitted attribute (after fit, and when a model file is loaded)."""
        self.net_ = net
        for name, value in {**common, **target_fitted, **extra_fitted}.items():
            if value is None and name in ("feature_names_in_", "clinical_encoder_",
                                          "pretrained_weights_"):
                if hasattr(self, name):
                    delattr(self, name)
                continue
            setattr(self, name, value)
        self.n_epochs_ = len(net.history)

    def _training_masks(self, X, images, slices):
        """The checked masks of ``X`` (uint8), or None when it has none."""
        if X.masks is None:
            return None
        if not self._reads_images():
            raise ValueError(
                f"X has masks, but {self._describe_config()} does not look at images, so it "
                "cannot learn to localise; drop the masks or use a mode with an image path.")
        return check_masks(X.masks, images.shape[0], images.shape[1:], slices)

    # -- predict -------------------------------------------------------------------------------

    def _outputs(self, X):
        """The network's outputs for ``X``: float64 array (n_samples, n_outputs)."""
        check_is_fitted(self)
        images, clinical, _, X = self._check_X(X, fitting=False)
        dataset = make_dataset(images, clinical, **self._extra_arrays(X))
        outputs = self.net_.predict_outputs(dataset, threads=self.n_threads)
        finite = np.isfinite(outputs).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)[:5].tolist()
            where = (f"their inputs are probably extreme (images range {np.min(images):.3g} "
                     f"to {np.max(images):.3g}). Scale images and clinical values to the "
                     "range seen in training." if not isinstance(images, LazyImages) else
                     "check those images for extreme values.")
            raise ValueError(
                f"the network produced NaN or infinite outputs for {int((~finite).sum())} "
                f"sample(s) (first at {bad}); {where}")
        return outputs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags


def warn_if_still_improving(estimator, net, start=0):
    """Warn with sklearn's ``ConvergenceWarning`` when a fit ran all ``max_epochs`` while the
    monitored loss (the validation loss with early stopping, the training loss otherwise)
    was still improving by sklearn's MLP rule (``tol``, ``n_iter_no_change``)."""
    history = net.history[start:]
    if len(history) < estimator.max_epochs or dict(net.callbacks_)[
            "interrupt_recovery"].interrupted_:
        return
    key = "valid_loss" if estimator.early_stopping else "train_loss"
    losses = [float(row[key]) for row in history if key in row]
    if losses and still_improving(losses, estimator.tol, estimator.n_iter_no_change):
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        warnings.warn(
            f"{estimator._describe_config()}: training ended at max_epochs="
            f"{estimator.max_epochs} while the {key.replace('_', ' ')} was still improving "
            f"(by more than tol={estimator.tol:g} within the last "
            f"{estimator.n_iter_no_change} epochs); the model may be under-trained. Raise "
            + ("max_epochs (early stopping did not trigger)." if estimator.early_stopping
               else "max_epochs, or turn on early_stopping."), ConvergenceWarning,
            stacklevel=_caller_level())


def _caller_level():
    """The ``stacklevel`` that points a warning at the first caller outside skfusion and
    scikit-learn (the user's ``fit``, however many wrappers lie between)."""
    import os
    import sys

    import sklearn

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # skfusion/
    inside = (package + os.sep,
              os.path.dirname(os.path.abspath(sklearn.__file__)) + os.sep)
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(inside):
        frame, level = frame.f_back, level + 1
    return level


def _check_groups(groups, n_samples):
    if groups is None:
        return None
    groups = np.asarray(groups)
    if groups.ndim != 1 or len(groups) != n_samples:
        raise ValueError(
            f"groups must have one entry per sample ({n_samples}); got shape {groups.shape}.")
    return groups
