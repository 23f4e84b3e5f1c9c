"""FusionInput: the (images, clinical[, text]) container that scikit-learn can slice by sample."""

import numbers

import numpy as np

from ._input_parts import (
    check_channel_names,
    check_present,
    combine,
    fill_missing_images,
    fill_missing_text,
)

__all__ = ["FusionInput", "LazyImages", "as_fusion_input", "subjects_of", "warn_if_subjects_repeat"]


class LazyImages:
    """Base class of image collections that are read sample by sample, during training.

    Subclasses hold references (file paths, slice indices) instead of pixels and define
    ``__len__``, ``sample_shape`` (``(C, H, W)``), ``take(positions)`` (a subset, still lazy)
    and ``read(position)`` (one float32 array of shape ``sample_shape``). skfusion's
    estimators then train through a torch ``DataLoader`` (``iterator_train__num_workers``
    reads in parallel) instead of holding every image in memory; ``np.asarray`` reads them all.
    """

    @property
    def shape(self):
        return (len(self), *self.sample_shape)

    @property
    def ndim(self):
        return 1 + len(self.sample_shape)

    def __getitem__(self, key):
        positions = np.arange(len(self))[key]
        if np.ndim(positions) == 0:
            return self.read(int(positions))
        return self.take(positions)

    def __array__(self, dtype=None, copy=None):
        array = (
            np.stack([self.read(i) for i in range(len(self))])
            if len(self)
            else np.zeros((0, *self.sample_shape), np.float32)
        )
        return array if dtype is None else array.astype(dtype)


