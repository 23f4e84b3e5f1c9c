"""``X`` checked once per call: the immutable :class:`CheckedInput` that ``fit`` and every
prediction method make from ``X`` first, and that everything downstream reads (issue 39).

Nothing downstream checks ``X`` again: the presence masks are checked (and refused, with the
reason) once, the clinical values are encoded once, and the family's extra inputs (report
tokens) are made once.
"""

import dataclasses
from types import MappingProxyType
from typing import Any, Mapping

from ..._net.data import make_dataset

__all__ = ["CheckedInput"]


@dataclasses.dataclass(frozen=True)
class CheckedInput:
    """One checked ``X``.

    Attributes
    ----------
    X : FusionInput
        The input as given (its masks, groups, channel names and ``present`` masks).
    images : ndarray or LazyImages
        float32 ``(n, C, *spatial)``, or the lazy reader of image files.
    clinical : ndarray or DataFrame
        The clinical values the network reads: after ``fit``, encoded by the fitted
        preprocessing; while fitting with the estimator's own preprocessing, the table given
        (``fit`` encodes it once its training part is known, :meth:`with_clinical`).
    columns : ndarray or None
        The clinical column names (while fitting).
    present : Mapping
        ``make_dataset`` keywords of the presence masks of the inputs the network reads
        (``image_present``, ``text_present``), only where a sample lacks one.
    extras : Mapping
        The family's extra input arrays (report tokens), once they can be made: after
        ``fit`` from the fitted encoder; while fitting, set by ``fit`` (:meth:`with_extras`).
    """

    X: Any
    images: Any
    clinical: Any
    columns: Any
    present: Mapping = dataclasses.field(default_factory=dict)
    extras: Mapping = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "present", MappingProxyType(dict(self.present)))
        object.__setattr__(self, "extras", MappingProxyType(dict(self.extras)))

    @property
    def n_samples(self):
        return self.images.shape[0]

    def with_clinical(self, clinical):
        """The same input with its clinical values encoded (a new object)."""
        return dataclasses.replace(self, clinical=clinical)

    def with_extras(self, extras):
        """The same input with its extra input arrays (a new object)."""
        return dataclasses.replace(self, extras=extras)

    def dataset(self, target=None, *, presence=True, **more):
        """The network's dataset of these samples (:func:`skfusion._net.data.make_dataset`):
        images, clinical values, the extras, the presence masks unless ``presence=False``,
        and ``more`` (masks, teacher-forcing inputs)."""
        present = self.present if presence else {}
        return make_dataset(self.images, self.clinical, target, **self.extras, **present, **more)
