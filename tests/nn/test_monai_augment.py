"""MONAI's random transforms as ``augment``: reseeded from the network's generator for every
image (fits follow ``random_state``), masks moved with their images by a dictionary
transform, and what cannot be seeded refused."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

monai_transforms = pytest.importorskip("monai.transforms")

from skfusion import ClinicalAttentionClassifier, FusionInput  # noqa: E402
from skfusion.nn import MonaiAugment  # noqa: E402

from ..conftest import TINY, make_data  # noqa: E402


def rotate(prob=1.0):
    return monai_transforms.RandAffine(prob=prob, rotate_range=0.5, padding_mode="zeros")


def test_draws_follow_the_generator_not_the_transforms_own_state():
    images = torch.rand(6, 1, 16, 16)
    augment = MonaiAugment(rotate())
    first = augment(images, torch.Generator().manual_seed(0))
    augment.transform.set_random_state(seed=12345)  # whatever state it was left in
    np.random.seed(7)
    again = augment(images, torch.Generator().manual_seed(0))
    other = augment(images, torch.Generator().manual_seed(1))
    assert type(first) is torch.Tensor and first.dtype == images.dtype
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert not torch.equal(first, images)
    # Each image its own draw: two copies of one image are rotated differently.
    twins = augment(images[:1].repeat(2, 1, 1, 1), torch.Generator().manual_seed(0))
    assert not torch.equal(twins[0], twins[1])


def test_a_dictionary_transform_moves_masks_with_their_images():
    masks = torch.zeros(4, 16, 16, dtype=torch.uint8)
    masks[:, 3:8, 2:6] = 1
    images = masks[:, None].float()  # the image is its mask: they must still agree after
    transform = monai_transforms.RandAffined(
        ["image", "mask"],
        prob=1.0,
        rotate_range=0.6,
        mode=["nearest", "nearest"],
        padding_mode="zeros",
    )
    out, moved = MonaiAugment(transform, keys=("image", "mask"))(
        images, torch.Generator().manual_seed(0), masks=masks
    )
    assert moved.shape == masks.shape and moved.dtype == masks.dtype
    assert not torch.equal(moved, masks)
    assert torch.equal(out[:, 0] > 0.5, moved.bool())


def test_what_cannot_be_repeated_or_would_leave_masks_behind_is_refused():
    with pytest.raises(TypeError, match="cannot be seeded.*set_random_state"):
        MonaiAugment(lambda image: image)
    with pytest.raises(ValueError, match="keys"):
        MonaiAugment(rotate(), keys="image")
    with pytest.raises(ValueError, match="masks, which must move with their images"):
        MonaiAugment(rotate())(
            torch.rand(2, 1, 8, 8), torch.Generator(), masks=torch.zeros(2, 8, 8)
        )


def test_an_estimator_trains_reproducibly_with_it_and_refuses_the_bare_transform():
    X, y = make_data(n=16)
    first = ClinicalAttentionClassifier(**TINY, augment=MonaiAugment(rotate())).fit(X, y)
    again = clone(first).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), again.predict_proba(X))
    plain = ClinicalAttentionClassifier(**TINY, augment=False).fit(X, y)
    assert not np.array_equal(first.predict_proba(X), plain.predict_proba(X))
    with pytest.raises(ValueError, match=r"MONAI transform.*MonaiAugment\(transform\)"):
        ClinicalAttentionClassifier(**TINY, augment=rotate()).fit(X, y)
    masks = np.zeros((16, 16, 16), dtype=np.uint8)
    with pytest.raises(ValueError, match="dictionary transform"):
        ClinicalAttentionClassifier(**TINY, augment=MonaiAugment(rotate())).fit(
            FusionInput(X.images, X.clinical, masks=masks), y
        )
