"""Checks of the region masks that supervise localisation (``FusionInput(..., masks=...)``)."""

import numpy as np

__all__ = ["check_masks", "mask_shape"]


def mask_shape(image_shape, slices):
    """The shape of one sample's mask for checked images of ``image_shape`` (C, *spatial):
    the spatial shape, or (S, H, W) for slice stacks (``slices`` "mean"/"attention")."""
    return tuple(image_shape) if slices in ("mean", "attention") else tuple(image_shape[1:])


def check_masks(masks, n_samples, image_shape, slices, *, argument="X.masks"):
    """``masks`` as a uint8 array (n_samples, *mask_shape) of 0/1, or a ValueError that names
    the argument, what was received and what was expected."""
    expected = (n_samples, *mask_shape(image_shape, slices))
    try:
        array = np.asarray(masks)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{argument} could not be read as an array ({exc}); pass a boolean "
            f"array of shape {expected}."
        ) from None
    if (
        array.shape != expected
        and array.ndim == len(expected) + 1
        and array.shape[1] == 1
        and array.shape[:1] + array.shape[2:] == expected
    ):
        array = array[:, 0]  # a singleton channel axis, as the images may have
    if array.shape != expected:
        raise ValueError(
            f"{argument} has shape {array.shape}; expected {expected}: one mask per sample, "
            "shaped like the images without their channel axis (slice stacks: one mask per "
            "slice). Resample the masks with the images (same size, plane and order)."
        )
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{argument} must be boolean or 0/1 numbers; got dtype {array.dtype}.")
    if array.dtype.kind != "b":
        values = np.unique(array)
        bad = values[~np.isin(values, (0, 1))]
        if bad.size:
            raise ValueError(
                f"{argument} must be binary (True/False or 0/1); got values such as "
                f"{bad[:3].tolist()}. Threshold soft or label maps first, e.g. "
                "masks = label_map > 0, or masks = probabilities >= 0.5."
            )
    return np.ascontiguousarray(array, dtype=np.uint8)
