"""The shared base of skfusion's classifiers: input checks, the skorch net built in ``fit``,
parameter routing, prediction.

A subclass declares its torch module (``_module_class``), the module arguments that come from
its own parameters (``_module_params``) and whether it needs clinical values
(``_uses_clinical``); everything else (training plumbing, validation, devices, determinism)
lives here once.
"""

import contextlib
import copy
import difflib
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, compute_class_weight
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback, EarlyStopping

from ._input import LazyImages, as_fusion_input
from ._net import BatchAccuracy, FiniteLoss, FusionDataset, FusionNet, InterruptRecovery
from ._net import LazyBatchLoader, LazyFusionDataset, TensorBatchIterator, ValidationSplit
from ._net import resolve_device
from .callbacks import EpochCheckpoint
from ._validation import check_clinical, check_images, check_labels
from .nn.resnet import RESNET_SPECS

__all__ = ["BaseFusionClassifier", "ROUTED_PREFIXES"]

#: Prefixes of parameters passed through to the skorch net, as in skorch.
ROUTED_PREFIXES = (
    "module",
    "criterion",
    "optimizer",
    "iterator_train",
    "iterator_valid",
    "callbacks",
)


class BaseFusionClassifier(ClassifierMixin, BaseEstimator):
    """Base class of skfusion's image + clinical classifiers (not for direct use).

    Subclasses define ``__init__`` with their keyword parameters plus ``**kwargs`` for routed
    skorch parameters, and call ``self._store_routed_params(kwargs)`` there.
    """

    _parameter_constraints = {
        "backbone": [StrOptions(set(RESNET_SPECS))],
        "base_width": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [callable],
        "criterion": [callable],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "augment": ["boolean"],
        "modality_dropout": [Interval(Real, 0, 1, closed="left")],
        "clinical_shortcut": ["boolean"],
        "callbacks": [list, None],
        "device": [str],
        "mixed_precision": [StrOptions({"auto", "bf16", "fp16"}), "boolean"],
        "channels_last": [StrOptions({"auto"}), "boolean"],
        "warm_start": ["boolean"],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    _module_class = None

    @classmethod
    def _tuning_space(cls):
        """Default search space as data: name -> (kind, *arguments); see skfusion.tuning."""
        return {
            "lr": ("log_float", 1e-5, 1e-2),
            "optimizer__weight_decay": ("log_float", 1e-6, 1e-2),
            "batch_size": ("categorical", (8, 16, 32, 64)),
            "base_width": ("categorical", (8, 16, 32, 64)),
        }

    def _module_params(self):
        """Module arguments that come from the estimator's own parameters."""
        return {}

    def _uses_clinical(self):
        """Whether the network reads clinical values (so X must carry them)."""
        return True

    def _is_multimodal(self):
        """Whether the network reads more than one modality (modality dropout applies)."""
        return self._uses_clinical()

    #: Whether clinical values may be left out (the network then gets none).
    _clinical_optional = False

    def _fit_extra(self, X):
        """Inputs beyond images and clinical values (e.g. report tokens), learned in fit.

        Returns ``(arrays, fitted, module_params)``: numpy arrays for the dataset, fitted
        attributes (plain JSON values) to set once training succeeded, and module arguments.
        """
        return {}, {}, {}

    def _transform_extra(self, X):
        """The extra input arrays of ``X`` for a fitted estimator."""
        return {}

    @classmethod
    def _module_params_from_fitted(cls, fitted_extra):
        """Module arguments that :meth:`_fit_extra` derived, rebuilt from a model file."""
        return {}

    # -- parameters ------------------------------------------------------------------------

    def _store_params(self, values):
        """Store ``__init__``'s arguments as they are (``values`` is its ``locals()``)."""
        kwargs = values.pop("kwargs", {})
        for name, value in values.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)
        self._store_routed_params(kwargs)

    def _store_routed_params(self, kwargs):
        for key, value in kwargs.items():
            if "__" not in key:
                names = list(self._get_param_names()) + [f"{p}__" for p in ROUTED_PREFIXES]
                close = difflib.get_close_matches(key, names, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise TypeError(
                    f"{type(self).__name__}.__init__() got an unexpected keyword argument "
                    f"{key!r}.{hint} Parameters of the skorch net are passed with a prefix, "
                    "e.g. optimizer__weight_decay=1e-4 or module__norm_layer=..."
                )
            setattr(self, key, value)

    def _routed_params(self):
        return {
            key: value
            for key, value in vars(self).items()
            if "__" in key and not key.startswith("_") and not key.endswith("_")
        }

    def get_params(self, deep=True):
        """Get parameters, including routed ones such as ``optimizer__weight_decay``."""
        params = super().get_params(deep=deep)
        params.update(self._routed_params())
        return params

    def set_params(self, **params):
        """Set parameters; keys with a skorch prefix (``optimizer__lr``...) are stored as-is."""
        own = {}
        for key, value in params.items():
            if "__" in key and key.split("__", 1)[0] in ROUTED_PREFIXES:
                setattr(self, key, value)
            else:
                own[key] = value
        return super().set_params(**own)

    def _check_routed_params(self):
        for key in self._routed_params():
            prefix = key.split("__", 1)[0]
            if prefix not in ROUTED_PREFIXES:
                close = difflib.get_close_matches(prefix, ROUTED_PREFIXES, n=1)
                hint = f" Did you mean {close[0] + '__' + key.split('__', 1)[1]!r}?" if close \
                    else ""
                raise ValueError(
                    f"{type(self).__name__} got the parameter {key!r}, whose prefix "
                    f"{prefix!r} is not routed to the net; expected one of "
                    f"{[p + '__' for p in ROUTED_PREFIXES]}.{hint}"
                )

    # -- input ------------------------------------------------------------------------------

    def _check_X(self, X, *, fitting):
        X = as_fusion_input(X)
        if isinstance(X.images, LazyImages):
            images = X.images
            if len(images) == 0:
                raise ValueError("X.images has 0 samples; at least one is required.")
            if len(images.sample_shape) != 3:
                raise ValueError(
                    f"X.images yields samples of shape {images.sample_shape}; expected "
                    "(C, H, W)."
                )
        else:
            images = check_images(X.images)
        n_samples = images.shape[0]
        if fitting:
            if self._clinical_optional and X.clinical is None:
                return images, np.zeros((n_samples, 0), dtype=np.float32), None, X
            if self._uses_clinical() and X.clinical is None:
                raise ValueError(
                    f"{self._describe_config()} needs clinical values, but X has none; pass "
                    "X = FusionInput(images, clinical) or use mode='image'."
                )
            clinical, columns = check_clinical(
                X.clinical if self._uses_clinical() else None, n_samples=n_samples
            )
            if self._uses_clinical() and clinical.shape[1] == 0:
                raise ValueError(
                    f"{self._describe_config()} needs clinical values, but X.clinical has 0 "
                    "columns; pass at least one clinical column, or use mode='image'."
                )
            return images, clinical, columns, X
        expected = self.image_shape_
        if images.shape[1] != expected[0]:
            raise ValueError(
                f"X.images has {images.shape[1]} channel(s) but the model was fitted on "
                f"{expected[0]}; pass images with the channels used in fit."
            )
        if images.shape[2:] != tuple(expected[1:]):
            raise ValueError(
                f"X.images has spatial size {images.shape[2:]} but the model was fitted on "
                f"{tuple(expected[1:])}; resize the images to the training size."
            )
        if self._uses_clinical() and not (self._clinical_optional and self.n_features_in_ == 0):
            if X.clinical is None:
                raise ValueError(
                    f"{self._describe_config()} was fitted with clinical values, but X has "
                    "none; pass X = FusionInput(images, clinical)."
                )
            clinical, _ = check_clinical(
                X.clinical,
                n_samples=n_samples,
                fitted_columns=getattr(self, "feature_names_in_", None),
                fitted_n_features=self.n_features_in_,
            )
        else:
            clinical = np.zeros((n_samples, 0), dtype=np.float32)
        return images, clinical, None, X

    def _describe_config(self):
        mode = getattr(self, "mode", None)
        return f"{type(self).__name__}" + (f"(mode={mode!r})" if mode is not None else "")

    # -- fit --------------------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None):
        """Train the network on images, clinical values and labels.

        Parameters
        ----------
        X : FusionInput or tuple (images, clinical)
            ``images`` of shape (n_samples, H, W) or (n_samples, C, H, W); ``clinical`` a
            DataFrame or array of shape (n_samples, n_features) with numeric, complete values
            (encode and impute with :class:`~skfusion.ClinicalTransformer`).
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
        with self._torch_threads():
            if self.warm_start and hasattr(self, "net_"):
                return self._continue_training(X, y, groups=groups, classes=None, epochs=None)
            return self._fit_new(X, y, groups=groups, epochs=None, classes=None)

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
        if not hasattr(self, "net_"):
            self._validate_params()
            with self._torch_threads():
                return self._fit_new(X, y, groups=groups, epochs=1, classes=classes)
        with self._torch_threads():
            return self._continue_training(X, y, groups=groups, classes=classes, epochs=1)

    @contextlib.contextmanager
    def _torch_threads(self):
        """Run with ``n_threads`` torch threads (if set), restoring the setting afterwards."""
        if self.n_threads is None:
            yield
            return
        previous = torch.get_num_threads()
        torch.set_num_threads(self.n_threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    def _continue_training(self, X, y, *, groups, classes, epochs):
        """Train the fitted network further; on any error the model is restored."""
        images, clinical, _, X = self._check_X(X, fitting=False)
        y = check_labels(y, n_samples=images.shape[0])
        unknown = sorted(set(y.tolist()) - set(self.classes_.tolist()), key=str)
        if unknown:
            raise ValueError(
                f"y has label(s) {unknown} that the fitted model does not know "
                f"({self.classes_.tolist()}); refit without warm_start, or pass classes= with "
                "every label to the first partial_fit call."
            )
        if classes is not None and set(np.asarray(classes).tolist()) != set(
                self.classes_.tolist()):
            raise ValueError(
                f"classes={list(classes)} differs from the fitted classes "
                f"{self.classes_.tolist()}."
            )
        groups = _check_groups(groups, images.shape[0])
        y_encoded = np.searchsorted(self.classes_, y).astype(np.int64)
        dataset = _make_dataset(images, clinical, y_encoded, **self._transform_extra(X))
        net = self.net_
        # Continue with the estimator's current training settings and callbacks.
        net.set_params(lr=self.lr, max_epochs=self.max_epochs, batch_size=self.batch_size,
                       verbose=int(self.verbose), augment=self.augment,
                       modality_dropout=self.modality_dropout if self._is_multimodal() else 0.0)
        net.train_split = (ValidationSplit(self.validation_fraction, self.seed_, groups)
                           if self.early_stopping else None)
        fitted = _fitted_state(self.classes_, self.n_features_in_,
                               getattr(self, "feature_names_in_", None), self.image_shape_,
                               self.device_, self.seed_,
                               {name: getattr(self, name) for name in self._extra_fitted_names()})
        self._bind_checkpoints(fitted)
        net.callbacks = self._net_callbacks(self.seed_)
        net.initialize_callbacks()
        backup = (
            {k: v.detach().clone() for k, v in net.module_.state_dict().items()},
            copy.deepcopy(net.optimizer_.state_dict()),
            len(net.history),
        )
        try:
            net.partial_fit(dataset, y=None, epochs=epochs)
        except BaseException:
            net.module_.load_state_dict(backup[0])
            net.optimizer_.load_state_dict(backup[1])
            del net.history[backup[2]:]
            raise
        self.interrupted_ = dict(net.callbacks_)["interrupt_recovery"].interrupted_
        self.n_epochs_ = len(net.history)
        return self

    def _fit_new(self, X, y, *, groups, epochs, classes):
        self._check_routed_params()
        device = resolve_device(self.device)
        amp_dtype = self._resolve_amp_dtype(device)
        images, clinical, columns, X = self._check_X(X, fitting=True)
        extra_arrays, extra_fitted, extra_module = self._fit_extra(X)
        y = check_labels(y, n_samples=images.shape[0])
        groups = _check_groups(groups, images.shape[0])
        encoder = LabelEncoder()
        try:
            encoder.fit(y if classes is None else np.concatenate([np.asarray(classes), y]))
            y_encoded = encoder.transform(y)
        except TypeError:
            raise ValueError(
                "y mixes label types that cannot be ordered; use one type, e.g. y.astype(str)."
            ) from None
        classes = encoder.classes_
        if len(classes) < 2:
            raise ValueError(
                f"y has a single class {classes.tolist()}; a classifier needs at least two. "
                "Check the labels, or the split that produced this subset."
            )
        n_train = images.shape[0]
        if self.early_stopping:
            n_train -= int(np.ceil(self.validation_fraction * n_train))
        if n_train < 2:
            raise ValueError(
                f"X has {images.shape[0]} sample(s), leaving {n_train} for training; batch "
                "normalisation needs at least 2. Pass more samples"
                + (" or set early_stopping=False." if self.early_stopping else ".")
            )
        criterion_weight = self._criterion_weight(classes, y, y_encoded)

        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        dataset = _make_dataset(images, clinical, y_encoded.astype(np.int64), **extra_arrays)
        net = self._build_net(
            lazy=isinstance(images, LazyImages),
            n_classes=len(classes),
            n_clinical=clinical.shape[1],
            in_channels=images.shape[1],
            device=device,
            amp_dtype=amp_dtype,
            seed=seed,
            groups=groups,
            criterion_weight=criterion_weight,
            extra_module=extra_module,
        )
        fitted = _fitted_state(classes, clinical.shape[1], columns, images.shape[1:], device,
                               seed, extra_fitted)
        self._bind_checkpoints(fitted)
        # Weights and training draws come from the net's own generator (seeded with
        # ``seed``); fork_rng only keeps the module constructors' default initialisation
        # from advancing the user's global generator.
        devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
        with torch.random.fork_rng(devices=devices):
            net.initialize()
        if getattr(net.module_, "shortcut", None) is not None:
            train = np.arange(len(y_encoded))
            if self.early_stopping:  # the same split the net will make: fit on its train part
                net.train_split(dataset)
                train = np.setdiff1d(train, net.train_split.valid_positions_)
            _init_shortcut(net.module_.shortcut, clinical[train], y_encoded[train],
                           len(classes), self.class_weight, classes)
        net.partial_fit(dataset, y=None, epochs=epochs)

        # Fitted state is assigned only once training has finished.
        self.net_ = net
        self.classes_ = classes
        self.n_features_in_ = clinical.shape[1]
        if columns is not None:
            self.feature_names_in_ = columns
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if self.early_stopping:
            self.validation_indices_ = net.train_split.valid_positions_
        elif hasattr(self, "validation_indices_"):
            del self.validation_indices_
        self.image_shape_ = tuple(images.shape[1:])
        self.device_ = device
        self.seed_ = seed
        for name, value in extra_fitted.items():
            setattr(self, name, value)
        self.n_epochs_ = len(net.history)
        self.interrupted_ = dict(net.callbacks_)["interrupt_recovery"].interrupted_
        return self

    # -- persistence ----------------------------------------------------------------------

    def save(self, path):
        """Write the fitted model to ``path`` in skfusion's safe format.

        The file is a zip archive holding ``meta.json`` (format version, skfusion and torch
        versions, parameters, classes, the clinical columns and image shape the model
        expects) and ``weights.pt`` (the network's tensors, read back with
        ``torch.load(weights_only=True)``). :func:`skfusion.load` reads it without running
        any code from the file. Callbacks are not saved.
        """
        check_is_fitted(self)
        from ._persistence import write_model_file

        fitted = _fitted_state(self.classes_, self.n_features_in_,
                               getattr(self, "feature_names_in_", None), self.image_shape_,
                               self.device_, self.seed_,
                               {name: getattr(self, name) for name in self._extra_fitted_names()})
        fitted["n_epochs_"] = self.n_epochs_
        write_model_file(path, self, fitted=fitted, net=self.net_)
        return path

    def _extra_fitted_names(self):
        return []

    @classmethod
    def _restore(cls, params, fitted, state, optimizer_state=None, *, source):
        from ._persistence import ModelFileError

        estimator = cls(**params)
        try:
            estimator._validate_params()
            estimator._check_routed_params()
        except ValueError as exc:
            raise ModelFileError(f"{source}: {exc}") from None
        device = resolve_device(estimator.device)
        classes = np.asarray(fitted["classes"], dtype=np.dtype(fitted["classes_dtype"]))
        image_shape = tuple(fitted["image_shape"])
        net = estimator._build_net(
            lazy=False, n_classes=len(classes), n_clinical=fitted["n_features_in"],
            in_channels=image_shape[0], device=device,
            amp_dtype=estimator._resolve_amp_dtype(device), seed=fitted.get("seed", 0),
            groups=None, criterion_weight=None,
            extra_module=cls._module_params_from_fitted(fitted.get("extra", {})),
        )
        # Size the network on the meta device (nothing allocated) before building it: a
        # file cannot make load build more values than its weights file holds.
        with torch.device("meta"):
            probe = net.module(**net.get_params_for("module"))
        expected = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
        del probe
        found = {k: tuple(v.shape) for k, v in state.items()}
        if expected != found:
            missing = sorted(set(expected) - set(found))[:3]
            differ = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
            raise ModelFileError(
                f"{source}: the saved weights do not fit the network its parameters describe "
                f"(missing {missing}, unexpected {sorted(set(found) - set(expected))[:3]}, "
                f"other shapes {differ[:3]}); the file is damaged or was edited.")
        if fitted.get("shuffle_state") is not None:
            kind, keys, position, has_gauss, gauss = fitted["shuffle_state"]
            rng = np.random.RandomState()
            rng.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, gauss))
            net.set_params(iterator_train__random_state=rng)
        net.initialize()
        try:
            net.module_.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelFileError(
                f"{source}: the saved weights do not fit the network its parameters describe "
                f"({str(exc).splitlines()[0]}); the file is damaged or was edited."
            ) from None
        if optimizer_state is not None:
            net.optimizer_.load_state_dict(optimizer_state)
        if fitted.get("generator_state") is not None:
            net.generator_.set_state(torch.tensor(fitted["generator_state"], dtype=torch.uint8))
        # History up to the saved epoch, so that warm starts count epochs on from there.
        for _ in range(fitted.get("n_epochs_", 0)):
            net.history.new_epoch()
            net.history.record("epoch", len(net.history))
        estimator.net_ = net
        estimator.classes_ = classes
        estimator.n_features_in_ = fitted["n_features_in"]
        if fitted.get("feature_names_in") is not None:
            estimator.feature_names_in_ = np.asarray(fitted["feature_names_in"], dtype=object)
        estimator.image_shape_ = image_shape
        estimator.device_ = device
        estimator.n_epochs_ = fitted.get("n_epochs_", 0)
        estimator.seed_ = fitted.get("seed", 0)
        estimator.interrupted_ = False
        for name, value in fitted.get("extra", {}).items():
            setattr(estimator, name, value)
        return estimator

    def _resolve_amp_dtype(self, device):
        setting = self.mixed_precision
        device_type = torch.device(device).type
        if setting is False:
            return None
        if setting == "auto":
            if device_type != "cuda":
                return None
            setting = True
        if setting is True:
            if device_type == "cuda":
                return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            return torch.bfloat16
        return {"bf16": torch.bfloat16, "fp16": torch.float16}[setting]

    def _criterion_weight(self, classes, y, y_encoded):
        if self.class_weight is None:
            return None
        if "criterion__weight" in self._routed_params():
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
        weights = compute_class_weight(
            self.class_weight if self.class_weight == "balanced" else
            {i: self.class_weight.get(c, 1.0) for i, c in enumerate(classes.tolist())},
            classes=np.arange(len(classes)),
            y=y_encoded,
        )
        return torch.as_tensor(weights, dtype=torch.float32)

    def _net_callbacks(self, seed):
        """The net's callbacks: interrupt recovery, finite loss, early stopping, the user's."""
        quiet = not self.verbose
        callbacks = [("interrupt_recovery", InterruptRecovery()), ("finite_loss", FiniteLoss())]
        if self.early_stopping:
            callbacks.append(("valid_acc", BatchAccuracy()))
            callbacks.append((
                "early_stopping",
                EarlyStopping(
                    monitor="valid_loss",
                    patience=self.n_iter_no_change,
                    load_best=True,
                    sink=_silent if quiet else print,
                ),
            ))
        for index, callback in enumerate(self.callbacks or []):
            if isinstance(callback, tuple):
                callbacks.append(callback)
            elif isinstance(callback, Callback) or isinstance(callback, type):
                callbacks.append(callback)
            else:
                raise ValueError(
                    f"callbacks[{index}] is {callback!r}; expected a skorch Callback or a "
                    "(name, Callback) tuple."
                )
        return callbacks

    def _bind_checkpoints(self, fitted):
        for callback in self.callbacks or []:
            callback = callback[1] if isinstance(callback, tuple) else callback
            if isinstance(callback, EpochCheckpoint):
                callback._bind(self, fitted)

    def _build_net(self, *, lazy, n_classes, n_clinical, in_channels, device, amp_dtype,
                   seed, groups, criterion_weight, extra_module=None):
        callbacks = self._net_callbacks(seed)
        train_split = None
        if self.early_stopping:
            train_split = ValidationSplit(self.validation_fraction, seed, groups)
        module_params = {
            "module__n_classes": n_classes,
            "module__n_clinical": n_clinical,
            "module__in_channels": in_channels,
            **{f"module__{k}": v for k, v in self._module_params().items()},
            "module__clinical_shortcut": bool(self.clinical_shortcut and self._is_multimodal()
                                              and n_clinical > 0),
            **{f"module__{k}": v for k, v in (extra_module or {}).items()},
        }
        criterion_params = {} if criterion_weight is None else {
            "criterion__weight": criterion_weight}
        net_params = {
            "module": self._module_class,
            "criterion": self.criterion,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "max_epochs": self.max_epochs,
            "batch_size": self.batch_size,
            "iterator_train": LazyBatchLoader if lazy else TensorBatchIterator,
            "iterator_train__shuffle": True,
            "iterator_train__random_state": np.random.RandomState(seed),
            "iterator_train__merge_singleton": True,
            "iterator_valid": LazyBatchLoader if lazy else TensorBatchIterator,
            **({"iterator_train__pin_memory": True, "iterator_valid__pin_memory": True}
               if lazy and device.startswith("cuda") else {}),
            "train_split": train_split,
            "callbacks": callbacks,
            "device": device,
            "verbose": int(self.verbose),
            "channels_last": (
                device.startswith("cuda") if self.channels_last == "auto" else self.channels_last
            ),
            "amp_dtype": amp_dtype,
            "seed": seed,
            "augment": self.augment,
            "modality_dropout": self.modality_dropout if self._is_multimodal() else 0.0,
            **module_params,
            **criterion_params,
            **self._routed_params(),
        }
        return FusionNet(**net_params)

    # -- predict ----------------------------------------------------------------------------

    def _forward_logits(self, X):
        check_is_fitted(self)
        images, clinical, _, X = self._check_X(X, fitting=False)
        dataset = _make_dataset(images, clinical, **self._transform_extra(X))
        with torch.inference_mode(), self._torch_threads():
            logits = self.net_.forward(dataset)
        if isinstance(logits, tuple):
            logits = logits[0]
        finite = torch.isfinite(logits).all(dim=1)
        if not finite.all():
            bad = torch.nonzero(~finite).flatten()[:5].tolist()
            raise ValueError(
                f"the network produced NaN or infinite outputs for {int((~finite).sum())} "
                f"sample(s) (first at {bad}); their inputs are probably extreme (images range "
                f"{np.min(images):.3g} to {np.max(images):.3g}). Scale images and clinical "
                "values to the range seen in training."
                if not isinstance(images, LazyImages) else
                f"the network produced NaN or infinite outputs for {int((~finite).sum())} "
                f"sample(s) (first at {bad}); check those images for extreme values."
            )
        return logits.double()

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order.

        Prediction runs in batches of ``batch_size`` (or ``iterator_valid__batch_size``), so
        memory stays bounded for large inputs.
        """
        return torch.softmax(self._forward_logits(X), dim=1).numpy()

    def predict_log_proba(self, X):
        """Log of the class probabilities, computed stably from the logits."""
        return torch.log_softmax(self._forward_logits(X), dim=1).numpy()

    def decision_function(self, X):
        """Unnormalised scores: logits of shape (n_samples, n_classes), or for two classes the
        logit of ``classes_[1]`` minus that of ``classes_[0]``, shape (n_samples,), as in sklearn.
        """
        logits = self._forward_logits(X).numpy()
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict(self, X):
        """The most probable class of each sample, as labels from ``classes_``."""
        logits = self._forward_logits(X).numpy()
        return self.classes_[np.argmax(logits, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.classifier_tags.multi_class = True
        return tags


def _silent(*args, **kwargs):
    return None


def _init_shortcut(shortcut, clinical, y_encoded, n_classes, class_weight, classes):
    """Start the clinical shortcut at an L2-penalised logistic regression (C=1, on the
    standardised values) fitted on the training samples: the network begins as that logistic
    regression, and its deep path learns what the image adds (stage-wise fitting)."""
    from sklearn.linear_model import LogisticRegression

    present = np.unique(y_encoded)
    if len(present) < 2:
        return
    weight = None
    if isinstance(class_weight, dict):
        weight = {i: class_weight.get(c, 1.0) for i, c in enumerate(classes.tolist())
                  if i in present}
    elif class_weight == "balanced":
        weight = "balanced"
    # Fitted on standardised values (so unscaled tables converge), folded back into weights
    # on the raw values.
    values = clinical.astype(np.float64)
    mean, scale = values.mean(axis=0), values.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=1000, class_weight=weight)
    model.fit((values - mean) / scale, y_encoded)
    model.coef_ = model.coef_ / scale
    model.intercept_ = model.intercept_ - model.coef_ @ mean
    coef = np.zeros((n_classes, clinical.shape[1]))
    intercept = np.zeros(n_classes)
    if model.coef_.shape[0] == 1:  # binary: logit difference split between the two rows
        coef[model.classes_[1]] = model.coef_[0] / 2
        coef[model.classes_[0]] = -model.coef_[0] / 2
        intercept[model.classes_[1]] = model.intercept_[0] / 2
        intercept[model.classes_[0]] = -model.intercept_[0] / 2
    else:
        coef[model.classes_] = model.coef_
        intercept[model.classes_] = model.intercept_
    with torch.no_grad():
        shortcut.weight.copy_(torch.as_tensor(coef, dtype=shortcut.weight.dtype))
        shortcut.bias.copy_(torch.as_tensor(intercept, dtype=shortcut.bias.dtype))


def _fitted_state(classes, n_features, columns, image_shape, device, seed, extra=None):
    """Fitted attributes as plain JSON values (for model files)."""
    classes = np.asarray(classes)
    return {
        "classes": classes.tolist(),
        "classes_dtype": classes.dtype.str if classes.dtype != object else "O",
        "n_features_in": int(n_features),
        "feature_names_in": None if columns is None else [str(c) for c in columns],
        "image_shape": [int(d) for d in image_shape],
        "trained_on": device,
        "seed": int(seed),
        "extra": dict(extra or {}),
    }


def _check_groups(groups, n_samples):
    if groups is None:
        return None
    groups = np.asarray(groups)
    if groups.ndim != 1 or len(groups) != n_samples:
        raise ValueError(
            f"groups must have one entry per sample ({n_samples}); got shape {groups.shape}."
        )
    return groups


def _make_dataset(images, clinical, y=None, tokens=None):
    y = None if y is None else torch.from_numpy(y)
    tokens = None if tokens is None else torch.from_numpy(tokens)
    if isinstance(images, LazyImages):
        return LazyFusionDataset(images, torch.from_numpy(clinical), y, tokens)
    return FusionDataset(torch.from_numpy(images), torch.from_numpy(clinical), y, tokens)
