"""DICOM series per patient: read as the NIfTI file of the same scan is read (orientation,
slice order, spacing), checked on series written here in every acquisition plane and on
pydicom's own CT series; bad series refused with a reason."""

import os
import sys
import warnings

import nibabel as nib
import numpy as np
import pytest

import skfusion
from skfusion import FusionInput
from skfusion.datasets import (
    DicomVolumes,
    load_dicom_volumes,
    load_nifti_volumes,
    read_dicom_series,
)

from ...conftest import TINY

pydicom = pytest.importorskip("pydicom")
from pydicom.dataset import FileDataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, generate_uid  # noqa: E402

DICOM_TESTS = os.path.join(os.path.dirname(pydicom.data.__file__), "test_files", "dicomdirtests")
SLOPE, INTERCEPT = 0.5, -100.0
DICOM_CT = os.path.join(DICOM_TESTS, "98892001", "CT5N")


def _volume(seed, shape=(7, 9, 11)):
    """Integer-valued (after rescaling) voxels, so DICOM's int16 storage is exact."""
    stored = np.random.default_rng(seed).integers(0, 2000, shape)
    return (stored * SLOPE + INTERCEPT).astype(np.float32)


def _affine(oblique_degrees=0.0):
    angle = np.deg2rad(oblique_degrees)
    rotation = np.array(
        [[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]]
    )
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([1.2, 0.9, 2.5])
    affine[:3, 3] = [-40.0, 12.5, 30.0]
    return affine


def write_series(
    folder, data, affine, acquisition, *, shuffle_seed=0, series_uid=None, description="T1 MPRAGE"
):
    """Write the image (data, RAS affine) as a DICOM series whose slices are acquired along
    the voxel axes ``acquisition`` names (nibabel axis codes, third = slice direction)."""
    image = nib.Nifti1Image(data, affine)
    current = nib.orientations.io_orientation(affine)
    target = nib.orientations.axcodes2ornt(acquisition)
    image = image.as_reoriented(nib.orientations.ornt_transform(current, target))
    voxels, lps = np.asarray(image.dataobj), np.diag([-1.0, -1.0, 1.0, 1.0]) @ image.affine
    row_step, column_step = lps[:3, 0], lps[:3, 1]  # along i (rows), along j (columns)
    series_uid = series_uid or generate_uid()
    os.makedirs(folder, exist_ok=True)
    order = np.random.default_rng(shuffle_seed).permutation(voxels.shape[2])
    for k in range(voxels.shape[2]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"  # MR Image Storage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = (
            meta.MediaStorageSOPClassUID,
            meta.MediaStorageSOPInstanceUID,
        )
        ds.Modality, ds.SeriesInstanceUID, ds.SeriesDescription = "MR", series_uid, description
        ds.InstanceNumber = int(order[k]) + 1  # deliberately not the spatial order
        ds.ImageOrientationPatient = [
            *(column_step / np.linalg.norm(column_step)),
            *(row_step / np.linalg.norm(row_step)),
        ]
        ds.PixelSpacing = [float(np.linalg.norm(row_step)), float(np.linalg.norm(column_step))]
        ds.ImagePositionPatient = list((lps @ [0, 0, k, 1])[:3])
        ds.Rows, ds.Columns = voxels.shape[:2]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = SLOPE, INTERCEPT
        stored = np.round((voxels[:, :, k] - INTERCEPT) / SLOPE).astype(np.int16)
        ds.PixelData = stored.tobytes()
        ds.save_as(os.path.join(folder, f"IM{order[k]:04d}.dcm"), enforce_file_format=True)
    return folder


@pytest.mark.parametrize(
    "acquisition",
    [
        ("L", "P", "S"),  # axial, as scanners write it (LPS)
        ("P", "S", "R"),  # sagittal
        ("R", "S", "P"),  # coronal
        ("A", "L", "I"),  # axial, rows and slices the other way round
    ],
)
@pytest.mark.parametrize("oblique", [0.0, 12.0])
def test_a_series_reads_as_the_nifti_file_of_the_same_scan(tmp_path, acquisition, oblique):
    data, affine = _volume(1), _affine(oblique)
    nifti = tmp_path / "scan.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), nifti)
    folder = write_series(tmp_path / "dicom", data, affine, acquisition)
    image = read_dicom_series(folder)
    codes = nib.aff2axcodes(image.affine)  # slices run along the normal, either way round
    opposite = dict(zip("LRPAIS", "RLAPSI"))
    assert codes[:2] == acquisition[:2] and codes[2] in (acquisition[2], opposite[acquisition[2]])
    np.testing.assert_allclose(
        image.header.get_zooms(),
        [{"L": 1.2, "R": 1.2, "P": 0.9, "A": 0.9, "S": 2.5, "I": 2.5}[c] for c in acquisition],
        rtol=1e-5,
    )
    for plane in ("coronal", "axial", "sagittal"):
        expected = load_nifti_volumes([nifti], plane=plane)
        got = load_dicom_volumes([folder], plane=plane)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-4)
    np.testing.assert_allclose(
        load_dicom_volumes([folder], size=8, normalize="zscore"),
        load_nifti_volumes([nifti], size=8, normalize="zscore"),
        atol=1e-4,
    )