class FusionInput:
    """Images, clinical values and (optionally) report texts of the same samples.

    scikit-learn's cross-validation, pipelines and searches slice ``X`` by sample; a
    ``FusionInput`` slices every part together, so each fold keeps each sample's image with its
    own clinical row and report. A plain tuple ``(images, clinical)`` is accepted wherever
    skfusion takes ``X``; use ``FusionInput`` when sklearn itself has to slice ``X``
    (``cross_validate``, ``GridSearchCV``, ``train_test_split``).

    Parameters
    ----------
    images : array-like of shape (n_samples, H, W) or (n_samples, C, H, W), or list
        Image slices (volumes with ``spatial_dims=3``). A list may hold ``None`` for a
        patient without an image: that patient is marked missing (see ``present``).
    clinical : pandas.DataFrame or array-like of shape (n_samples, n_features), default=None
        Clinical values, one row per sample. DataFrames are sliced by position (``iloc``),
        never by index label.
    text : sequence of str of length n_samples, default=None
        Free-text reports, one per sample; ``None`` (or NaN, as pandas reads an empty cell)
        marks a patient without a report.
    subjects : array-like of length n_samples, default=None
        The subject (patient) of each sample, when a subject has several samples (slices).
        skfusion's own splits then keep subjects whole by default: the early-stopping
        validation part, :func:`skfusion.tuning.tune` and
        :func:`skfusion.evaluation.cross_val_diagnostics` use them when no ``groups`` are
        passed. scikit-learn's own tools do not read them: pass ``groups=X.subjects`` to
        ``cross_validate`` with a ``GroupKFold`` or ``StratifiedGroupKFold``.
    layout : {None, "slices"}, default=None
        "slices": the second axis of ``images`` (n, S, H, W) holds S slices of each
        subject, so an estimator with ``slices="auto"`` reads them as a slice stack (mean
        pooling) instead of asking; None leaves the reading to the estimator.
    masks : array-like of bool or {0, 1}, default=None
        Where the finding is, per sample, shaped like the images without their channel axis:
        (n_samples, H, W) for slices, (n_samples, S, H, W) for slice stacks, (n_samples, D,
        H, W) for volumes. Given in ``fit``, an image estimator also learns to localise
        (a segmentation head trained with the task; see ``localize``). Ignored elsewhere.
    present : dict, default=None
        Which patients have each modality: ``{"images": mask, "text": mask}``, each a
        boolean array with one entry per sample (either key may be left out: every patient
        then has it). A patient without an image (or report) is predicted from what it has:
        the network puts a learned stand-in in place of the missing modality's features, and
        never reads what sits in its slot (zeros, NaN: anything). ``None`` entries in a list
        of images or texts, and images of a lazy loader built with ``missing="allow"`` whose
        file is absent, are marked the same way; both forms combine. Missing clinical values
        are not declared here: they are imputed, with indicators, as always.
    channel_names : sequence of str, default=None
        The name of each image channel, e.g. ``["t1", "t1c", "t2", "flair"]`` for
        co-registered MRI sequences in ``images`` of shape (n_samples, C, H, W) or (n_samples,
        C, D, H, W). A fitted estimator keeps them (``channel_names_in_``) and refuses, at
        predict, images whose names differ; :func:`skfusion.explain.permutation_importance`
        reports each channel's importance by name. Slice stacks (``layout="slices"``) with
        several sequences are refused for now: their second axis already holds the slices.

    Attributes
    ----------
    shape : tuple of (n_samples,)
        What sklearn reads to count samples.

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion import FusionInput
    >>> X = FusionInput(np.zeros((4, 8, 8)), np.arange(8.0).reshape(4, 2))
    >>> len(X), X.shape
    (4, (4,))
    >>> X[[0, 2]].clinical
    array([[0., 1.],
           [4., 5.]])

    A patient without an image:

    >>> X = FusionInput([np.zeros((8, 8)), None, np.ones((8, 8))], np.zeros((3, 2)))
    >>> X.present["images"]
    array([ True, False,  True])
    """

    def __init__(
        self,
        images,
        clinical=None,
        text=None,
        *,
        subjects=None,
        layout=None,
        masks=None,
        present=None,
        channel_names=None,
    ):
        if layout not in (None, "slices"):
            raise ValueError(f"FusionInput(layout=...) must be None or 'slices'; got {layout!r}.")
        self.layout = layout
        self.images = images
        self.clinical = clinical
        self.text = text
        self.masks = masks
        self.subjects = None if subjects is None else np.asarray(subjects)
        if self.subjects is not None and self.subjects.ndim != 1:
            raise ValueError(
                f"FusionInput(subjects=...) must be 1-D, one id per sample; got "
                f"shape {self.subjects.shape}."
            )
        if isinstance(text, (str, bytes)):
            raise ValueError(
                f"FusionInput(text=...) got one string ({text[:40]!r}...); expected one report "
                "per sample, e.g. text=[report_1, report_2, ...] or a pandas Series."
            )
        self.images, image_gaps = fill_missing_images(images)
        self.text, text_gaps = fill_missing_text(text)
        lengths = {name: _length(part) for name, part in self._parts().items()}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{name} has {n}" for name, n in lengths.items())
            raise ValueError(
                f"FusionInput parts must have one entry per sample, but {detail}. "
                "Pass images, clinical rows and texts of the same samples in the same order."
            )
        self._n_samples = lengths["images"]
        self.channel_names = check_channel_names(channel_names, self.images, layout)
        self.present = check_present(
            present,
            self._n_samples,
            {
                "images": combine(image_gaps, getattr(self.images, "present", None)),
                "text": text_gaps,
            },
        )
        if self.present and "text" in self.present and self.text is None:
            raise ValueError(
                "FusionInput(present=...) has a 'text' mask but no text was given; pass "
                "text=[...] (one report per sample, any placeholder where it is missing) or "
                "drop the 'text' key."
            )

    def _parts(self):
        parts = {"images": self.images}
        if self.clinical is not None:
            parts["clinical"] = self.clinical
        if self.text is not None:
            parts["text"] = self.text
        if self.subjects is not None:
            parts["subjects"] = self.subjects
        if self.masks is not None:
            parts["masks"] = self.masks
        return parts

    def __len__(self):
        return self._n_samples

    @property
    def shape(self):
        return (self._n_samples,)

    def __getitem__(self, key):
        # sklearn's _safe_indexing indexes array-likes as X[key, ...].
        if isinstance(key, tuple):
            if len(key) == 2 and key[1] is Ellipsis:
                key = key[0]
            else:
                raise IndexError(
                    f"FusionInput is indexed by sample only; got the key {key!r}. "
                    "Index the parts instead, e.g. X.images[:, 0]."
                )
        if isinstance(key, numbers.Integral):
            raise IndexError(
                f"FusionInput[{key}] would drop the sample axis; use X[[{key}]] or "
                f"X[{key}:{key + 1}] for a one-sample FusionInput, or X.images[{key}] for a part."
            )
        if isinstance(key, slice):
            positions = np.arange(self._n_samples)[key]
        else:
            positions = np.asarray(key)
            if positions.dtype == bool:
                if positions.shape != (self._n_samples,):
                    raise IndexError(
                        f"A boolean mask must have one entry per sample ({self._n_samples}); "
                        f"got shape {positions.shape}."
                    )
                positions = np.flatnonzero(positions)
            elif positions.size == 0:
                positions = positions.astype(np.intp)
            elif not np.issubdtype(positions.dtype, np.integer) or positions.ndim != 1:
                raise IndexError(
                    "FusionInput takes a slice, a boolean mask or a 1-D array of integer "
                    f"positions; got {type(key).__name__} with dtype {positions.dtype}."
                )
        return FusionInput(
            _take(self.images, positions),
            None if self.clinical is None else _take(self.clinical, positions),
            None if self.text is None else _take(self.text, positions),
            subjects=None if self.subjects is None else self.subjects[positions],
            layout=self.layout,
            masks=None if self.masks is None else _take(self.masks, positions),
            present=None
            if self.present is None
            else {name: mask[positions] for name, mask in self.present.items()},
            channel_names=self.channel_names,
        )

    def __repr__(self):
        parts = ", ".join(f"{name}={_describe(part)}" for name, part in self._parts().items())
        if self.channel_names is not None:
            parts += f", channel_names={list(self.channel_names)}"
        return f"FusionInput({parts})"

    def __iter__(self):
        raise TypeError(
            "FusionInput is not iterable sample by sample; index it with an array of "
            "positions (X[[0, 1]]) or use its parts X.images, X.clinical, X.text."
        )


