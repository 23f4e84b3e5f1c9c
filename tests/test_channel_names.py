"""Several sequences per patient as named image channels: FusionInput(channel_names=...),
the loaders' dict of sequences, channel_names_in_ checked at predict and kept in model
files, and per-sequence permutation importance."""

import warnings

import nibabel as nib
import numpy as np
import pytest

import skfusion
from skfusion import ClinicalAttentionClassifier, FusionInput
from skfusion.datasets import load_nifti_slices, load_nifti_volumes
from skfusion.explain import permutation_importance
from skfusion.preprocessing import ClinicalTransformer

from .conftest import TINY, make_data

SEQUENCES = ["t1", "flair"]


def _two_sequences(n=24, seed=0):
    """Channel 0 carries the class, channel 1 is noise."""
    X, y = make_data(n=n, size=16, seed=seed)
    rng = np.random.RandomState(seed)
    images = np.stack(
        [np.asarray(X.images, np.float32), rng.normal(size=X.images.shape).astype(np.float32)],
        axis=1,
    )
    return FusionInput(images, X.clinical, channel_names=SEQUENCES), y


def test_fusion_input_checks_and_keeps_the_names():
    X, _ = _two_sequences()
    assert X.channel_names == ("t1", "flair") and X[[0, 3]].channel_names == ("t1", "flair")
    assert "channel_names=['t1', 'flair']" in repr(X)
    images = np.zeros((4, 2, 8, 8), np.float32)
    with pytest.raises(
        ValueError,
        match=r"names 3 channel\(s\), but images have shape "
        r"\(4, 2, 8, 8\)",
    ):
        FusionInput(images, channel_names=["t1", "t2", "flair"])
    with pytest.raises(ValueError, match="one non-empty name per channel"):
        FusionInput(images, channel_names="t1")
    with pytest.raises(ValueError, match="repeats a name"):
        FusionInput(images, channel_names=["t1", "t1"])
    with pytest.raises(ValueError, match="layout='slices' is not supported yet"):
        FusionInput(images, channel_names=SEQUENCES, layout="slices")
    with pytest.raises(ValueError, match=r"images\[:, None\] for one sequence"):
        FusionInput(np.zeros((4, 6, 8, 8)), channel_names=["t1"])  # a volume, no channel axis


def test_the_fitted_model_keeps_checks_and_saves_the_names(tmp_path):
    X, y = _two_sequences()
    model = ClinicalAttentionClassifier(mode="concat", **TINY).fit(X, y)
    assert model.channel_names_in_ == ("t1", "flair")
    swapped = FusionInput(X.images[:, ::-1], X.clinical, channel_names=SEQUENCES[::-1])
    with pytest.raises(
        ValueError,
        match=r"\['flair', 't1'\] differ from the channels the "
        r"model was fitted on \['t1', 'flair'\] \(the same "
        r"names in another order\)",
    ):
        model.predict(swapped)
    with pytest.warns(
        UserWarning, match="X has no channel names, but ClinicalAttentionClassifier was fitted with"
    ):
        unnamed = model.predict_proba((X.images, X.clinical))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same names: no warning
        assert np.array_equal(model.predict_proba(X), unnamed)
    path = model.save(tmp_path / "model.skf")
    loaded = skfusion.load(path)
    assert loaded.channel_names_in_ == ("t1", "flair")
    assert np.allclose(loaded.predict_proba(X), unnamed)
    unnamed_model = ClinicalAttentionClassifier(mode="concat", **TINY).fit(
        (X.images, X.clinical), y
    )
    assert not hasattr(unnamed_model, "channel_names_in_")
    with pytest.warns(
        UserWarning,
        match=r"X has channel names \['t1', 'flair'\], but "
        "ClinicalAttentionClassifier was fitted without",
    ):
        unnamed_model.predict(X)
    assert not hasattr(skfusion.load(unnamed_model.save(tmp_path / "u.skf")), "channel_names_in_")


