"""Read 2-D slices from NIfTI volumes into arrays that FusionInput takes."""

import os
from collections.abc import Mapping
from numbers import Integral

import numpy as np
import pandas as pd

from .lazy import NiftiSlices, NiftiVolumes, read_nifti_volume
from .sequences import load_sequences
from .volumes import PLANES, _check_size, _normalize, _read_volume, _resize, check_declared_size

__all__ = ["load_nifti_slices", "load_nifti_volumes"]

#: Axis of each plane in canonical (RAS+) voxel order.


def load_nifti_slices(
    paths, *, plane="coronal", slices=10, size=None, normalize=None, volume=None, lazy=False
):
    """Read 2-D slices from NIfTI files, in canonical (RAS+) orientation.

    Parameters
    ----------
    paths : str, path-like or sequence of them, or dict
        NIfTI files (``.nii`` or ``.nii.gz``), 3-D, or 4-D with ``volume`` chosen. A dict of
        co-registered sequences, ``{"t1": t1_paths, "flair": flair_paths}`` (one file per
        patient each, in the same patient order, on one voxel grid: refused otherwise),
        reads each patient's central slice of every sequence as channels: ``images`` of
        shape (n_patients, n_sequences, H, W); pass ``channel_names=list(paths)`` to
        :class:`~skfusion.FusionInput`. Only ``slices=1`` with a dict, eager.
    plane : {"coronal", "axial", "sagittal"}, default="coronal"
        Slicing plane, after reorienting each image to RAS+ (``nibabel.as_closest_canonical``),
        so the same plane is read whatever the file's voxel order.
    slices : int, sequence of int or None, default=10
        An int ``k`` takes the ``k`` central slices of the plane; a sequence (e.g.
        ``range(130, 140)``) takes those voxel indices along the plane's axis; ``None`` takes
        every slice.
    size : int, (int, int) or None, default=None
        Resize every slice to ``(size, size)`` or ``(H, W)`` with linear interpolation.
        Required when the files' slice shapes differ.
    normalize : {"zscore", "minmax"} or None, default=None
        Intensity normalisation per volume: "zscore" subtracts the mean and divides by the
        standard deviation of the volume's non-zero voxels (the head, not the background);
        "minmax" scales the whole volume to [0, 1]. ``None`` keeps the stored values (with the
        header's slope and intercept applied).
    volume : int or None, default=None
        For 4-D files, the volume to read (0 is the first). A 4-D file with more than one
        volume and ``volume=None`` raises an error that says so.
    lazy : bool, default=False
        Return a :class:`NiftiSlices` that reads slices when they are needed (for cohorts
        larger than memory) instead of an array; only the file headers are read now.

    Returns
    -------
    images : ndarray of shape (n_slices_total, H, W), float32, or NiftiSlices
        Slices in file order, then slice order. Rows run from superior to inferior
        (coronal, sagittal) or anterior to posterior (axial); columns follow the remaining
        RAS axis in increasing order.
    metadata : pandas.DataFrame
        One row per slice: ``source`` (the file path), ``slice_index`` (voxel index along the
        plane's axis, canonical orientation) and ``plane``.

    Examples
    --------
    >>> import os, nibabel.testing
    >>> from skfusion.datasets import load_nifti_slices
    >>> path = os.path.join(nibabel.testing.data_path, "anatomical.nii")
    >>> images, metadata = load_nifti_slices(path, slices=3, size=32)
    >>> images.shape, metadata["slice_index"].tolist()
    ((3, 32, 32), [19, 20, 21])
    """
    import nibabel as nib

    if plane not in PLANES:
        raise ValueError(f"plane={plane!r} is not supported; expected one of {sorted(PLANES)}.")
    if normalize not in (None, "zscore", "minmax"):
        raise ValueError(
            f"normalize={normalize!r} is not supported; expected 'zscore', 'minmax' or None."
        )
    if isinstance(paths, Mapping):
        if slices != 1:
            raise ValueError(
                f"load_nifti_slices(dict of sequences) reads one slice per sequence "
                f"(slices=1); got slices={slices!r}. Slice stacks with several sequences are "
                "not supported yet (one axis cannot hold both); read whole volumes with "
                "load_nifti_volumes({...}) and spatial_dims=3 instead."
            )
        images = load_sequences(
            "load_nifti_slices",
            paths,
            lambda one: load_nifti_slices(
                one, plane=plane, slices=1, size=size, normalize=normalize, volume=volume
            )[0],
            lazy=lazy,
        )[1]
        first = next(iter(paths.values()))  # the first sequence's slices describe the rows
        return images, load_nifti_slices(first, plane=plane, slices=1, volume=volume, lazy=True)[1]
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = list(paths)
    if not paths:
        raise ValueError("paths is empty; pass at least one NIfTI file.")
    out_size = _check_size(size)
    axis = PLANES[plane]
    if lazy:
        return _lazy_slices(paths, plane, slices, size, normalize, volume)
    images, rows = [], []
    for path in paths:
        data = _read_volume(nib, path, volume)
        indices = _slice_indices(slices, data.shape[axis], path, plane)
        if normalize is not None:
            data = _normalize(data, normalize)
        # The plane's axis first, contiguous: each slice is one block (np.take on nibabel's
        # column-major array took time growing as slices x voxels).
        data = np.ascontiguousarray(np.moveaxis(data, axis, 0))
        for index in indices:
            section = data[index]
            # (first remaining axis, second remaining axis) -> rows from the top down.
            section = np.flipud(section.T)
            if out_size is not None and section.shape != out_size:
                section = _resize(section, out_size)
            images.append(section.astype(np.float32, copy=False))
            rows.append({"source": str(path), "slice_index": int(index), "plane": plane})
    shapes = sorted({image.shape for image in images})
    if len(shapes) > 1:
        raise ValueError(
            f"the slices have different shapes {shapes}; pass size=(H, W) (or an int) to "
            "resize them to one shape."
        )
    return np.stack(images), pd.DataFrame(rows)


