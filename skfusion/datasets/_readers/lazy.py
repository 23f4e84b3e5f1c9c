"""Lazy image collections: slices of NIfTI files, and whole NIfTI or DICOM volumes, read
when a batch needs them."""

import functools
import os

import numpy as np

from ..._input import LazyImages
from .volumes import PLANES, _check_size, _normalize, _read_dicom_volume, _read_volume, _resize

__all__ = ["DicomVolumes", "NiftiSlices", "NiftiVolumes", "read_nifti_volume"]


@functools.lru_cache(maxsize=4)
def _cached_volume(source, volume, normalize, dicom=None):
    """The RAS+ voxels of a NIfTI file, or (``dicom``: the series selection as a tuple of
    items) of a DICOM series given as a folder or a tuple of files."""
    import nibabel as nib

    if dicom is None:
        data = _read_volume(nib, source, volume)
    else:
        data = _read_dicom_volume(nib, list(source) if isinstance(source, tuple) else source, dicom)
    return data if normalize is None else _normalize(data, normalize)


class _VolumeFiles(LazyImages):
    """What the NIfTI and DICOM collections share: one file (or series) per sample, the
    reading options, and ``take``, which keeps every per-sample list (``_per_sample``) in
    step."""

    _per_sample = ("sources",)

    def __init__(
        self, sources, *, plane="coronal", size=None, normalize=None, volume=None, missing="raise"
    ):
        self.sources = [str(s) for s in sources]
        self.plane = plane
        self.size = size
        self.normalize = normalize
        self.volume = volume
        self.missing = missing
        self._sample_shape = None
        self.present = None

    def _check_files(self):
        """Check that every sample's file (or series) exists: refuse, listing the absent
        ones, or with ``missing="allow"`` mark those samples missing (``present``)."""
        if self.missing not in ("raise", "allow"):
            raise ValueError(f"missing must be 'raise' or 'allow'; got {self.missing!r}.")
        found = np.array([_exists(source) for source in self.sources], dtype=bool)
        if found.all():
            self.present = None
            return
        absent = [self.sources[i] for i in np.flatnonzero(~found)]
        if self.missing == "raise":
            raise FileNotFoundError(
                f"{len(absent)} of {len(self.sources)} image file(s) do not exist: "
                f"{absent[:5]}{' ...' if len(absent) > 5 else ''}. Fix the paths, or pass "
                "missing='allow' to keep those patients with their image marked missing "
                "(the estimators then predict from their other data)."
            )
        if not found.any():
            raise FileNotFoundError(
                f"none of the {len(self.sources)} image file(s) exists (first: "
                f"{absent[0]!r}); check the paths."
            )
        self.present = found

    def _first_present(self):
        return 0 if self.present is None else int(np.flatnonzero(self.present)[0])

    def read(self, position):
        """One sample's image as float32 ``sample_shape``; zeros (a placeholder the
        estimators never read) where its file is missing."""
        if self.present is not None and not self.present[position]:
            return np.zeros(self.sample_shape, dtype=np.float32)
        return self._read(position)

    def __len__(self):
        return len(self.sources)

    def _options(self):
        return {
            "plane": self.plane,
            "size": self.size,
            "normalize": self.normalize,
            "volume": self.volume,
            "missing": self.missing,
        }

    def take(self, positions):
        positions = np.asarray(positions, dtype=int)
        lists = [[getattr(self, name)[i] for i in positions] for name in self._per_sample]
        subset = type(self)(*lists, **self._options())
        subset._sample_shape = self._sample_shape
        return subset


class NiftiSlices(_VolumeFiles):
    """Slices of NIfTI volumes, as an image collection that is read on demand.

    Parameters
    ----------
    sources : sequence of str
        One file path per slice.
    slice_indices : sequence of int
        Voxel index of each slice along the plane's axis (canonical RAS+ orientation).
    plane : {"coronal", "axial", "sagittal"}, default="coronal"
    size : int, (int, int) or None, default=None
        Resize slices, as in :func:`load_nifti_slices`.
    normalize : {"zscore", "minmax"} or None, default=None
        Per-volume normalisation, as in :func:`load_nifti_slices`.
    volume : int or None, default=None
        Volume of 4-D files.
    missing : {"raise", "allow"}, default="raise"
        Files that do not exist: "raise" refuses, listing them; "allow" marks their slices
        missing (``present``), as :class:`NiftiVolumes` does.

    Notes
    -----
    ``read`` returns exactly what :func:`load_nifti_slices` returns for the same slice, so a
    model gives the same predictions on lazy and eager input. The last few volumes read are
    cached per process.
    """

    _per_sample = ("sources", "slice_indices")

    def __init__(
        self,
        sources,
        slice_indices,
        *,
        plane="coronal",
        size=None,
        normalize=None,
        volume=None,
        missing="raise",
    ):
        super().__init__(
            sources, plane=plane, size=size, normalize=normalize, volume=volume, missing=missing
        )
        self.slice_indices = [int(i) for i in slice_indices]
        if len(self.sources) != len(self.slice_indices):
            raise ValueError(
                f"sources has {len(self.sources)} entries but slice_indices has "
                f"{len(self.slice_indices)}; pass one file and one index per slice."
            )
        self._check_files()

    @property
    def sample_shape(self):
        if self._sample_shape is None:
            size = _check_size(self.size)
            if size is None:
                size = self._read(self._first_present()).shape[1:] if len(self) else (0, 0)
            self._sample_shape = (1, *size)
        return self._sample_shape

    def _read(self, position):
        path = self.sources[position]
        data = _cached_volume(path, self.volume, self.normalize)
        section = np.flipud(np.take(data, self.slice_indices[position], axis=PLANES[self.plane]).T)
        size = _check_size(self.size)
        if size is not None and section.shape != size:
            section = _resize(section, size)
        return np.ascontiguousarray(section, dtype=np.float32)[None]

    def __repr__(self):
        files = len(set(self.sources))
        return f"NiftiSlices({len(self)} {self.plane} slices from {files} file(s))"


