"""Whole NIfTI volumes per patient, eager and lazy: the same arrays as the cohort's slice
stacks, and identical models from lazy and in-memory input."""

import glob

import numpy as np
import pytest

import skfusion
from skfusion import FusionInput
from skfusion.datasets import NiftiVolumes, load_nifti_volumes, make_brain_cohort

from ...conftest import TINY


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("volumes")
    cohort = make_brain_cohort(8, n_slices=6, image_size=24, output_dir=folder, random_state=0)
    paths = sorted(glob.glob(str(folder / "sub-*" / "anat" / "*_T1w.nii.gz")))
    return cohort, paths


def test_a_volume_is_the_stack_of_its_slices(written):
    cohort, paths = written
    volumes = load_nifti_volumes(paths)
    assert volumes.shape == (8, 6, 24, 24)
    np.testing.assert_array_equal(volumes, cohort.X.images)
    lazy = load_nifti_volumes(paths, lazy=True)
    assert isinstance(lazy, NiftiVolumes) and lazy.sample_shape == (1, 6, 24, 24)
    np.testing.assert_array_equal(np.asarray(lazy)[:, 0], volumes)
    assert load_nifti_volumes(paths[:2], size=12).shape == (2, 6, 12, 12)


def test_absent_files_are_listed_or_kept_as_patients_without_an_image(written, tmp_path):
    cohort, paths = written
    gone = [paths[0], str(tmp_path / "sub-x_T1w.nii.gz"), paths[2], str(tmp_path / "y.nii")]
    with pytest.raises(
        FileNotFoundError,
        match=r"2 of 4 image file\(s\) do not exist.*"
        r"sub-x_T1w.*y.nii.*missing='allow'",
    ):
        load_nifti_volumes(gone)
    with pytest.raises(FileNotFoundError, match="do not exist"):
        NiftiVolumes(gone)
    eager = load_nifti_volumes(gone, missing="allow")
    assert [v is None for v in eager] == [False, True, False, True]
    lazy = load_nifti_volumes(gone, missing="allow", lazy=True)
    np.testing.assert_array_equal(lazy.present, [True, False, True, False])
    assert lazy.sample_shape == (1, 6, 24, 24)
    assert not np.asarray(lazy[1]).any()  # a placeholder, never read by the estimators
    np.testing.assert_array_equal(lazy.take([2, 1]).present, [True, False])
    for images in (eager, lazy):
        X = FusionInput(images, cohort.X.clinical.iloc[:4])
        np.testing.assert_array_equal(X.present["images"], [True, False, True, False])
    with pytest.raises(FileNotFoundError, match="none of the 2"):
        load_nifti_volumes(gone[1::2], missing="allow")
    # A 3-D model trains on them lazily, reading only the files that exist.
    X = FusionInput(lazy, cohort.X.clinical.iloc[:4].drop(columns="sex"))
    model = skfusion.ClinicalAttentionClassifier(
        **dict(TINY, spatial_dims=3, mode="concat", batch_size=4, max_epochs=1)
    ).fit(X, ["AD", "NC", "NC", "AD"])
    assert np.isfinite(model.predict_proba(X)).all()


def test_lazy_and_eager_volumes_train_the_same_model(written):
    cohort, paths = written
    clinical = cohort.X.clinical.drop(columns="sex")
    params = dict(TINY, spatial_dims=3, mode="concat", batch_size=4)
    eager = skfusion.ClinicalAttentionClassifier(**params).fit(
        FusionInput(load_nifti_volumes(paths), clinical), cohort.y
    )
    lazy_X = FusionInput(load_nifti_volumes(paths, lazy=True), clinical)
    lazy = skfusion.ClinicalAttentionClassifier(**params).fit(lazy_X, cohort.y)
    np.testing.assert_allclose(
        lazy.predict_proba(lazy_X),
        eager.predict_proba(FusionInput(load_nifti_volumes(paths), clinical)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_missing_files_and_bad_arguments_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.nii"):
        load_nifti_volumes([tmp_path / "nope.nii"])
    with pytest.raises(ValueError, match="missing must be 'raise' or 'allow'"):
        NiftiVolumes([tmp_path / "nope.nii"], missing="skip")
    with pytest.raises(ValueError, match="plane must be one of"):
        load_nifti_volumes([tmp_path / "nope.nii"], plane="oblique")


# -- damaged and hostile files (hardening round three) -----------------------------------


def _gz_volume(tmp_path, name="ok.nii.gz", shape=(12, 12, 12)):
    import nibabel as nib

    data = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    path = tmp_path / name
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    return path


@pytest.mark.parametrize("lazy", [False, True])
def test_a_gzip_file_with_a_flipped_byte_is_refused(tmp_path, lazy):
    from skfusion.datasets import load_nifti_slices, load_nifti_volumes

    path = _gz_volume(tmp_path, shape=(24, 24, 24))
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # once loaded as "finite" data with a voxel at 6.9e16
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="bad.nii.gz.*gzip stream is damaged"):
        volumes = load_nifti_volumes([bad], lazy=lazy)
        np.asarray(volumes[0:1]) if lazy else None
    with pytest.raises(ValueError, match="bad.nii.gz.*gzip stream is damaged"):
        load_nifti_slices([bad], slices=None)
    assert load_nifti_volumes([path]).shape == (1, 24, 24, 24)  # the intact file still loads


def _claiming(tmp_path, shape, compress=True):
    """A tiny file whose header claims ``shape`` (uint8) but holds almost nothing."""
    import gzip
    import io

    import nibabel as nib

    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.uint8)
    stream = io.BytesIO()
    header.write_to(stream)
    data = stream.getvalue() + b"\0" * 4
    path = tmp_path / ("claim.nii.gz" if compress else "claim.nii")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize("reader", ["slices", "slices_lazy", "volumes", "volumes_lazy"])
