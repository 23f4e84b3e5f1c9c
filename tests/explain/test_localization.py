"""Supervised localisation: masks in X at fit time train a segmentation head beside the task;
``localize`` returns its maps (or weakly supervised Grad-CAM maps without masks)."""

import pickle

import numpy as np
import pytest
import torch

from skfusion import (
    ClinicalAttentionClassifier,
    ClinicalAttentionRegressor,
    FeatureModulationClassifier,
    FusionInput,
    GatedFusionClassifier,
    load,
)
from skfusion.explain import grad_cam
from skfusion.nn import ClinicalAttentionNet
from skfusion.nn.augment import random_affine
from skfusion.nn.localization import LocalizingNet, segmentation_loss

SMALL = dict(
    backbone="resnet18", base_width=8, batch_size=16, random_state=0, verbose=0, device="cpu"
)


def moving_lesions(n=48, size=32, seed=0, volume=False):
    """Bright squares (cubes) at random positions on noise; the label is whether the lesion
    lies in the left half, so the network must find it."""
    rng = np.random.RandomState(seed)
    shape = (n, 8, size, size) if volume else (n, size, size)
    images = (rng.rand(*shape) * 0.3).astype(np.float32)
    masks = np.zeros(shape, dtype=bool)
    for i in range(n):
        r, c = rng.randint(2, size - 8, 2)
        if volume:
            d = rng.randint(0, 4)
            masks[i, d : d + 4, r : r + 6, c : c + 6] = True
        else:
            masks[i, r : r + 6, c : c + 6] = True
    images[masks] += 1.0
    y = (np.argwhere(masks)[:, -1].reshape(n, -1).mean(axis=1) < size / 2).astype(int)
    clinical = rng.normal(size=(n, 2))
    return images, clinical, masks, y


def iou(maps, masks):
    on = maps >= 0.5
    return float(np.mean([(a & b).sum() / max((a | b).sum(), 1) for a, b in zip(on, masks)]))


def test_supervised_localisation_finds_lesions_that_move_on_held_out_samples():
    images, clinical, masks, y = moving_lesions(96, seed=0)
    clf = ClinicalAttentionClassifier(max_epochs=25, lr=3e-3, **SMALL)
    clf.fit(FusionInput(images[:64], clinical[:64], masks=masks[:64]), y[:64])
    assert clf.localizes_
    maps = clf.localize(FusionInput(images[64:], clinical[64:]))
    assert maps.shape == masks[64:].shape and maps.dtype == np.float32
    assert 0 <= maps.min() and maps.max() <= 1
    assert iou(maps, masks[64:]) >= 0.5
    # A map that ignores the image (the mean training mask) cannot follow moving lesions.
    mean_mask = np.broadcast_to(masks[:64].mean(axis=0), masks[64:].shape)
    assert iou(maps, masks[64:]) > iou(mean_mask / mean_mask.max(), masks[64:]) + 0.3


def test_localisation_weight_zero_leaves_the_head_untrained():
    images, clinical, masks, y = moving_lesions(48, seed=1)
    X = FusionInput(images, clinical, masks=masks)
    trained = ClinicalAttentionClassifier(max_epochs=8, lr=3e-3, **SMALL).fit(X, y)
    untrained = ClinicalAttentionClassifier(
        max_epochs=8, lr=3e-3, localization_weight=0.0, **SMALL
    ).fit(X, y)
    assert iou(trained.localize(X), masks) > iou(untrained.localize(X), masks) + 0.2


def test_localisation_is_deterministic_and_survives_save_load_and_pickle(tmp_path):
    images, clinical, masks, y = moving_lesions(24, seed=2)
    X = FusionInput(images, clinical, masks=masks)
    a = GatedFusionClassifier(max_epochs=2, n_heads=2, head_dim=8, **SMALL).fit(X, y)
    b = GatedFusionClassifier(max_epochs=2, n_heads=2, head_dim=8, **SMALL).fit(X, y)
    np.testing.assert_array_equal(a.localize(X), b.localize(X))
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    path = a.save(tmp_path / "model.skf")
    loaded = load(path)
    assert loaded.localizes_
    np.testing.assert_allclose(loaded.localize(X), a.localize(X), atol=1e-6)
    np.testing.assert_allclose(loaded.predict_proba(X), a.predict_proba(X), atol=1e-6)
    again = pickle.loads(pickle.dumps(a))
    np.testing.assert_allclose(again.localize(X), a.localize(X), atol=1e-6)


