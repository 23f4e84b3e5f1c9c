"""DICOM series as NIfTI-like images: the geometry of a series (orientation, positions,
spacing) turned into a RAS+ affine, so that a series is read exactly as the NIfTI file of
the same scan would be.

pydicom is an optional dependency (``pip install "skfusion[dicom]"``), imported when a DICOM
function is called.
"""

import os

import numpy as np

from .limits import max_voxels

__all__ = ["read_dicom_series"]

#: Largest deviation (mm) between a slice gap and the median gap, or between two
#: orientation cosines, that still counts as the same.
_GAP_TOLERANCE_MM = 0.01
_COSINE_TOLERANCE = 1e-4


def _pydicom():
    try:
        import pydicom
        from pydicom.pixels import apply_modality_lut
    except ImportError:
        raise ImportError(
            "reading DICOM needs pydicom 3 or newer, which is not installed; install it with "
            'pip install "skfusion[dicom]" (or pip install "pydicom>=3.0").'
        ) from None
    return pydicom, apply_modality_lut


def _files_of(source):
    if isinstance(source, (str, os.PathLike)):
        source = str(source)
        if os.path.isdir(source):
            files = []
            for root, dirs, names in os.walk(source):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files += [
                    os.path.join(root, n)
                    for n in sorted(names)
                    if not n.startswith(".") and n.upper() != "DICOMDIR"
                ]
            if not files:
                raise ValueError(f"the DICOM folder {source!s} holds no files.")
            return files
        if os.path.isfile(source):
            return [source]
        raise FileNotFoundError(f"DICOM folder or file not found: {source!s}")
    files = [str(f) for f in source]
    if not files:
        raise ValueError("the list of DICOM files is empty; pass a folder or at least one file.")
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        raise FileNotFoundError(f"DICOM file(s) not found: {missing[:3]}")
    return files


def _headers(pydicom, files, source):
    headers = []
    for path in files:
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # not DICOM (a README, a thumbnail): not part of any series
            continue
        if "Rows" in header and "Columns" in header:  # images only (no SR, RTSTRUCT, ...)
            headers.append((path, header))
    if not headers:
        raise ValueError(
            f"no DICOM images found in {source!s} ({len(files)} file(s) read); pass a folder "
            "or files of one DICOM image series."
        )
    return headers


def _one_series(headers, source, series_uid, series_description):
    groups = {}
    for path, header in headers:
        groups.setdefault(str(header.get("SeriesInstanceUID", "")), []).append((path, header))
    if series_uid is not None:
        groups = {k: v for k, v in groups.items() if k == str(series_uid)}
    if series_description is not None:
        wanted = str(series_description).lower()
        groups = {
            k: v
            for k, v in groups.items()
            if wanted in str(v[0][1].get("SeriesDescription", "")).lower()
        }
    if len(groups) == 1:
        return next(iter(groups.values()))
    listing = "; ".join(
        f"SeriesInstanceUID={uid!r} (SeriesDescription="
        f"{str(v[0][1].get('SeriesDescription', ''))!r}, {len(v)} image(s))"
        for uid, v in groups.items()
    )
    if not groups:
        raise ValueError(
            f"no image series in {source!s} matches series_uid={series_uid!r} and "
            f"series_description={series_description!r}; found none that match."
        )
    raise ValueError(
        f"{source!s} holds {len(groups)} image series: {listing}. Pass series_uid= (or "
        "series_description=, a case-insensitive part of the description) to choose one, or "
        "the files of one series."
    )


def _geometry(header, path):
    missing = [
        k
        for k in ("ImageOrientationPatient", "ImagePositionPatient", "PixelSpacing")
        if k not in header
    ]
    if missing:
        raise ValueError(
            f"{path!s} has no {', '.join(missing)}: its position in the patient is unknown, so "
            "it cannot be placed in a volume. Pass the files of a cross-sectional series "
            "(CT, MR, PET)."
        )
    values = {}
    for key, count in (
        ("ImageOrientationPatient", 6),
        ("ImagePositionPatient", 3),
        ("PixelSpacing", 2),
    ):
        raw = header.get(key)
        try:
            numbers = np.array(
                [
                    float(v)
                    for v in (
                        raw if isinstance(raw, (list, tuple)) or hasattr(raw, "__iter__") else [raw]
                    )
                ]
            )
        except (TypeError, ValueError):
            numbers = np.array([])
        if numbers.shape != (count,) or not np.isfinite(numbers).all():
            raise ValueError(
                f"{path!s}: {key} is {raw!r}; expected {count} finite numbers. The file's "
                "geometry is damaged; pass an intact series."
            )
        values[key] = numbers
    orientation = values["ImageOrientationPatient"]
    spacing = values["PixelSpacing"]
    norms = np.linalg.norm(orientation.reshape(2, 3), axis=1)
    if not np.allclose(norms, 1.0, atol=0.05) or (spacing <= 0).any():
        raise ValueError(
            f"{path!s}: ImageOrientationPatient {orientation.tolist()} must hold two unit "
            f"vectors and PixelSpacing {spacing.tolist()} must be positive; the file's "
            "geometry is damaged."
        )
    return orientation, values["ImagePositionPatient"], spacing