def test_a_pipeline_step_keeps_the_names_and_the_presence_mask():
    X, _ = _two_sequences(n=6)
    X = FusionInput(
        X.images, X.clinical, channel_names=SEQUENCES, present={"images": np.arange(6) != 2}
    )
    out = ClinicalTransformer().fit_transform(X)
    assert out.channel_names == ("t1", "flair")
    assert np.array_equal(out.present["images"], X.present["images"])


def test_permutation_importance_per_sequence():
    X, y = _two_sequences(n=40)
    model = ClinicalAttentionClassifier(mode="image", **{**TINY, "max_epochs": 15, "lr": 3e-3}).fit(
        X, y
    )
    result = permutation_importance(model, X, y, n_repeats=3, random_state=0)
    assert result.names[-2:] == ["images:t1", "images:flair"]
    by_name = dict(zip(result.names, result.importances_mean))
    assert by_name["images:t1"] > by_name["images:flair"] + 0.1  # the class is in t1


def _write(path, data, affine=None):
    nib.save(
        nib.Nifti1Image(data.astype(np.float32), np.eye(4) if affine is None else affine), path
    )
    return str(path)


def test_loaders_stack_sequences_as_channels(tmp_path):
    rng = np.random.default_rng(0)
    t1 = [_write(tmp_path / f"t1_{i}.nii.gz", rng.normal(size=(6, 5, 7))) for i in range(3)]
    flair = [
        _write(tmp_path / f"flair_{i}.nii.gz", rng.normal(size=(6, 5, 7)) + 10) for i in range(3)
    ]
    volumes = load_nifti_volumes({"t1": t1, "flair": flair})
    assert volumes.shape == (3, 2, 5, 7, 6)  # coronal depth first
    assert np.allclose(volumes[:, 0], load_nifti_volumes(t1))
    assert np.allclose(volumes[:, 1], load_nifti_volumes(flair))
    slices, metadata = load_nifti_slices({"t1": t1, "flair": flair}, slices=1)
    assert slices.shape == (3, 2, 7, 6) and list(metadata["source"]) == t1
    assert np.allclose(slices[:, 1], load_nifti_slices(flair, slices=1)[0])
    X = FusionInput(volumes, channel_names=["t1", "flair"])
    assert X.channel_names == ("t1", "flair")


def test_loaders_refuse_sequences_they_cannot_stack(tmp_path):
    data = np.zeros((6, 5, 7))
    t1 = [_write(tmp_path / "t1.nii.gz", data)]
    shifted = np.eye(4)
    shifted[:3, 3] = [2.0, 0, 0]
    moved = [_write(tmp_path / "moved.nii.gz", data, shifted)]
    coarse = [_write(tmp_path / "coarse.nii.gz", np.zeros((3, 5, 7)))]
    with pytest.raises(
        ValueError,
        match=r"patient 0: sequence 'flair' .* is not on the grid "
        r"of 't1'.*resample_to_img",
    ):
        load_nifti_volumes({"t1": t1, "flair": moved})
    with pytest.raises(ValueError, match=r"shape \(3, 5, 7\)\) is not on the grid"):
        load_nifti_volumes({"t1": t1, "t2": coarse})
    with pytest.raises(ValueError, match=r"one file per patient.*\{'t1': 1, 'flair': 2\}"):
        load_nifti_volumes({"t1": t1, "flair": t1 + t1})
    with pytest.raises(
        FileNotFoundError,
        match=r"1 sequence file\(s\) do not exist "
        r"\(flair: .*absent.nii",
    ):
        load_nifti_volumes({"t1": t1, "flair": [str(tmp_path / "absent.nii")]})
    with pytest.raises(ValueError, match="lazy=True reads one sequence"):
        load_nifti_volumes({"t1": t1}, lazy=True)
    with pytest.raises(ValueError, match="missing='allow' is not supported"):
        load_nifti_volumes({"t1": t1}, missing="allow")
    with pytest.raises(ValueError, match="Slice stacks with several sequences"):
        load_nifti_slices({"t1": t1}, slices=3)
    with pytest.raises(ValueError, match="empty dict of sequences"):
        load_nifti_volumes({})