def _lazy_slices(paths, plane, slices, size, normalize, volume):
    import nibabel as nib

    sources, indices, rows = [], [], []
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"NIfTI file not found: {path!s}")
        try:
            image = nib.load(path)
            orientation = nib.orientations.io_orientation(image.affine)
        except Exception as exc:
            raise ValueError(
                f"could not read {path!s} as a NIfTI image ({type(exc).__name__}: {exc})."
            ) from None
        check_declared_size(image, path)
        canonical = [0, 0, 0]
        for axis_in, (axis_out, _) in enumerate(orientation[:3]):
            canonical[int(axis_out)] = image.shape[axis_in]
        for index in _slice_indices(slices, canonical[PLANES[plane]], path, plane):
            sources.append(str(path))
            indices.append(index)
            rows.append({"source": str(path), "slice_index": int(index), "plane": plane})
    lazy = NiftiSlices(sources, indices, plane=plane, size=size, normalize=normalize, volume=volume)
    return lazy, pd.DataFrame(rows)


def _slice_indices(slices, length, path, plane):
    if slices is None:
        return list(range(length))
    if isinstance(slices, Integral) and not isinstance(slices, bool):
        if not 1 <= slices <= length:
            raise ValueError(
                f"slices={slices} central slices were asked for, but {path!s} has {length} "
                f"{plane} slices; pass at most {length}."
            )
        start = (length - slices) // 2
        return list(range(start, start + slices))
    try:
        indices = [int(i) for i in slices]
    except TypeError:
        raise ValueError(
            f"slices must be an int (a count of central slices) or a sequence of indices; got "
            f"{slices!r}."
        ) from None
    bad = [i for i in indices if not 0 <= i < length]
    if bad or not indices:
        raise ValueError(
            f"slice indices {bad or indices} are outside {path!s}, which has {length} {plane} "
            f"slices (valid: 0-{length - 1})."
        )
    return indices


