"""Augmentation that keeps the target's meaning: ``augment="auto"`` (the default) never flips
left-right, ``True`` does (0.3's meaning), dict policies and callables, flips refused where
the target is not mirrored, and what model files keep of each."""

import pathlib

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

import skfusion
from skfusion import ClinicalAttentionClassifier, FusionInput, ReportGenerator
from skfusion.nn.augment import (
    AUTO_POLICY,
    FLIP_POLICY,
    apply_policy,
    augmentation_policy,
    random_affine,
)

from ..conftest import TINY, make_data

DATA = pathlib.Path(__file__).parents[1] / "data"


def lateral_lesions(n, seed, size=16):
    """One bright blob per image, on the left or the right half; the label is its side."""
    rng = np.random.default_rng(seed)
    side = rng.integers(0, 2, n)
    yy, xx = np.mgrid[:size, :size]
    images = rng.normal(0, 0.3, (n, 1, size, size)).astype(np.float32)
    for i in range(n):
        cx = rng.uniform(2, size / 2 - 3) if side[i] == 0 else rng.uniform(size / 2 + 2, size - 3)
        cy = rng.uniform(3, size - 4)
        images[i, 0] += 2.0 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 4.0)
    clinical = pd.DataFrame({"age": rng.normal(70, 5, n)})
    return FusionInput(images, clinical), np.where(side == 1, "right", "left")


def test_a_lateral_target_is_learned_with_the_defaults_and_destroyed_by_flips():
    X, y = lateral_lesions(120, 0)
    X_test, y_test = lateral_lesions(60, 1)
    # The deep path alone: the linear image path starts from unaugmented images and would
    # keep the side whatever the augmentation does.
    settings = dict(
        mode="image",
        backbone="resnet18",
        base_width=4,
        max_epochs=8,
        lr=3e-3,
        batch_size=16,
        device="cpu",
        verbose=0,
        random_state=0,
        image_shortcut=None,
    )

    def auc(**extra):
        model = ClinicalAttentionClassifier(**settings, **extra).fit(X, y)
        return roc_auc_score(y_test == "right", model.predict_proba(X_test)[:, 1])

    assert ClinicalAttentionClassifier().augment == "auto"
    assert auc() > 0.95  # the default keeps the side
    assert auc(augment=True) < 0.85  # flips half the training images: the side is noise


def test_auto_never_mirrors_and_true_mirrors_half():
    # An image that is bright on its left half only; no other transform.
    images = torch.zeros(400, 1, 8, 8)
    images[..., :4] = 1.0
    still = dict(degrees=0.0, scale=0.0, shift=0.0, gain=0.0)
    generator = torch.Generator().manual_seed(0)
    out = apply_policy({**AUTO_POLICY, **still}, images, generator)
    assert (out[..., :4].mean(dim=(1, 2, 3)) > 0.9).all()
    out = apply_policy({**FLIP_POLICY, **still}, images, generator)
    mirrored = (out[..., 4:].mean(dim=(1, 2, 3)) > 0.9).float().mean()
    assert 0.4 < mirrored < 0.6
    assert augmentation_policy("auto")["flip"] == 0 and augmentation_policy(True)["flip"] == 0.5
    assert augmentation_policy(False) is None


def test_true_draws_as_0_3_did():
    """A 0.3 model trained further with its stored augment=True draws the same transforms."""
    images = torch.randn(5, 1, 12, 12)
    old = random_affine(images, torch.Generator().manual_seed(3), flip=True)
    new = apply_policy(augmentation_policy(True), images, torch.Generator().manual_seed(3))
    torch.testing.assert_close(old, new)


@pytest.mark.parametrize(
    "augment, match",
    [
        ({"rotation": 5}, r"unknown range\(s\) \['rotation'\]"),
        ({"flip": 1.5}, r"augment\['flip'\]=1.5; expected a number from 0 to 1"),
        ({"degrees": -1}, r"augment\['degrees'\]=-1"),
        ({"gain": True}, r"augment\['gain'\]=True"),
        ("flip", r"'augment' parameter .* a str among {'auto'}"),
    ],
)
def test_bad_policies_are_refused_before_training(augment, match):
    X, y = make_data(n=12)
    model = ClinicalAttentionClassifier(**TINY, augment=augment)
    with pytest.raises(ValueError, match=match):
        model.fit(X, y)
    assert not hasattr(model, "net_")