def test_a_header_claiming_a_huge_image_is_refused_before_reading(tmp_path, reader):
    from skfusion.datasets import load_nifti_slices, load_nifti_volumes

    path = _claiming(tmp_path, (1500, 1500, 1500))
    assert path.stat().st_size < 100
    read = {
        "slices": lambda: load_nifti_slices([path], slices=None),
        "slices_lazy": lambda: load_nifti_slices([path], slices=None, lazy=True),
        "volumes": lambda: load_nifti_volumes([path]),
        "volumes_lazy": lambda: np.asarray(load_nifti_volumes([path], lazy=True)[0:1]),
    }
    with pytest.raises(ValueError, match=r"declares 3375000000 voxels.*SKFUSION_MAX_VOXELS"):
        read[reader]()


def test_the_voxel_limit_is_set_by_the_environment(tmp_path, monkeypatch):
    from skfusion.datasets import load_nifti_volumes

    path = _gz_volume(tmp_path)
    monkeypatch.setenv("SKFUSION_MAX_VOXELS", "1000")
    with pytest.raises(ValueError, match="declares 1728 voxels .* over the limit of 1000"):
        load_nifti_volumes([path])
    monkeypatch.setenv("SKFUSION_MAX_VOXELS", "lots")
    with pytest.raises(ValueError, match="SKFUSION_MAX_VOXELS='lots'; expected a positive"):
        load_nifti_volumes([path])
    monkeypatch.delenv("SKFUSION_MAX_VOXELS")
    assert load_nifti_volumes([path]).shape == (1, 12, 12, 12)


def test_a_gzip_bomb_stops_at_the_declared_size(tmp_path):
    import gzip

    import nibabel as nib

    from skfusion.datasets import load_nifti_volumes

    # A small declared image followed by far more data than it declares.
    path = _gz_volume(tmp_path, "small.nii.gz", shape=(4, 4, 4))
    raw = gzip.decompress(path.read_bytes()) + b"\0" * (8 * 2**20)
    bomb = tmp_path / "bomb.nii.gz"
    bomb.write_bytes(gzip.compress(raw))
    assert nib.load(bomb).shape == (4, 4, 4)
    with pytest.raises(ValueError, match="decompresses to more than"):
        load_nifti_volumes([bomb])


def test_nan_voxels_are_read_as_zero_with_a_warning(tmp_path):
    import nibabel as nib

    from skfusion.datasets import load_nifti_volumes

    data = np.ones((4, 4, 4), np.float32)
    data[0, 0, :2] = np.nan
    data[1, 1, 1] = np.inf
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "nan.nii")
    with pytest.warns(UserWarning, match="has 3 NaN or infinite voxel"):
        volumes = load_nifti_volumes([tmp_path / "nan.nii"])
    assert np.isfinite(volumes).all() and (volumes == 0).sum() == 3


def test_every_slice_of_a_large_volume_is_read_in_one_pass(tmp_path):
    """slices=None once took time growing as slices x voxels (np.take per slice)."""
    import nibabel as nib

    from skfusion.datasets import load_nifti_slices

    data = np.arange(20 * 30 * 40, dtype=np.float32).reshape(20, 30, 40)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "v.nii")
    for plane, axis in (("sagittal", 0), ("coronal", 1), ("axial", 2)):
        images, meta = load_nifti_slices(tmp_path / "v.nii", plane=plane, slices=None)
        for i in (0, 7, data.shape[axis] - 1):
            expected = np.flipud(np.take(data, i, axis=axis).T)
            np.testing.assert_array_equal(images[i], expected)


def test_a_model_fitted_on_arrays_predicts_on_lazy_images_and_back(tmp_path):
    """Once: AttributeError 'LazyFusionDataset' object has no attribute 'inputs'."""
    import nibabel as nib

    from skfusion import ClinicalAttentionClassifier
    from skfusion.datasets import load_nifti_slices

    rng = np.random.default_rng(0)
    paths = []
    for i in range(12):
        paths.append(tmp_path / f"{i}.nii")
        nib.save(
            nib.Nifti1Image(rng.normal(size=(16, 4, 16)).astype(np.float32), np.eye(4)), paths[-1]
        )
    lazy, _ = load_nifti_slices(paths, slices=1, lazy=True)
    eager, _ = load_nifti_slices(paths, slices=1)
    y = np.arange(12) % 2
    small = dict(
        mode="image",
        backbone="resnet18",
        base_width=4,
        max_epochs=1,
        verbose=0,
        random_state=0,
        device="cpu",
    )
    on_arrays = ClinicalAttentionClassifier(**small).fit(FusionInput(eager), y)
    on_files = ClinicalAttentionClassifier(**small).fit(FusionInput(lazy), y)
    for model in (on_arrays, on_files):
        np.testing.assert_allclose(
            model.predict_proba(FusionInput(lazy)),
            model.predict_proba(FusionInput(eager)),
            atol=1e-6,
        )
    on_arrays.save(tmp_path / "m.skf")
    loaded = skfusion.load(tmp_path / "m.skf")
    np.testing.assert_allclose(
        loaded.predict_proba(FusionInput(lazy)),
        on_arrays.predict_proba(FusionInput(eager)),
        atol=1e-6,
    )