def test_masks_change_nothing_the_task_sees_when_absent_at_predict():
    images, clinical, masks, y = moving_lesions(24, seed=3)
    clf = FeatureModulationClassifier(max_epochs=2, **SMALL).fit(
        FusionInput(images, clinical, masks=masks), y
    )
    with_masks = clf.predict_proba(FusionInput(images, clinical, masks=masks))
    np.testing.assert_array_equal(with_masks, clf.predict_proba((images, clinical)))


def test_slice_stacks_and_volumes_localise_per_slice_and_per_voxel():
    images, clinical, masks, y = moving_lesions(16, size=16, seed=4, volume=True)
    stack = ClinicalAttentionClassifier(max_epochs=1, slices="attention", **SMALL).fit(
        FusionInput(images, clinical, masks=masks), y
    )
    assert stack.localize((images, clinical)).shape == masks.shape  # (n, S, H, W)
    volume = ClinicalAttentionRegressor(max_epochs=1, spatial_dims=3, **SMALL).fit(
        FusionInput(images, clinical, masks=masks), y.astype(float)
    )
    maps = volume.localize((images, clinical))
    assert maps.shape == masks.shape and np.isfinite(maps).all()  # (n, D, H, W)


def test_a_model_fitted_without_masks_gives_weakly_supervised_maps():
    images, clinical, masks, y = moving_lesions(24, seed=5)
    clf = ClinicalAttentionClassifier(max_epochs=2, **SMALL).fit((images, clinical), y)
    assert not clf.localizes_
    maps = clf.localize((images, clinical))
    assert maps.shape == masks.shape
    peaks = maps.reshape(len(maps), -1).max(axis=1)
    assert (np.isclose(peaks, 1.0, atol=1e-5) | (peaks == 0)).all() and peaks.max() == 1
    np.testing.assert_allclose(
        clf.localize((images, clinical), weak="gradcam"),
        grad_cam(clf, (images, clinical), stage="combined"),
    )


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((24, 16, 16), bool), "expected (24, 32, 32)"),
        (np.zeros((23, 32, 32), bool), "FusionInput parts must have one entry per sample"),
        (np.full((24, 32, 32), 0.5), "must be binary"),
        (np.full((24, 32, 32), 2), "must be binary"),
        (np.full((24, 32, 32), "a"), "must be boolean or 0/1"),
    ],
)
def test_bad_masks_are_refused_with_the_reason(bad, message):
    images, clinical, _, y = moving_lesions(24, seed=6)
    clf = ClinicalAttentionClassifier(max_epochs=1, **SMALL)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        clf.fit(FusionInput(images, clinical, masks=bad), y)
    assert not hasattr(clf, "net_")


def test_masks_on_a_model_without_images_are_refused():
    images, clinical, masks, y = moving_lesions(24, seed=7)
    with pytest.raises(ValueError, match="does not look at images"):
        ClinicalAttentionClassifier(mode="clinical", max_epochs=1, **SMALL).fit(
            FusionInput(images, clinical, masks=masks), y
        )


def test_masks_for_a_model_fitted_without_them_are_ignored_with_a_warning():
    images, clinical, masks, y = moving_lesions(24, seed=8)
    clf = ClinicalAttentionClassifier(max_epochs=1, warm_start=True, **SMALL).fit(
        (images, clinical), y
    )
    with pytest.warns(UserWarning, match="X.masks are ignored"):
        clf.fit(FusionInput(images, clinical, masks=masks), y)