def test_a_dict_policy_trains_and_is_saved_as_plain_values(tmp_path):
    X, y = make_data(n=16)
    policy = {"degrees": 5, "shift": 0.05}
    model = ClinicalAttentionClassifier(**TINY, augment=policy).fit(X, y)
    assert augmentation_policy(policy) == {
        "degrees": 5.0,
        "scale": 0.0,
        "shift": 0.05,
        "flip": 0.0,
        "gain": 0.0,
    }
    model.save(tmp_path / "m.skf")
    loaded = skfusion.load(tmp_path / "m.skf")
    assert loaded.augment == policy
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=1e-6)


def flip_columns(images, generator, masks=None):
    """A custom policy: flip the images upside down with probability 0.5 (from generator)."""
    chosen = torch.rand(images.shape[0], generator=generator) < 0.5
    out = torch.where(chosen.view(-1, *[1] * (images.dim() - 1)), images.flip(-2), images)
    if masks is None:
        return out
    moved = torch.where(chosen.view(-1, *[1] * (masks.dim() - 1)), masks.flip(-2), masks)
    return out, moved


def test_a_callable_policy_is_used_reproducibly_and_the_file_records_it(tmp_path):
    X, y = make_data(n=16)
    calls = []

    def policy(images, generator, masks=None):
        calls.append(images.shape[0])
        return flip_columns(images, generator, masks)

    first = ClinicalAttentionClassifier(**TINY, augment=policy).fit(X, y)
    assert sum(calls) == 2 * 16  # every training sample, each of the 2 epochs
    again = clone(first).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), again.predict_proba(X))
    first.save(tmp_path / "m.skf")
    loaded = skfusion.load(tmp_path / "m.skf")
    assert loaded.augment == "custom"
    np.testing.assert_allclose(loaded.predict_proba(X), first.predict_proba(X), atol=1e-6)
    loaded.set_params(warm_start=True)
    before = loaded.predict_proba(X)
    with pytest.raises(ValueError, match="custom augmentation callable.*set_params"):
        loaded.fit(X, y)
    np.testing.assert_array_equal(loaded.predict_proba(X), before)  # model kept
    loaded.set_params(augment=flip_columns).fit(X, y)


def test_a_callable_policy_moves_masks_and_a_wrong_one_is_refused():
    X, y = make_data(n=16)
    masks = np.zeros((16, 16, 16), dtype=np.uint8)
    masks[:, 2:6, 2:6] = 1
    Xm = FusionInput(X.images, X.clinical, masks=masks)
    ClinicalAttentionClassifier(**TINY, augment=flip_columns).fit(Xm, y)
    with pytest.raises(ValueError, match=r"must return \(images, masks\)"):
        ClinicalAttentionClassifier(**TINY, augment=lambda i, g, masks=None: i).fit(Xm, y)
    with pytest.raises(ValueError, match="must return a tensor of the images' shape"):
        ClinicalAttentionClassifier(**TINY, augment=lambda i, g: i[:, :, :8]).fit(X, y)


@pytest.mark.parametrize("augment", [True, {"flip": 0.2}])
def test_report_generator_refuses_flips_with_the_reason(augment):
    X, _ = make_data(n=12)
    reports = ["small lesion on the left", "large lesion on the right"] * 6
    small = dict(backbone="resnet18", base_width=4, max_epochs=1, verbose=0, random_state=0)
    with pytest.raises(ValueError, match="report text is not mirrored"):
        ReportGenerator(**small, augment=augment).fit(FusionInput(X.images), reports)
    ReportGenerator(**small).fit(FusionInput(X.images), reports)  # "auto": no flips


def test_a_0_3_model_file_keeps_its_stored_augment_true():
    """skfusion 0.3.0's file (ClinicalAttentionClassifier(mode="full") with the tests' TINY
    settings on make_data(n=24)) loads, predicts as it did and keeps augment=True."""
    model = skfusion.load(DATA / "skfusion-0.3.0-clinical-attention.skf")
    X, _ = make_data(n=24)
    expected = np.load(DATA / "skfusion-0.3.0-clinical-attention-proba.npy")
    np.testing.assert_allclose(model.predict_proba(X), expected, rtol=0, atol=1e-6)
    assert model.augment is True and model.mode == "full"