def test_pydicoms_ct_series_matches_nibabels_dicom_geometry():
    ct = os.path.join(DICOM_TESTS, "98892001", "CT5N")
    image = read_dicom_series(ct)
    files = [os.path.join(ct, f) for f in os.listdir(ct)]
    datasets = sorted(
        (pydicom.dcmread(f) for f in files), key=lambda ds: float(ds.ImagePositionPatient[2])
    )  # axial: z ascending
    with warnings.catch_warnings():  # nibabel calls its DICOM readers experimental
        warnings.simplefilter("ignore", UserWarning)
        from nibabel.nicom import dicomwrappers

        reference = dicomwrappers.wrapper_from_data(datasets[0]).affine
    # In-plane axes and origin as nibabel derives them (its single-file normal has an
    # arbitrary sign); the third axis is the step between consecutive slice positions.
    expected = np.diag([-1, -1, 1, 1]) @ reference
    step = np.subtract(datasets[1].ImagePositionPatient, datasets[0].ImagePositionPatient)
    expected[:3, 2] = step * [-1, -1, 1]
    np.testing.assert_allclose(image.affine, expected, atol=1e-4)
    hounsfield = np.stack(
        [ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for ds in datasets],
        axis=-1,
    )
    np.testing.assert_array_equal(np.asarray(image.dataobj), hounsfield)
    assert hounsfield.min() < 0  # the intercept (-1024) was applied: air-ish values are negative
    volumes = load_dicom_volumes([ct, ct], plane="axial")
    assert volumes.shape == (2, 5, 16, 16)
    # Axial sections run anterior (top row) to posterior, patient's left to the right column
    # as load_nifti_slices lays them out; depth runs inferior to superior.
    canonical = np.asarray(nib.as_closest_canonical(image).dataobj)
    np.testing.assert_array_equal(volumes[0, 0], np.flipud(canonical[:, :, 0].T))


def test_lazy_dicom_volumes_read_and_train_as_the_arrays_do(tmp_path):
    folders = [
        write_series(
            tmp_path / f"p{i}", _volume(i, (8, 8, 8)), _affine(), ("L", "P", "S"), shuffle_seed=i
        )
        for i in range(6)
    ]
    eager = load_dicom_volumes(folders, normalize="zscore")
    lazy = load_dicom_volumes(folders, normalize="zscore", lazy=True)
    assert isinstance(lazy, DicomVolumes) and lazy.shape == (6, 1, 8, 8, 8)
    np.testing.assert_array_equal(np.asarray(lazy)[:, 0], eager)
    np.testing.assert_array_equal(np.asarray(lazy.take([4, 1]))[:, 0], eager[[4, 1]])
    files = [os.path.join(folders[2], f) for f in os.listdir(folders[2])]
    np.testing.assert_array_equal(load_dicom_volumes([files], normalize="zscore")[0], eager[2])
    y = np.array([0, 1] * 3)
    params = dict(TINY, spatial_dims=3, mode="image", batch_size=3)
    model = skfusion.ClinicalAttentionClassifier(**params).fit(FusionInput(lazy, None), y)
    reference = skfusion.ClinicalAttentionClassifier(**params).fit(FusionInput(eager, None), y)
    np.testing.assert_allclose(
        model.predict_proba(FusionInput(lazy, None)),
        reference.predict_proba(FusionInput(eager, None)),
        atol=1e-6,
    )