def as_fusion_input(X, *, argument="X"):
    """Return ``X`` as a :class:`FusionInput`; accepts a FusionInput or a 2- or 3-tuple.

    Raises a TypeError naming ``argument`` for anything else.
    """
    if isinstance(X, FusionInput):
        return X
    if isinstance(X, (tuple, list)) and len(X) in (2, 3) and not _looks_like_rows(X):
        return FusionInput(*X)
    raise TypeError(
        f"{argument} must be a FusionInput or a tuple (images, clinical) or "
        f"(images, clinical, text); got {_describe(X)}. For example: "
        f"{argument} = FusionInput(images, clinical_df) with images of shape "
        "(n_samples, H, W) or (n_samples, C, H, W) and one clinical row per image."
    )


def _looks_like_rows(X):
    # A list of two or three numbers is a row of data, not a (images, clinical) pair.
    return all(isinstance(part, numbers.Number) for part in X)


def _length(part):
    if hasattr(part, "shape") and len(getattr(part, "shape", ())) > 0:
        return int(part.shape[0])
    try:
        return len(part)
    except TypeError:
        raise TypeError(
            f"FusionInput parts must be array-likes with one entry per sample; got "
            f"{_describe(part)}."
        ) from None


def _take(part, positions):
    if hasattr(part, "iloc"):
        return part.iloc[positions]
    if hasattr(part, "shape") and hasattr(part, "__getitem__") and not isinstance(part, str):
        try:
            return part[positions]
        except (TypeError, IndexError):
            pass
    if isinstance(part, (list, tuple)):
        return type(part)(part[i] for i in positions)
    return np.asarray(part)[positions]


def _describe(obj):
    shape = getattr(obj, "shape", None)
    if shape is not None:
        return f"{type(obj).__name__} of shape {tuple(shape)}"
    if isinstance(obj, (list, tuple)):
        return f"{type(obj).__name__} of length {len(obj)}"
    return type(obj).__name__


def subjects_of(X, groups):
    """``groups`` if given, else the subjects a :class:`FusionInput` carries, else None."""
    if groups is not None:
        return groups
    return getattr(X, "subjects", None)


def warn_if_subjects_repeat(X, clinical, what, stacklevel=3):
    """Warn when samples look like repeated subjects (several share one clinical row, as
    slices of one patient do) and nothing says which belong together."""
    import warnings

    import pandas as pd

    if clinical is None or len(clinical) < 4:
        return
    frame = clinical if isinstance(clinical, pd.DataFrame) else pd.DataFrame(np.asarray(clinical))
    if frame.shape[1] == 0:
        return
    repeated = int(frame.duplicated(keep=False).sum())
    if repeated >= max(2, len(frame) // 5):
        warnings.warn(
            f"{repeated} of {len(frame)} samples share their clinical row with another sample, "
            f"as slices of one subject do, but no subjects were given: {what} may put one "
            "subject's samples on both sides of a split. Pass groups= (a subject id per "
            "sample) or X = FusionInput(images, clinical, subjects=...).",
            UserWarning,
            stacklevel=stacklevel,
        )
