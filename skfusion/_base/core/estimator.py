"""The task-neutral estimator core: parameters, input checks, fit / partial_fit / warm start
(carried out by :mod:`.training`), model files, and the skorch net built in ``fit``.

It knows nothing of classes, targets or survival times: a task layer
(:mod:`skfusion._tasks.classification`, :mod:`skfusion._tasks.regression`,
:mod:`skfusion._tasks.survival`) turns ``y`` into what the network trains on and the
network's outputs into predictions, and a fusion family (one module each, e.g.
:mod:`skfusion._families.clinical_attention`) declares its network. Both contracts are
listed in :class:`BaseFusionEstimator` and in ``docs/developers.md``. Nothing here touches a
tensor: the net layer (:mod:`skfusion._net`) makes every torch decision.
"""

import inspect

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils.validation import check_is_fitted

from ..._input import LazyImages
from ..._net.device import torch_threads
from ..._net.linear_paths import linear_layer
from ..._net.net import FusionNet
from ..files import model_files
from ..files.safe_names import register_estimator
from ..inputs.input_checks import check_fusion_input
from ..inputs.masks import check_masks
from ..inputs.presence import modalities_used, presence_arrays
from ..parameters.docstrings import fill_doc
from ..parameters.params import declared, make_init, routed_params, split_routed
from ..parameters.shared_params import KWARGS_DOC, SHARED_PARAMS
from ..pretrained.image_weights import image_encoder_state
from . import exporting, localizing, training
from .building import build_net
from .checked import CheckedInput
from .contract import check_module_keywords
from .settings import Settings

__all__ = ["BaseFusionEstimator"]