def read_nifti_volume(path, *, plane="coronal", size=None, normalize=None, volume=None):
    """One NIfTI volume as float32 ``(D, H, W)``: reoriented to RAS+, with depth along
    ``plane``'s axis and every section laid out as :func:`load_nifti_slices` lays out a
    slice (so a volume equals the stack of its slices); sections resized to ``size``."""
    return _sections(_cached_volume(str(path), volume, normalize), plane, size)


def _sections(data, plane, size):
    stacked = np.moveaxis(data, PLANES[plane], 0).transpose(0, 2, 1)[:, ::-1, :]
    size = _check_size(size)
    if size is not None and stacked.shape[1:] != size:
        stacked = np.stack([_resize(section, size) for section in stacked])
    return np.ascontiguousarray(stacked, dtype=np.float32)


class NiftiVolumes(_VolumeFiles):
    """Whole NIfTI volumes, one per patient, read on demand: samples ``(1, D, H, W)`` for
    estimators with ``spatial_dims=3`` (or, read as slice stacks, ``slices="mean"``).

    Parameters
    ----------
    sources : sequence of str
        One file per patient.
    plane : {"coronal", "axial", "sagittal"}, default="coronal"
        The axis that becomes depth D (after reorienting to RAS+).
    size : int, (int, int) or None, default=None
        Resize every section to ``size`` (depth is kept).
    normalize : {"zscore", "minmax"} or None, default=None
    volume : int or None, default=None
        Volume of 4-D files.
    missing : {"raise", "allow"}, default="raise"
        A patient whose file does not exist: "raise" refuses, listing the absent files;
        "allow" keeps the patient with its image marked missing (``present``; a
        :class:`~skfusion.FusionInput` of these images carries the mask, and the estimators
        predict such a patient from its other data).
    """

    def __init__(
        self, sources, *, plane="coronal", size=None, normalize=None, volume=None, missing="raise"
    ):
        super().__init__(
            sources, plane=plane, size=size, normalize=normalize, volume=volume, missing=missing
        )
        self._check_files()

    @property
    def sample_shape(self):
        if self._sample_shape is None:
            self._sample_shape = (
                self._read(self._first_present()).shape if len(self) else (1, 0, 0, 0)
            )
        return self._sample_shape

    def _read(self, position):
        return read_nifti_volume(
            self.sources[position],
            plane=self.plane,
            size=self.size,
            normalize=self.normalize,
            volume=self.volume,
        )[None]

    def __repr__(self):
        return f"NiftiVolumes({len(self)} volumes, depth along the {self.plane} axis)"


def _exists(source):
    """Whether a sample's file, folder, or every file of a series (a tuple) exists."""
    if isinstance(source, tuple):
        return all(os.path.exists(path) for path in source)
    return os.path.exists(source)


def _source_key(source):
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return tuple(str(f) for f in source)


class DicomVolumes(NiftiVolumes):
    """Whole DICOM series, one per patient, read on demand as :func:`load_dicom_volumes`
    reads them (samples ``(1, D, H, W)``).

    Parameters
    ----------
    sources : sequence
        One entry per patient: a folder holding the series, or a list of its files.
    plane, size, normalize
        As in :class:`NiftiVolumes`.
    series_uid, series_description : str or None, default=None
        Which series to read where a folder holds several (see :func:`read_dicom_series`).
    missing : {"raise", "allow"}, default="raise"
        A patient whose folder (or one of whose files) does not exist, as in
        :class:`NiftiVolumes`.
    """

    def __init__(
        self,
        sources,
        *,
        plane="coronal",
        size=None,
        normalize=None,
        series_uid=None,
        series_description=None,
        missing="raise",
    ):
        super().__init__([], plane=plane, size=size, normalize=normalize, missing=missing)
        self.sources = [_source_key(s) for s in sources]  # a folder, or a tuple of files
        self.series_uid = series_uid
        self.series_description = series_description
        self._check_files()

    def _options(self):
        return {
            "plane": self.plane,
            "size": self.size,
            "normalize": self.normalize,
            "series_uid": self.series_uid,
            "series_description": self.series_description,
            "missing": self.missing,
        }

    def _read(self, position):
        select = (("series_uid", self.series_uid), ("series_description", self.series_description))
        data = _cached_volume(self.sources[position], None, self.normalize, select)
        return _sections(data, self.plane, self.size)[None]

    def __repr__(self):
        return f"DicomVolumes({len(self)} series, depth along the {self.plane} axis)"
