"""The two encoders an estimator's layers declare, one object each: a task's
:class:`TargetEncoder` (what ``fit`` learns from ``y``, how a fitted model encodes ``y``, and
that state in model files) and a family's :class:`ExtraInputs` (inputs beyond images and
clinical values, such as report tokens: what ``fit`` learns from them, how a fitted model
encodes them, the module arguments they fix and their description in exported files).

The core (:mod:`skfusion._base.core.estimator`) calls them; it knows nothing of classes, survival
times or vocabularies.
"""

from abc import ABC, abstractmethod

__all__ = ["Target", "TargetEncoder", "ExtraInputs", "extra_module_params"]


class Target:
    """What a target encoder hands the core: the array the network trains on (``values``),
    the network's output width (``n_outputs``), the labels the validation split keeps in
    proportion (``stratify``, or None) and the fitted attributes learned from ``y``
    (``fitted``, e.g. ``{"classes_": ...}``); ``raw`` keeps what the task layer needs of the
    validated ``y`` at full precision after training (survival times)."""

    def __init__(self, values, n_outputs, stratify=None, fitted=None, raw=None):
        self.values = values
        self.n_outputs = n_outputs
        self.stratify = stratify
        self.fitted = dict(fitted or {})
        self.raw = raw


class TargetEncoder(ABC):
    """A task's target, as one object (a task layer names its subclass in
    ``_target_encoder``).

    ``attributes`` lists the fitted attributes it owns (set on the estimator, saved in model
    files). A subclass implements :meth:`transform`, and where ``fit`` learns from ``y``
    (classes, a target's mean and SD, a vocabulary) :meth:`fit` and the model-file trio
    :meth:`state` / :meth:`restore` / :meth:`check_state`. The defaults suit a task that
    learns nothing from ``y`` and has one output.
    """

    attributes = ()

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, y, *, n_samples, classes=None):
        """Check ``y`` and learn from it: a :class:`Target` whose ``fitted`` holds the
        attributes learned."""
        return self.transform(y, n_samples=n_samples, classes=classes)

    @abstractmethod
    def transform(self, y, *, n_samples, classes=None):
        """Check and encode ``y`` for the fitted estimator (warm start, ``partial_fit``)."""

    def fitted(self):
        """The fitted attributes the estimator holds now (those of ``attributes`` it has)."""
        return {
            name: getattr(self.estimator, name)
            for name in self.attributes
            if hasattr(self.estimator, name)
        }

    def state(self, fitted):
        """The fitted attributes as plain JSON values for a model file."""
        return {}

    @classmethod
    def restore(cls, state):
        """``(fitted attributes, n_outputs)`` from a model file's checked state."""
        return {}, 1

    @classmethod
    def check_state(cls, path, state):
        """Refuse (``ModelFileError``) a model file whose target state is malformed."""


class ExtraInputs(ABC):
    """A family's inputs beyond images and clinical values, as one object (a family names
    its subclass in ``_extra_inputs``; report tokens are the one today).

    ``attributes`` lists the fitted attributes it learns in ``fit`` (saved in model files as
    they are: plain JSON values). A subclass implements :meth:`fit` and :meth:`transform`,
    and :meth:`module_params` / :meth:`export_input` where they matter.
    """

    attributes = ()

    def __init__(self, estimator):
        self.estimator = estimator

    @abstractmethod
    def fit(self, X):
        """Learn from ``X`` in ``fit``: ``(arrays, fitted)``, the dataset's extra arrays by
        name and the fitted attributes learned."""

    @abstractmethod
    def transform(self, X):
        """The extra arrays of ``X`` for the fitted estimator."""

    @classmethod
    def module_params(cls, fitted):
        """Module arguments fixed by the fitted attributes (a vocabulary's size)."""
        return {}

    def export_input(self):
        """``(input, description)`` of exported files for the fitted estimator: the graph
        input's name, dtype and shape, and how to make it from raw data; None when the
        inputs cannot be exported."""
        return None


def extra_module_params(cls, fitted):
    """Module arguments that the fitted extra inputs of estimator class ``cls`` fix."""
    if cls._extra_inputs is None or not fitted:
        return {}
    return cls._extra_inputs.module_params(fitted)