class BaseFusionEstimator(BaseEstimator):
    """Task-neutral base of skfusion's estimators (not for direct use).

    **A fusion family declares** (class attributes, data): ``_module_class`` (the torch
    module), ``_params`` (its parameters, one
    :class:`~skfusion._base.parameters.params.Param` record each: default, constraints,
    documentation, forwarding to the module, search space and model-file cap; every view is
    made from them), ``_inputs`` (which inputs the network reads, per configuration), and
    optionally ``_fuses``, ``_clinical_optional`` (clinical values may be left out) and
    ``_extra_inputs`` (an :class:`~skfusion._base.core.encoders.ExtraInputs` for inputs
    beyond images and clinical values).

    **A task layer declares** its ``_params``, ``_doc_task`` and ``_target_encoder`` (a
    :class:`~skfusion._base.core.encoders.TargetEncoder`), and implements ``_criterion_params``
    and ``_start_shortcut``; optionally ``_monitor_callbacks``, ``_after_training``,
    ``_target_inputs`` and ``_export_head``.

    ``__init__`` is built from the parameter records
    (:func:`skfusion._base.parameters.params.make_init`): keyword-only, stored as given,
    routed ``prefix__name`` parameters accepted.
    """

    _params = SHARED_PARAMS
    _parameter_constraints = {name: record.constraints for name, record in SHARED_PARAMS.items()}
    _module_class = None
    #: The inputs the network reads ("images", "clinical", "text"): a set, or for a family
    #: whose inputs follow a parameter, ``(parameter, {value: set})`` (e.g. by ``mode``).
    _inputs = frozenset({"images", "clinical"})
    #: False where the inputs are not fused for a prediction but are the task itself
    #: (report generation, pretraining): no modality dropout, no clinical shortcut.
    _fuses = True
    _clinical_optional = False
    #: The family's inputs beyond images and clinical values: an
    #: :class:`~skfusion._base.core.encoders.ExtraInputs` subclass, or None.
    _extra_inputs = None
    #: Why the network cannot stand in for a missing image (None: it can).
    _missing_images = None
    #: The task's target: a :class:`~skfusion._base.core.encoders.TargetEncoder` subclass.
    _target_encoder = None
    #: The skorch net class ``fit`` builds (a task that decodes builds a subclass).
    _net_class = FusionNet
    #: Which fitted attributes the docstring lists ("classifier", "regressor", "survival",
    #: "generator"): set by each task layer.
    _doc_task = None
    #: Why this estimator's targets forbid left-right flips (None: flips are the user's call).
    _flip_refusal = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        params = declared(cls)  # every view of the parameters, from their records
        cls._parameter_constraints = params.constraints
        cls._module_param_names = _forwarded(cls, params.module_names)
        cls._search_space = params.search_space
        cls._param_caps = params.caps
        cls._defaults = params.defaults
        cls._defaults_before = params.before
        check_module_keywords(cls)  # a module that cannot take the core's keywords: now
        if "__init__" not in vars(cls):
            cls.__init__ = make_init(params.defaults, cls.__name__)
        if cls.__doc__ and "{parameters}" in cls.__doc__:
            cls.__doc__ = fill_doc(cls.__doc__, cls._doc_task, params.doc() + "\n" + KWARGS_DOC)
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

    def _has_image_shortcut(self):
        """Whether the network gets the linear image path (``image_shortcut``): a fusing
        network with an image path."""
        return (
            getattr(self, "image_shortcut", None) is not None
            and self._fuses
            and self._reads_images()
        )

    def _extra_arrays(self, X):
        """The extra input arrays of ``X`` (report tokens...) for a fitted estimator."""
        return {} if self._extra_inputs is None else self._extra_inputs(self).transform(X)

    def _module_params(self):
        return {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in ((n, getattr(self, n)) for n in self._module_param_names)
        }

    # -- the task's defaults -----------------------------------------------------------------

    def _hold_out_settings(self):
        """The settings that make ``fit`` hold out ``validation_fraction`` of the training
        subjects, each written as the assignment that turns it off: early stopping, or a
        task that learns something on them after training (a classifier's temperature).
        Empty: nothing is held out."""
        return ("early_stopping=False",) if self.early_stopping else ()

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

    def __setstate__(self, state):
        super().__setstate__(state)
        # A pickle of an earlier release lacks the parameters added since: the values that
        # reproduce it (their defaults, unless a later default changed the network).
        for name, value in self._defaults.items():
            if name not in self.__dict__:
                setattr(self, name, self._defaults_before.get(name, value))

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

    def _check_X(self, X, *, fitting, training=None):
        """``X`` checked once, as a :class:`~skfusion._base.core.checked.CheckedInput`: refusals
        before any work; after fit, the clinical values encoded by the fitted
        ``clinical_encoder_`` (when the model has one) and the extra inputs made. A
        ``CheckedInput`` passes as it is (checked already, in this call). ``training``
        (default: ``fitting``): the network will train on ``X`` (a fitted one too, in
        ``partial_fit``), so some patient must have an image."""
        if isinstance(X, CheckedInput):
            return X
        images, clinical, columns, X = check_fusion_input(self, X, fitting=fitting)
        present = presence_arrays(self, X, fitting=fitting if training is None else training)
        encoder = getattr(self, "clinical_encoder_", None)
        if not fitting and encoder is not None and clinical.shape[1] > 0:
            clinical = encoder.transform(clinical)
        extras = {} if fitting else self._extra_arrays(X)
        return CheckedInput(X, images, clinical, columns, present, extras)

    # -- fit -----------------------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None):
        """Train the network (see the task layer's docstring for ``y``)."""
        with torch_threads(self.n_threads):
            if self.warm_start and hasattr(self, "net_"):
                return training.continue_training(
                    self, X, y, groups=groups, classes=None, epochs=None
                )
            return training.fit_new(self, X, y, groups=groups, epochs=None, classes=None)

    def _partial_fit(self, X, y, *, groups, classes=None):
        if not hasattr(self, "net_"):
            self._validate_params()
            with torch_threads(self.n_threads):
                return training.fit_new(self, X, y, groups=groups, epochs=1, classes=classes)
        with torch_threads(self.n_threads):
            return training.continue_training(self, X, y, groups=groups, classes=classes, epochs=1)

    def _assign_fitted(self, net, common, target_fitted, extra_fitted):
        """Set every fitted attribute (after fit, and when a model file is loaded)."""
        self.net_ = net
        for name in self._target_encoder.attributes:  # e.g. a temperature of an earlier fit
            if name not in target_fitted and hasattr(self, name):
                delattr(self, name)
        for name, value in {**common, **target_fitted, **extra_fitted}.items():
            if value is None and name in (
                "feature_names_in_",
                "channel_names_in_",
                "clinical_encoder_",
                "pretrained_weights_",
            ):
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
                "cannot learn to localise; drop the masks or use a mode with an image path."
            )
        return check_masks(X.masks, images.shape[0], images.shape[1:], slices)

    # -- the net, pretrained weights and model files -----------------------------------------

    def _build_net(self, **kwargs):
        """The skorch net ``fit`` trains (:func:`skfusion._base.core.building.build_net`)."""
        return build_net(Settings.of(self), **kwargs)

    def image_encoder_state_dict(self):
        """The fitted network's image encoder (its ResNet) as a state dict of CPU tensors,
        in skfusion's layout: pass the fitted estimator (in sklearn's ``FrozenEstimator``)
        or this dict saved with ``torch.save`` as ``image_weights`` of another estimator.

        Raises ValueError for a model without an image path (``mode="clinical"``)."""
        return image_encoder_state(self)

    def save(self, path):
        """Write the fitted model to ``path`` in skfusion's safe format.

        The file is a zip archive holding ``meta.json`` (format version, skfusion and torch
        versions, parameters, fitted attributes such as classes, the clinical columns and
        image shape the model expects) and ``weights.pt`` (the network's tensors, read back
        with ``torch.load(weights_only=True)``). :func:`skfusion.load` reads it without
        running any code from the file. Callbacks are not saved.
        """
        return model_files.save(self, path)

    @classmethod
    def _restore(cls, params, fitted, state, optimizer_state=None, *, source):
        """Rebuild a fitted estimator from a model file's checked contents
        (:func:`skfusion.load`)."""
        return model_files.restore(cls, params, fitted, state, optimizer_state, source=source)

    # -- predict -------------------------------------------------------------------------------

    def _image_shortcut_outputs(self, X):
        """The image shortcut's part of the outputs for ``X`` (float64, (n, n_outputs));
        ``X`` as given or checked."""
        check_is_fitted(self)
        checked = self._check_X(X, fitting=False)
        scores = self.net_.image_path_values(checked.dataset(), "scores", threads=self.n_threads)
        layer = linear_layer(self.net_.module_, "image_shortcut")
        return (
            scores @ layer.weight.detach().double().cpu().numpy().T
            + layer.bias.detach().double().cpu().numpy()
        )

    def _outputs(self, X):
        """The network's outputs for ``X`` (as given or checked): float64 array
        (n_samples, n_outputs)."""
        check_is_fitted(self)
        checked = self._check_X(X, fitting=False)
        images = checked.images
        outputs = self.net_.predict_outputs(checked.dataset(), threads=self.n_threads)
        finite = np.isfinite(outputs).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)[:5].tolist()
            where = (
                f"their inputs are probably extreme (images range {np.min(images):.3g} "
                f"to {np.max(images):.3g}). Scale images and clinical values to the "
                "range seen in training."
                if not isinstance(images, LazyImages)
                else "check those images for extreme values."
            )
            raise ValueError(
                f"the network produced NaN or infinite outputs for {int((~finite).sum())} "
                f"sample(s) (first at {bad}); {where}"
            )
        return outputs

    def modalities_used(self, X):
        """Which modalities each prediction for ``X`` uses.

        ``predict_proba`` and ``predict`` give a prediction for every patient, with or
        without an image or a report (``FusionInput(..., present=...)``); this says, per
        patient, what it was made from.

        Parameters
        ----------
        X : FusionInput or tuple
            Samples, as in ``predict``.

        Returns
        -------
        pandas.DataFrame
            One boolean column per input the network reads ("images", "clinical",
            "text"), one row per sample: False where the sample lacks that modality
            (clinical: every value missing, so only imputed values were read).
        """
        check_is_fitted(self)
        return modalities_used(self, X)

    def localize(self, X, *, weak="saliency"):
        """Where the finding is: a map in [0, 1] per sample, at input resolution.

        A model fitted with masks (``FusionInput(images, clinical, masks=masks)``;
        ``localizes_`` is True) returns its segmentation head's probabilities, trained
        jointly with the task: threshold them at 0.5 for a region. A model fitted without
        masks returns weakly supervised maps instead, for each sample's predicted class
        (regressors: the first output; survival models: the risk), scaled to a maximum of
        1: they say where the evidence for the prediction lies, which is not necessarily
        where the lesion is.

        Parameters
        ----------
        X : FusionInput or tuple
            Samples, as in ``predict``; masks in ``X`` are not read.
        weak : {"saliency", "gradcam"}, default="saliency"
            The weakly supervised maps (ignored when ``localizes_``): "saliency", smoothed
            input gradients (:func:`skfusion.explain.saliency`); "gradcam", Grad-CAM
            combined over stages 2-4 (:func:`skfusion.explain.grad_cam` with
            ``stage="combined"``). Saliency is the default because it pointed into the true
            region far more often in ``benchmarks/localization.py`` (held-out subjects,
            hippocampal atrophy and moving lesions: pointing game 0.63-1.00, against
            0.06-0.47 for combined Grad-CAM and 0.01-0.03 for random maps).

        Returns
        -------
        maps : ndarray of float32, shape (n_samples, H, W)
            (n_samples, S, H, W) for slice stacks, (n_samples, D, H, W) for volumes.
        """
        return localizing.localize(self, X, weak=weak)

    def export(self, path, *, format="onnx"):
        """Write the fitted network to ``path`` for inference outside Python.

        The file computes what ``predict_proba`` (classifiers), ``predict`` (regressors) or
        the risk score (survival models) compute, from arrays: the images as the network reads
        them and, for models that read clinical values, the clinical row. Numeric clinical
        columns go in raw, in ``feature_names_in_`` order, with the estimator's own median
        imputation (NaN allowed), standardisation and missing-value indicators inside the
        graph; a table with categorical columns goes in encoded instead
        (``estimator.clinical_encoder_.transform(table)``; the signature holds the encoding).

        Parameters
        ----------
        path : str or path-like
            File to write (``.onnx`` or ``.pt`` by convention).
        format : {"onnx", "torchscript"}, default="onnx"
            ONNX needs ``pip install "skfusion[export]"`` (onnx, onnxscript); run it with
            onnxruntime. TorchScript files load with ``torch.jit.load`` in Python or C++
            (LibTorch).

        Returns
        -------
        signature : dict
            JSON values, also stored in the file (ONNX metadata ``skfusion_signature``;
            TorchScript extra file ``skfusion_signature.json``): the inputs (name, dtype,
            shape with ``"n_samples"`` for the batch axis), the clinical columns and whether
            their encoding is in the graph, the output and its meaning (classes for
            classifiers), and for report models the vocabulary and tokenizer.
        """
        return exporting.export(self, path, format=format)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags


def _forwarded(cls, names):
    """The records with ``module=True`` that ``cls``'s module takes: a shared one (the
    ResNet's ``backbone``) only when the module's ``__init__`` has it; a family's own must be
    taken, or the class is refused at its definition."""
    if cls._module_class is None:
        return names
    signature = inspect.signature(cls._module_class.__init__).parameters
    if any(p.kind is p.VAR_KEYWORD for p in signature.values()):
        return names
    missing = [n for n in names if n not in signature and n not in SHARED_PARAMS]
    if missing:
        raise TypeError(
            f"{cls.__name__} forwards {missing} to {cls._module_class.__name__} "
            "(module=True in their Param records), whose __init__ does not take them."
        )
    return tuple(n for n in names if n in signature)
