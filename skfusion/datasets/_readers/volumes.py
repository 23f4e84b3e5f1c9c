"""Reading and resampling NIfTI volumes (and DICOM series, through :mod:`._dicom`): shared
by the eager readers (:mod:`._nifti`, :mod:`._dicom_volumes`) and the lazy ones
(:mod:`._lazy`), below them."""

import gzip
import os
import warnings
import zlib
from numbers import Integral

import numpy as np

from .dicom import read_dicom_series
from .limits import max_voxels

__all__ = ["PLANES", "check_declared_size"]

PLANES = {"sagittal": 0, "coronal": 1, "axial": 2}


def _check_size(size):
    if size is None:
        return None
    if isinstance(size, Integral) and not isinstance(size, bool) and size > 0:
        return (int(size), int(size))
    if (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(s, Integral) and s > 0 for s in size)
    ):
        return (int(size[0]), int(size[1]))
    raise ValueError(f"size must be a positive int, a pair (H, W) or None; got {size!r}.")


def check_declared_size(image, path):
    """Refuse an image whose header declares more voxels than :func:`max_voxels`, before any
    voxel is read (a 66-byte file may claim 1500^3). Returns the declared data bytes."""
    shape = tuple(int(n) for n in image.shape)
    voxels = int(np.prod(shape, dtype=object)) if shape else 0
    limit = max_voxels()
    if voxels > limit:
        raise ValueError(
            f"{path!s} declares {voxels} voxels (shape {shape}), over the limit of {limit}; "
            "if the image is genuine, set the environment variable SKFUSION_MAX_VOXELS to a "
            "larger number of voxels."
        )
    return voxels * np.dtype(image.get_data_dtype()).itemsize


def _read_gzip_checked(path, max_bytes):
    """The decompressed bytes of a gzip file, read to its end so that its CRC is checked,
    reading at most ``max_bytes`` (a bomb stops there)."""
    chunks, total = [], 0
    with gzip.open(path, "rb") as stream:
        while True:
            chunk = stream.read(min(2**20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise ValueError(
                    f"{path!s} decompresses to more than the {max_bytes} bytes its header "
                    "declares; the file is damaged or not an image."
                )
    return b"".join(chunks)


def _read_volume(nib, path, volume):
    if not os.path.exists(path):
        raise FileNotFoundError(f"NIfTI file not found: {path!s}")
    try:
        image = nib.load(path)
    except Exception as exc:  # nibabel raises many types for damaged files
        raise ValueError(
            f"could not read {path!s} as a NIfTI image ({type(exc).__name__}: {exc}); check "
            "that the file is a complete .nii or .nii.gz."
        ) from None
    declared = check_declared_size(image, path)
    try:
        if str(path).endswith(".gz"):
            # nibabel reads only the bytes it needs, so gzip's CRC (checked at the end of the
            # stream) would never be checked: a flipped byte would load as "finite" data.
            offset = (
                int(image.header["vox_offset"])
                if isinstance(image, (nib.Nifti1Image, nib.Nifti2Image))
                else 2**20
            )
            raw = _read_gzip_checked(path, offset + declared + 2**20)
            if isinstance(image, (nib.Nifti1Image, nib.Nifti2Image)):
                image = type(image).from_bytes(raw)
        image = nib.as_closest_canonical(image)
        data = np.asarray(image.get_fdata(dtype=np.float32))
    except ValueError as exc:
        if str(path) in str(exc):
            raise
        raise ValueError(
            f"could not read {path!s} as a NIfTI image (ValueError: {exc}); check that the "
            "file is a complete .nii or .nii.gz."
        ) from None
    except Exception as exc:  # nibabel raises many types for damaged files
        detail = (
            "the gzip stream is damaged: "
            if isinstance(exc, (gzip.BadGzipFile, zlib.error, EOFError))
            else ""
        )
        raise ValueError(
            f"could not read {path!s} as a NIfTI image ({detail}{type(exc).__name__}: {exc}); "
            "check that the file is a complete .nii or .nii.gz."
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
    finite = np.isfinite(data)
    if not finite.all():
        warnings.warn(
            f"{path!s} has {int(data.size - finite.sum())} NaN or infinite voxel(s); "
            "they are read as 0.",
            UserWarning,
            stacklevel=2,
        )
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