def read_dicom_series(source, *, series_uid=None, series_description=None):
    """One DICOM image series as a NIfTI image with the scan's geometry.

    Parameters
    ----------
    source : str, path-like or sequence of them
        A folder (searched recursively; files that are not DICOM images are skipped) or the
        files of one series.
    series_uid : str or None, default=None
        Choose this ``SeriesInstanceUID`` when the source holds several series.
    series_description : str or None, default=None
        Choose the series whose ``SeriesDescription`` contains this text (case-insensitive),
        e.g. ``"T1"``.

    Returns
    -------
    image : nibabel.Nifti1Image
        float32 voxels ``[row, column, slice]`` with the modality's rescaling applied (e.g.
        CT in Hounsfield units) and an affine to RAS+ millimetres built from
        ``ImageOrientationPatient``, ``ImagePositionPatient``, ``PixelSpacing`` and the
        distance between slice positions (not ``SliceThickness``). ``image.header.get_zooms()``
        gives the voxel spacing; ``nibabel.save(image, "scan.nii.gz")`` writes it as NIfTI.

    Notes
    -----
    Slices are ordered by their position along the slice normal (not by ``InstanceNumber``).
    A series is refused, with a message that says why, when its slices have different
    orientations or sizes (localizers, projections), share a position (several echoes or
    time points), or are not evenly spaced (missing slices); enhanced multi-frame files are
    refused too (convert them with dcm2niix and use :func:`load_nifti_volumes`).
    """
    import nibabel as nib

    pydicom, apply_modality_lut = _pydicom()
    series = _one_series(
        _headers(pydicom, _files_of(source), source), source, series_uid, series_description
    )
    first_path, first = series[0]
    if int(first.get("NumberOfFrames", 1) or 1) > 1:
        raise ValueError(
            f"{first_path!s} is a multi-frame DICOM file ({first.NumberOfFrames} frames), which "
            "skfusion does not read; convert the series to NIfTI (e.g. dcm2niix) and use "
            "load_nifti_volumes."
        )
    orientation, _, spacing = _geometry(first, first_path)
    shape = (int(first.Rows), int(first.Columns))
    entries = []
    for path, header in series:
        o, p, s = _geometry(header, path)
        if (
            (int(header.Rows), int(header.Columns)) != shape
            or not np.allclose(o, orientation, atol=_COSINE_TOLERANCE)
            or not np.allclose(s, spacing)
        ):
            raise ValueError(
                f"the images of {source!s} differ in orientation, size or pixel spacing "
                f"({first_path!s}: {orientation.round(4).tolist()}, {shape}, {spacing.tolist()}"
                f"; {path!s}: {o.round(4).tolist()}, {(header.Rows, header.Columns)}, "
                f"{s.tolist()}), as in localizers or projections; pass the files of one "
                "cross-sectional series."
            )
        entries.append((path, p))
    row_cosine, column_cosine = orientation[:3], orientation[3:]
    normal = np.cross(row_cosine, column_cosine)
    entries.sort(key=lambda entry: float(entry[1] @ normal))
    heights = np.array([float(p @ normal) for _, p in entries])
    gaps = np.diff(heights)
    if len(gaps) and gaps.min() < _GAP_TOLERANCE_MM:
        raise ValueError(
            f"{source!s} has several images at the same position ({len(entries)} images, "
            f"{len(np.unique(heights.round(2)))} positions): several echoes, time points or "
            "duplicate files. Pass the files of one echo / time point."
        )
    if len(gaps) and gaps.max() - gaps.min() > _GAP_TOLERANCE_MM + 0.01 * np.median(gaps):
        raise ValueError(
            f"the slices of {source!s} are not evenly spaced (gaps from {gaps.min():.3f} to "
            f"{gaps.max():.3f} mm): slices are missing or the series was acquired in parts. "
            "Pass a complete series."
        )
    if len(gaps):
        step = float(gaps.mean())
    else:
        step = float(first.get("SpacingBetweenSlices", first.get("SliceThickness", 1.0)) or 1.0)
    declared = shape[0] * shape[1] * len(entries)
    if declared > max_voxels():
        raise ValueError(
            f"{source!s} declares {shape[0]} x {shape[1]} x {len(entries)} = {declared} voxels, "
            f"over the limit of {max_voxels()}; if the series is genuine, set the environment "
            "variable SKFUSION_MAX_VOXELS to a larger number of voxels."
        )
    voxels = np.empty((*shape, len(entries)), np.float32)
    for k, (path, _) in enumerate(entries):
        dataset = pydicom.dcmread(path)
        if int(dataset.get("SamplesPerPixel", 1)) != 1:
            raise ValueError(f"{path!s} is a colour image; expected greyscale (CT, MR, PET).")
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # refused just below
                pixels = np.asarray(apply_modality_lut(dataset.pixel_array, dataset), np.float32)
        except Exception as exc:  # a compressed transfer syntax without its decoder, ...
            raise ValueError(
                f"could not decode the pixels of {path!s} ({type(exc).__name__}: {exc}); for "
                "compressed DICOM install the decoder pydicom names (e.g. pylibjpeg)."
            ) from None
        if not np.isfinite(pixels).all():
            raise ValueError(
                f"{path!s}: its rescale (RescaleSlope {dataset.get('RescaleSlope')!r}, "
                f"RescaleIntercept {dataset.get('RescaleIntercept')!r}) takes the pixel values "
                "beyond float32; the file's header is damaged."
            )
        if dataset.get("PhotometricInterpretation") == "MONOCHROME1":
            pixels = pixels.max() + pixels.min() - pixels  # white is low: turn it round
        voxels[..., k] = pixels
    # Voxel [i, j, k] (row i, column j): moving along i follows the column cosine by the row
    # spacing, along j the row cosine by the column spacing, along k the slice normal. DICOM
    # coordinates are LPS; NIfTI's are RAS, so x and y change sign.
    affine = np.eye(4)
    affine[:3, 0] = column_cosine * spacing[0]
    affine[:3, 1] = row_cosine * spacing[1]
    affine[:3, 2] = normal * step
    affine[:3, 3] = entries[0][1]
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine
    return nib.Nifti1Image(voxels, affine)