def test_a_series_is_chosen_by_uid_or_description(tmp_path):
    t1 = write_series(
        tmp_path / "patient",
        _volume(1),
        _affine(),
        ("L", "P", "S"),
        series_uid="1.2.3.1",
        description="T1 MPRAGE",
    )
    os.makedirs(tmp_path / "patient" / "flair")
    write_series(
        tmp_path / "patient" / "flair",
        _volume(2),
        _affine(),
        ("L", "P", "S"),
        series_uid="1.2.3.2",
        description="FLAIR",
    )
    with pytest.raises(ValueError, match="holds 2 image series.*FLAIR.*series_uid="):
        load_dicom_volumes([t1])
    by_uid = load_dicom_volumes([t1], series_uid="1.2.3.2")
    by_text = load_dicom_volumes([t1], series_description="flair", lazy=True)
    np.testing.assert_array_equal(np.asarray(by_text)[:, 0], by_uid)
    with pytest.raises(ValueError, match="no image series .* matches"):
        read_dicom_series(t1, series_description="DWI")


@pytest.mark.parametrize(
    "folder, message",
    [
        (("98892003", "MR700"), "differ in orientation"),  # projections around an axis
        (("77654033", "CT2"), r"not evenly spaced \(gaps from 1.250 to 202.500 mm\)"),
        (("98892003", "MR2"), "holds 3 image series"),
    ],
)
def test_series_that_are_not_one_volume_are_refused_with_the_reason(folder, message):
    with pytest.raises(ValueError, match=message):
        read_dicom_series(os.path.join(DICOM_TESTS, *folder))


def test_other_bad_sources_are_refused_with_the_reason(tmp_path, monkeypatch):
    folder = write_series(tmp_path / "dup", _volume(3, (4, 4, 3)), _affine(), ("L", "P", "S"))
    first = sorted(os.listdir(folder))[0]
    with (
        open(os.path.join(folder, first), "rb") as src,
        open(os.path.join(folder, "copy.dcm"), "wb") as dst,
    ):
        dst.write(src.read())
    with pytest.raises(ValueError, match="several images at the same position"):
        read_dicom_series(folder)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README.txt").write_text("not an image")
    with pytest.raises(ValueError, match="no DICOM images found"):
        read_dicom_series(tmp_path / "notes")
    with pytest.raises(FileNotFoundError, match="missing"):
        load_dicom_volumes([tmp_path / "missing"])
    kept = load_dicom_volumes([tmp_path / "missing", DICOM_CT], plane="axial", missing="allow")
    assert kept[0] is None and kept[1].shape == (5, 16, 16)
    lazy = load_dicom_volumes(
        [DICOM_CT, tmp_path / "missing"], plane="axial", missing="allow", lazy=True
    )
    np.testing.assert_array_equal(lazy.present, [True, False])
    with pytest.raises(TypeError, match="one entry per patient"):
        load_dicom_volumes(str(folder))
    with pytest.raises(ValueError, match="multi-frame"):
        read_dicom_series(os.path.join(DICOM_TESTS, "..", "rtdose.dcm"))
    monkeypatch.setitem(sys.modules, "pydicom", None)
    with pytest.raises(ImportError, match=r"skfusion\[dicom\]"):
        read_dicom_series(folder)


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda ds: setattr(ds, "ImageOrientationPatient", [1, 0, 0]),
            r"ImageOrientationPatient is .*expected 6 finite numbers",
        ),
        (
            lambda ds: setattr(ds, "ImagePositionPatient", [float("nan"), 0, 0]),
            r"ImagePositionPatient is .*expected 3 finite numbers",
        ),
        (lambda ds: setattr(ds, "PixelSpacing", [0, 0.9]), "must be positive"),
        (lambda ds: setattr(ds, "ImageOrientationPatient", [2, 0, 0, 0, 1, 0]), "two unit vectors"),
        (lambda ds: setattr(ds, "RescaleSlope", 1e300), r"RescaleSlope .*beyond float32"),
    ],
)
def test_damaged_geometry_and_rescale_are_refused_naming_the_file(tmp_path, edit, message):
    """Once: "incompatible dimensions for cross product", nibabel's HeaderDataError naming no
    file, or an all-zero volume."""
    folder = tmp_path / "series"
    write_series(folder, _volume(0), _affine(), "LPS")
    for path in sorted(folder.iterdir()):
        ds = pydicom.dcmread(path)
        edit(ds)
        ds.save_as(path)
    with pytest.raises(ValueError, match=message) as info:
        skfusion.datasets.read_dicom_series(folder)
    assert str(folder) in str(info.value)


def test_a_series_declaring_a_huge_volume_is_refused_before_allocating(tmp_path, monkeypatch):
    folder = tmp_path / "series"
    write_series(folder, _volume(0), _affine(), "LPS")
    monkeypatch.setenv("SKFUSION_MAX_VOXELS", "100")
    with pytest.raises(ValueError, match=r"declares .* voxels, over the limit of 100"):
        skfusion.datasets.read_dicom_series(folder)