def load_nifti_volumes(
    paths, *, plane="coronal", size=None, normalize=None, volume=None, lazy=False, missing="raise"
):
    """Read one whole NIfTI volume per patient, in canonical (RAS+) orientation.

    Parameters
    ----------
    paths : sequence of str or path-like, or dict
        One file per patient; all volumes must have the same shape (after ``size``). A dict
        of co-registered sequences, ``{"t1": t1_paths, "t1c": ..., "t2": ...,
        "flair": ...}`` (one file per patient each, in the same patient order, on one voxel
        grid: refused otherwise, with the patient and sequences named), stacks them as
        channels: (n_patients, n_sequences, D, H, W); pass ``channel_names=list(paths)``
        to :class:`~skfusion.FusionInput`. Eager only, ``missing="raise"`` only.
    plane : {"coronal", "axial", "sagittal"}, default="coronal"
        The axis that becomes depth: volume ``[d]`` is slice ``d`` of that plane, laid out
        as :func:`load_nifti_slices` lays it out.
    size : int, (int, int) or None, default=None
        Resize every section (depth is kept).
    normalize : {"zscore", "minmax"} or None, default=None
        Per-volume normalisation.
    volume : int or None, default=None
        Volume of 4-D files.
    lazy : bool, default=False
        Return a :class:`~skfusion.datasets.NiftiVolumes` that reads each volume when a
        batch needs it (memory stays flat in the number of patients).
    missing : {"raise", "allow"}, default="raise"
        Paths that do not exist: "raise" refuses, listing them; "allow" keeps those
        patients with their image marked missing: a list with ``None`` in their place
        (eager) or a ``NiftiVolumes`` whose ``present`` says which exist (lazy), both of
        which :class:`~skfusion.FusionInput` reads as patients without an image.

    Returns
    -------
    images : ndarray of shape (n_patients, D, H, W) float32, list, or NiftiVolumes
        ((n_patients, n_sequences, D, H, W) for a dict of sequences)
        For estimators with ``spatial_dims=3`` (or as slice stacks, ``slices="mean"``); a
        list holding ``None`` for absent files with ``missing="allow"``.

    Examples
    --------
    >>> import os, nibabel.testing
    >>> from skfusion.datasets import load_nifti_volumes
    >>> path = os.path.join(nibabel.testing.data_path, "anatomical.nii")
    >>> load_nifti_volumes([path, path], size=16).shape
    (2, 41, 16, 16)
    """
    if isinstance(paths, Mapping):
        return load_sequences(
            "load_nifti_volumes",
            paths,
            lambda one: load_nifti_volumes(
                one, plane=plane, size=size, normalize=normalize, volume=volume
            ),
            lazy=lazy,
            missing=missing,
        )[1]
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [str(p) for p in paths]
    if plane not in PLANES:
        raise ValueError(f"plane must be one of {sorted(PLANES)}; got {plane!r}.")
    if normalize not in (None, "zscore", "minmax"):
        raise ValueError(f"normalize must be 'zscore', 'minmax' or None; got {normalize!r}.")
    lazy_volumes = NiftiVolumes(
        paths, plane=plane, size=size, normalize=normalize, volume=volume, missing=missing
    )  # checks the files exist
    if lazy:
        return lazy_volumes
    present = (
        np.ones(len(paths), dtype=bool) if lazy_volumes.present is None else lazy_volumes.present
    )
    volumes = [
        read_nifti_volume(p, plane=plane, size=size, normalize=normalize, volume=volume)
        if here
        else None
        for p, here in zip(paths, present)
    ]
    shapes = sorted({v.shape for v in volumes if v is not None})
    if len(shapes) > 1:
        raise ValueError(
            f"the volumes have different shapes {shapes}; pass size=(H, W) for "
            "the sections, and volumes of the same depth."
        )
    return np.stack(volumes) if present.all() else volumes
