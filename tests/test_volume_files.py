"""Whole NIfTI volumes per patient, eager and lazy: the same arrays as the cohort's slice
stacks, and identical models from lazy and in-memory input."""

import glob

import numpy as np
import pytest

import skfusion
from skfusion import FusionInput
from skfusion.datasets import NiftiVolumes, load_nifti_volumes, make_brain_cohort

from .conftest import TINY


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("volumes")
    cohort = make_brain_cohort(8, n_slices=6, image_size=24, output_dir=folder,
                               random_state=0)
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


def test_lazy_and_eager_volumes_train_the_same_model(written):
    cohort, paths = written
    clinical = cohort.X.clinical.drop(columns="sex")
    params = dict(TINY, spatial_dims=3, mode="concat", batch_size=4)
    eager = skfusion.ClinicalAttentionClassifier(**params).fit(
        FusionInput(load_nifti_volumes(paths), clinical), cohort.y)
    lazy_X = FusionInput(load_nifti_volumes(paths, lazy=True), clinical)
    lazy = skfusion.ClinicalAttentionClassifier(**params).fit(lazy_X, cohort.y)
    np.testing.assert_allclose(lazy.predict_proba(lazy_X), eager.predict_proba(
        FusionInput(load_nifti_volumes(paths), clinical)), rtol=1e-5, atol=1e-6)


def test_missing_files_and_bad_arguments_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.nii"):
        load_nifti_volumes([tmp_path / "nope.nii"])
    with pytest.raises(ValueError, match="plane must be one of"):
        load_nifti_volumes([tmp_path / "nope.nii"], plane="oblique")
