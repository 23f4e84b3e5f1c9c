"""Input checks of the estimator core: ``X`` against what the network reads and, after
``fit``, against what the model was fitted on."""

import warnings

import numpy as np

from ..._input import LazyImages, as_fusion_input
from .validation import check_clinical, check_images

__all__ = ["check_channel_names", "check_fusion_input", "check_groups", "resolve_slices"]


def check_fusion_input(estimator, X, *, fitting):
    """Validate ``X`` for ``estimator``: ``(images, clinical, columns, X)`` with images a
    float32 array ``(n, C, H, W)`` (or lazily read images), clinical values a float32 array
    ``(n, F)`` (``F = 0`` when the network reads none), the clinical column names when fitting,
    and ``X`` as a :class:`~skfusion.FusionInput`. After ``fit``, the shape, channels and
    columns must match what the model was fitted on. With the estimators' own clinical
    preprocessing, the clinical part is returned as the table given (the core encodes it)."""
    X = as_fusion_input(X)
    if isinstance(X.images, LazyImages):
        images = X.images
        if len(images) == 0:
            raise ValueError("X.images has 0 samples; at least one is required.")
        if len(images.sample_shape) != 1 + estimator.spatial_dims:
            raise ValueError(
                f"X.images yields samples of shape {images.sample_shape}; expected "
                f"{'(C, H, W)' if estimator.spatial_dims == 2 else '(C, D, H, W)'} with "
                f"spatial_dims={estimator.spatial_dims}."
            )
    else:
        images = check_images(
            X.images, spatial_dims=estimator.spatial_dims, present=(X.present or {}).get("images")
        )
    n_samples = images.shape[0]
    if fitting:
        if estimator._clinical_optional and X.clinical is None:
            return images, np.zeros((n_samples, 0), dtype=np.float32), None, X
        if estimator._uses_clinical() and X.clinical is None:
            raise ValueError(
                f"{estimator._describe_config()} needs clinical values, but X has none; pass "
                "X = FusionInput(images, clinical) or use mode='image'."
            )
        raw = estimator._uses_clinical() and estimator.clinical_preprocessing == "auto"
        clinical, columns = check_clinical(
            X.clinical if estimator._uses_clinical() else None, n_samples=n_samples, raw=raw
        )
        if estimator._uses_clinical() and clinical.shape[1] == 0:
            raise ValueError(
                f"{estimator._describe_config()} needs clinical values, but X.clinical has 0 "
                "columns; pass at least one clinical column, or use mode='image'."
            )
        return images, clinical, columns, X
    check_channel_names(estimator, X)
    expected = estimator.image_shape_
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
    no_clinical = estimator._clinical_optional and estimator.n_features_in_ == 0
    if estimator._uses_clinical() and not no_clinical:
        if X.clinical is None:
            raise ValueError(
                f"{estimator._describe_config()} was fitted with clinical values, but X has "
                "none; pass X = FusionInput(images, clinical)."
            )
        clinical, _ = check_clinical(
            X.clinical,
            n_samples=n_samples,
            fitted_columns=getattr(estimator, "feature_names_in_", None),
            fitted_n_features=estimator.n_features_in_,
            raw=getattr(estimator, "clinical_encoder_", None) is not None,
        )
    else:
        clinical = np.zeros((n_samples, 0), dtype=np.float32)
    return images, clinical, None, X


def check_channel_names(estimator, X):
    """Channel names at predict against those seen in ``fit``: different names (or order)
    are refused; names on one side only are warned about, as scikit-learn does for
    columns."""
    fitted = getattr(estimator, "channel_names_in_", None)
    given = X.channel_names
    if fitted is not None and given is not None and tuple(given) != tuple(fitted):
        order = " (the same names in another order)" if sorted(given) == sorted(fitted) else ""
        raise ValueError(
            f"X.channel_names {list(given)} differ from the channels the model was fitted on "
            f"{list(fitted)}{order} (channel_names_in_); stack the images' channels in the "
            "fitted order, e.g. np.stack([volumes[name] for name in "
            "model.channel_names_in_], axis=1)."
        )
    if (fitted is None) != (given is None):
        warnings.warn(
            f"X has {'no ' if given is None else ''}channel names"
            f"{'' if given is None else ' ' + str(list(given))}, but "
            f"{type(estimator).__name__} was fitted "
            f"{'without any' if fitted is None else 'with ' + str(list(fitted))}; the "
            "channels are read by position.",
            UserWarning,
            stacklevel=5,
        )


def resolve_slices(settings, X, images):
    """How ``fit`` reads axis 1 of ``images``: "channels", "mean" or "attention" (slice
    stacks). The estimator's ``slices`` decides; with "auto", a FusionInput that declares
    ``layout="slices"`` is read as a stack (mean pooling), 1-4 channels as channels, and more
    is refused with the choice spelled out: the shape alone cannot say. ``settings``: the
    estimator's :class:`~.settings.Settings`."""
    setting = settings.slices
    if not getattr(settings.family, "_reads_stacks", True):  # e.g. a report generator
        if setting in ("mean", "attention"):
            raise ValueError(
                f"{settings.family.__name__} reads the slices of a stack as the channels of "
                f"one image (2.5-D), not one slice at a time; got slices={setting!r}. Use "
                "slices='auto' or 'channels'."
            )
        return "channels"
    if settings.spatial_dims == 3:
        if setting in ("mean", "attention"):
            raise ValueError(
                f"slices={setting!r} reads slice stacks of 2-D images; with spatial_dims=3 "
                "each sample is already a whole volume: use slices='auto'."
            )
        return "channels"
    if setting != "auto":
        return setting
    if getattr(X, "layout", None) == "slices":
        return "mean"
    if images.shape[1] > 4:
        raise ValueError(
            f"X.images has shape {tuple(images.shape)}: {images.shape[1]} slices of each "
            f"patient, or {images.shape[1]} channels? Say which: slices='mean' or "
            "slices='attention' reads them as slices (one shared 2-D network per slice, "
            "pooled across slices), slices='channels' as channels of one image (2.5-D); "
            "or pass FusionInput(..., layout='slices')."
        )
    return "channels"


def check_groups(groups, n_samples):
    """``groups`` as a 1-D array with one entry per sample, or None."""
    if groups is None:
        return None
    groups = np.asarray(groups)
    if groups.ndim != 1 or len(groups) != n_samples:
        raise ValueError(
            f"groups must have one entry per sample ({n_samples}); got shape {groups.shape}."
        )
    return groups
