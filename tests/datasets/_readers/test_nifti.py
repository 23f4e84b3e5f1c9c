import os

import nibabel as nib
import nibabel.testing
import numpy as np
import pytest

from skfusion import ClinicalAttentionClassifier, FusionInput
from skfusion.datasets import load_nifti_slices

from ...conftest import TINY

DATA = nibabel.testing.data_path
ANATOMICAL = os.path.join(DATA, "anatomical.nii")  # 33 x 41 x 25, LAS
SERIES = os.path.join(DATA, "example4d.nii.gz")  # 128 x 96 x 24 x 2


@pytest.mark.parametrize(
    "plane, slices, shape, indices",
    [
        ("coronal", 3, (3, 25, 33), [19, 20, 21]),
        ("axial", 2, (2, 41, 33), [11, 12]),
        ("sagittal", [0, 32], (2, 25, 41), [0, 32]),
        ("coronal", range(10, 14), (4, 25, 33), [10, 11, 12, 13]),
    ],
)
def test_real_file_planes_and_slices(plane, slices, shape, indices):
    images, metadata = load_nifti_slices(ANATOMICAL, plane=plane, slices=slices)
    assert images.shape == shape and images.dtype == np.float32
    assert metadata["slice_index"].tolist() == indices
    assert set(metadata["plane"]) == {plane}
    assert set(metadata["source"]) == {ANATOMICAL}


def test_canonical_orientation_makes_voxel_order_irrelevant(tmp_path):
    rng = np.random.RandomState(0)
    data = rng.rand(6, 7, 8).astype(np.float32)
    ras = nib.Nifti1Image(data, np.eye(4))
    las_affine = np.diag([-1.0, 1.0, 1.0, 1.0])
    las_affine[0, 3] = 5.0  # same world positions with the x axis stored the other way
    las = nib.Nifti1Image(data[::-1].copy(), las_affine)
    nib.save(ras, tmp_path / "ras.nii.gz")
    nib.save(las, tmp_path / "las.nii")
    a, _ = load_nifti_slices(tmp_path / "ras.nii.gz", slices=7)
    b, _ = load_nifti_slices(tmp_path / "las.nii", slices=7)
    np.testing.assert_array_equal(a, b)
    # Rows run superior -> inferior: the first row is the highest z.
    np.testing.assert_array_equal(a[0, 0], data[:, 0, -1])


def test_four_d_files_need_a_volume():
    with pytest.raises(ValueError, match="4-D with 2 volumes.*volume=0"):
        load_nifti_slices(SERIES, slices=2)
    first, _ = load_nifti_slices(SERIES, slices=2, volume=0)
    second, _ = load_nifti_slices(SERIES, slices=2, volume=1)
    assert first.shape == (2, 24, 128) and not np.array_equal(first, second)
    with pytest.raises(ValueError, match="volume=5 is out of range"):
        load_nifti_slices(SERIES, slices=2, volume=5)


def test_several_files_resized_and_normalised():
    images, metadata = load_nifti_slices(
        [ANATOMICAL, SERIES], slices=2, size=(16, 20), normalize="minmax", volume=0
    )
    assert images.shape == (4, 16, 20)
    assert metadata["source"].tolist() == [ANATOMICAL] * 2 + [SERIES] * 2
    assert images.min() >= -1e-6 and images.max() <= 1 + 1e-6
    with pytest.raises(ValueError, match="different shapes.*size="):
        load_nifti_slices([ANATOMICAL, SERIES], slices=2, volume=0)


def test_zscore_uses_the_foreground(tmp_path):
    data = np.zeros((4, 4, 4), np.float32)
    data[1:3, 1:3, 1:3] = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "v.nii")
    images, _ = load_nifti_slices(tmp_path / "v.nii", slices=4, normalize="zscore")
    foreground = data[data != 0]
    expected = np.sort((foreground - foreground.mean()) / foreground.std())
    values = np.unique(images)
    background = -foreground.mean() / foreground.std()
    np.testing.assert_allclose(values, np.sort(np.r_[background, expected]), rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(paths="missing.nii.gz"), FileNotFoundError, "missing.nii.gz"),
        (dict(plane="frontal"), ValueError, "plane='frontal'"),
        (dict(slices=100), ValueError, "has 41 coronal slices"),
        (dict(slices=[50]), ValueError, r"\[50\] are outside"),
        (dict(size=0), ValueError, "size must be"),
        (dict(normalize="unit"), ValueError, "normalize='unit'"),
        (dict(paths=[]), ValueError, "paths is empty"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, error, match):
    kwargs = {"paths": ANATOMICAL, **kwargs}
    with pytest.raises(error, match=match):
        load_nifti_slices(**kwargs)


def test_corrupt_file_names_the_path(tmp_path):
    path = tmp_path / "broken.nii.gz"
    path.write_bytes(b"this is not a NIfTI file")
    with pytest.raises(ValueError, match="broken.nii.gz"):
        load_nifti_slices(path)


def test_slices_train_a_classifier():
    images, metadata = load_nifti_slices(ANATOMICAL, slices=12, size=16, normalize="zscore")
    clinical = np.c_[metadata["slice_index"].to_numpy(float)]
    y = np.arange(12) % 2
    clf = ClinicalAttentionClassifier(**TINY).fit(FusionInput(images, clinical), y)
    assert clf.predict(FusionInput(images, clinical)).shape == (12,)