def test_masks_of_singleton_channel_shape_and_0_1_numbers_are_accepted():
    images, clinical, masks, y = moving_lesions(24, seed=9)
    clf = ClinicalAttentionClassifier(max_epochs=1, **SMALL).fit(
        FusionInput(images[:, None], clinical, masks=masks[:, None].astype(float)), y
    )
    assert clf.localize((images[:, None], clinical)).shape == masks.shape


def test_augmentation_moves_masks_with_their_images():
    generator = torch.Generator().manual_seed(0)
    masks = torch.zeros(4, 32, 32)
    masks[:, 10:20, 5:12] = 1
    images = masks[:, None].clone()
    moved_images, moved_masks = random_affine(images, generator, masks=masks, gain=0.0)
    assert moved_masks.shape == masks.shape
    torch.testing.assert_close(moved_masks, moved_images[:, 0], atol=1e-5, rtol=0)
    assert not torch.equal(moved_masks, masks)


def test_segmentation_loss_is_low_for_the_right_mask_and_skips_dropped_samples():
    masks = torch.zeros(2, 8, 8)
    masks[:, 2:5, 2:5] = 1
    right = (masks * 2 - 1) * 20
    wrong = -right
    assert segmentation_loss(right, masks) < 0.01 < segmentation_loss(wrong, masks)
    keep = torch.tensor([True, False])
    mixed = torch.stack([right[0], wrong[1]])
    assert segmentation_loss(mixed, masks, keep) < 0.01
    assert segmentation_loss(mixed, masks, torch.tensor([False, False])) == 0
    empty = torch.zeros(1, 8, 8)
    assert segmentation_loss(torch.full((1, 8, 8), -20.0), empty) < 0.01


def test_localizing_net_returns_the_inner_outputs_and_mask_logits():
    net = LocalizingNet(
        ClinicalAttentionNet, n_outputs=3, n_clinical=2, backbone="resnet18", base_width=4
    )
    outputs, logits = net(torch.randn(2, 1, 32, 32), torch.randn(2, 2))
    assert outputs.shape == (2, 3) and logits.shape == (2, 32, 32)
    assert net.image_encoder.taps is None
    with pytest.raises(ValueError, match="no image path"):
        LocalizingNet(ClinicalAttentionNet, n_outputs=3, n_clinical=2, mode="clinical")


def test_saliency_outlines_a_focal_finding_and_is_a_weak_localize_option():
    from skfusion.explain import localization_scores, saliency

    images, clinical, masks, y = moving_lesions(96, seed=10)
    # The label is the lesion's side. Until 0.3 the default flips made it noise (held-out AUC
    # 0.53); without augmentation the network learns it (AUC 1.0) and its saliency points
    # at the lesion (0.47 of the test images before precise batch normalisation, c147b48;
    # 0.28 after it, not yet explained: random maps score 0.06).
    clf = ClinicalAttentionClassifier(
        mode="image", max_epochs=15, lr=3e-3, augment=False, **SMALL
    ).fit((images[:64], clinical[:64]), y[:64])
    X = (images[64:], clinical[64:])
    maps = clf.localize(X)
    np.testing.assert_allclose(maps, saliency(clf, X))
    assert maps.shape == masks[64:].shape
    hit = localization_scores(maps, masks[64:])["pointing_game"]
    rng = np.random.RandomState(0)
    assert hit > localization_scores(rng.rand(*maps.shape), masks[64:])["pointing_game"] + 0.15
    with pytest.raises(ValueError, match="weak must be"):
        clf.localize(X, weak="cam")
    with pytest.raises(ValueError, match="positive odd"):
        saliency(clf, X, smooth=4)
    stack = ClinicalAttentionClassifier(max_epochs=1, slices="mean", **SMALL).fit(
        (images[:16].reshape(8, 2, 32, 32), clinical[:8]), y[:8]
    )
    assert saliency(stack, (images[:16].reshape(8, 2, 32, 32), clinical[:8])).shape == (
        8,
        2,
        32,
        32,
    )
