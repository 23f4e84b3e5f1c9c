"""Read one DICOM series per patient into the arrays that FusionInput takes."""

import os

import numpy as np

from .lazy import DicomVolumes
from .volumes import PLANES

__all__ = ["load_dicom_volumes"]


def load_dicom_volumes(
    series,
    *,
    plane="coronal",
    size=None,
    normalize=None,
    series_uid=None,
    series_description=None,
    lazy=False,
    missing="raise",
):
    """Read one DICOM series per patient, in canonical (RAS+) orientation.

    Each series is turned into a volume with its geometry by :func:`read_dicom_series`
    (orientation from ``ImageOrientationPatient``, slice order and spacing from
    ``ImagePositionPatient``) and then read exactly as :func:`load_nifti_volumes` reads a
    NIfTI file: a series and the NIfTI file of the same scan give the same array. Needs
    pydicom (``pip install "skfusion[dicom]"``).

    Parameters
    ----------
    series : sequence
        One entry per patient: a folder holding the patient's series (searched recursively;
        other files are skipped) or a list of the series' files.
    plane : {"coronal", "axial", "sagittal"}, default="coronal"
        The anatomical axis that becomes depth, whatever the acquisition plane.
    size : int, (int, int) or None, default=None
        Resize every section (depth is kept).
    normalize : {"zscore", "minmax"} or None, default=None
        Per-volume normalisation; ``None`` keeps the modality's values (CT in HU).
    series_uid, series_description : str or None, default=None
        Which series to read where a folder holds several: the ``SeriesInstanceUID``, or a
        case-insensitive part of the ``SeriesDescription`` (e.g. ``"T1"``).
    lazy : bool, default=False
        Return a :class:`~skfusion.datasets.DicomVolumes` that reads each series when a batch
        needs it (memory stays flat in the number of patients).
    missing : {"raise", "allow"}, default="raise"
        Series whose folder or files do not exist: "raise" refuses, listing them; "allow"
        keeps those patients with their image marked missing, as
        :func:`load_nifti_volumes` does (a list with ``None``, or a lazy collection whose
        ``present`` says which exist).

    Returns
    -------
    images : ndarray of shape (n_patients, D, H, W) float32, list, or DicomVolumes

    Examples
    --------
    >>> import os, pydicom.data
    >>> from skfusion.datasets import load_dicom_volumes
    >>> ct = os.path.join(os.path.dirname(pydicom.data.__file__),
    ...                   "test_files", "dicomdirtests", "98892001", "CT5N")
    >>> load_dicom_volumes([ct], plane="axial").shape  # 5 axial slices of 16 x 16
    (1, 5, 16, 16)
    """
    if isinstance(series, (str, os.PathLike)):
        raise TypeError(
            f"series must be a sequence with one entry per patient; got the single path "
            f"{str(series)!r}. Pass [{str(series)!r}] for one patient."
        )
    series = list(series)
    if not series:
        raise ValueError("series is empty; pass one folder (or list of files) per patient.")
    if plane not in PLANES:
        raise ValueError(f"plane must be one of {sorted(PLANES)}; got {plane!r}.")
    if normalize not in (None, "zscore", "minmax"):
        raise ValueError(f"normalize must be 'zscore', 'minmax' or None; got {normalize!r}.")
    lazy_volumes = DicomVolumes(
        series,
        plane=plane,
        size=size,
        normalize=normalize,
        series_uid=series_uid,
        series_description=series_description,
        missing=missing,
    )
    present = (
        np.ones(len(series), dtype=bool) if lazy_volumes.present is None else lazy_volumes.present
    )
    if lazy:
        # Fail now, not in the first batch, on an unreadable first series.
        lazy_volumes.read(int(np.flatnonzero(present)[0]))
        return lazy_volumes
    volumes = [lazy_volumes.read(i)[0] if present[i] else None for i in range(len(lazy_volumes))]
    shapes = sorted({v.shape for v in volumes if v is not None})
    if len(shapes) > 1:
        raise ValueError(
            f"the volumes have different shapes {shapes}; pass size=(H, W) for the sections, "
            "and series of the same extent along the depth axis."
        )
    return np.stack(volumes) if present.all() else volumes
