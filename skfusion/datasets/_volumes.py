"""Reading and resampling NIfTI volumes (and DICOM series, through :mod:`._dicom`): shared
by the eager readers (:mod:`._nifti`, :mod:`._dicom_volumes`) and the lazy ones
(:mod:`._lazy`), below them."""

import os
from numbers import Integral

import numpy as np

from ._dicom import read_dicom_series

__all__ = ["PLANES"]

PLANES = {"sagittal": 0, "coronal": 1, "axial": 2}


def _check_size(size):
    if size is None:
        return None
    if isinstance(size, Integral) and not isinstance(size, bool) and size > 0:
        return (int(size), int(size))
    if (isinstance(size, (tuple, list)) and len(size) == 2
            and all(isinstance(s, Integral) and s > 0 for s in size)):
        return (int(size[0]), int(size[1]))
    raise ValueError(f"size must be a positive int, a pair (H, W) or None; got {size!r}.")


def _read_volume(nib, path, volume):
    if not os.path.exists(path):
        raise FileNotFoundError(f"NIfTI file not found: {path!s}")
    try:
        image = nib.load(path)
        image = nib.as_closest_canonical(image)
        data = np.asarray(image.get_fdata(dtype=np.float32))
    except Exception as exc:  # nibabel raises many types for damaged files
        raise ValueError(
            f"could not read {path!s} as a NIfTI image ({type(exc).__name__}: {exc}); check "
            "that the file is a complete .nii or .nii.gz."
        ) from None
    return _volume_of(data, path, volume)


def _read_dicom_volume(nib, source, select):
    """A DICOM series (folder or files), reoriented to RAS+ as a NIfTI file would be."""
    image = nib.as_closest_canonical(read_dicom_series(source, **dict(select or ())))
    return _volume_of(np.asarray(image.get_fdata(dtype=np.float32)), source, None)


def _volume_of(data, path, volume):
    if data.ndim == 4:
        if volume is None:
            if data.shape[3] != 1:
                raise ValueError(
                    f"{path!s} is 4-D with {data.shape[3]} volumes (shape {data.shape}); pass "
                    "volume=0 to read the first, or another index."
                )
            volume = 0
        if not (isinstance(volume, Integral) and -data.shape[3] <= volume < data.shape[3]):
            raise ValueError(
                f"volume={volume!r} is out of range for {path!s}, which has {data.shape[3]} "
                "volumes."
            )
        data = data[..., volume]
    elif data.ndim != 3:
        raise ValueError(
            f"{path!s} has {data.ndim} dimension(s) (shape {data.shape}); expected a 3-D volume "
            "or a 4-D series."
        )
    if not np.isfinite(data).all():
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    return data


def _normalize(data, method):
    if method == "zscore":
        foreground = data[data != 0]
        if foreground.size == 0:
            return data
        scale = foreground.std()
        return (data - foreground.mean()) / (scale if scale > 0 else 1.0)
    low, high = data.min(), data.max()
    return (data - low) / ((high - low) if high > low else 1.0)


def _resize(section, out_size):
    from scipy.ndimage import zoom

    factors = (out_size[0] / section.shape[0], out_size[1] / section.shape[1])
    resized = zoom(section, factors, order=1, grid_mode=True, mode="nearest")
    return resized[: out_size[0], : out_size[1]]
