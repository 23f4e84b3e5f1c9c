"""skfusion._net.refits: precise batch normalisation reads only real images, weighs every
sample alike, and reads a bounded number of them."""

import numpy as np
import pytest
import torch

from skfusion import ClinicalAttentionClassifier, FusionInput
from skfusion._net.data import make_dataset
from skfusion._net.refits import _pass_order, recompute_batchnorm, trained_norms

from ..conftest import TINY, make_data

STEM = "image_encoder.stem.0"  # the stem's convolution: its output is the first norm's input


def gappy(n, bright=50.0):
    """``make_data(n)`` with every third patient's image missing, its slot holding a bright
    placeholder that no statistic may read."""
    X, y = make_data(n=n, size=16)
    present = np.ones(n, dtype=bool)
    present[::3] = False
    images = np.asarray(X.images, dtype=np.float32).copy()
    images[~present] = bright
    return FusionInput(images, X.clinical, present={"images": present}), y, present


def stem_inputs(model, X):
    """The stem norm's input for every sample of ``X``, as prediction computes it."""
    with model.net_.recording(STEM) as captured:
        model.predict_proba(X)
    return torch.as_tensor(np.concatenate(captured), dtype=torch.float64)


@pytest.mark.parametrize("n", [10, 26])  # 26 = batch_size * 3 + 2: a last batch of two
def test_running_statistics_are_the_moments_of_the_real_images(n):
    X, y, present = gappy(n)
    model = ClinicalAttentionClassifier(**{**TINY, "mode": "concat"}).fit(X, y)
    norm = model.net_.module_.get_submodule("image_encoder.stem.1")
    real = stem_inputs(model, FusionInput(np.asarray(X.images)[present], X.clinical[present]))
    dims = (0, 2, 3)
    torch.testing.assert_close(norm.running_mean.double(), real.mean(dims), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(norm.running_var.double(), real.var(dims), rtol=1e-4, atol=1e-5)
    # The placeholders would have moved the mean far: the old pass read them.
    everything = stem_inputs(model, FusionInput(np.asarray(X.images), X.clinical))
    assert (everything.mean(dims) - real.mean(dims)).abs().max() > 0.1


def test_clinical_norms_still_read_every_patient():
    X, y, _ = gappy(26)
    model = ClinicalAttentionClassifier(**{**TINY, "mode": "concat"}).fit(X, y)
    first = model.net_.module_.clinical_encoder[0]  # Linear, then its BatchNorm1d
    norm = model.net_.module_.clinical_encoder[1]
    with model.net_.recording("clinical_encoder.0") as captured:
        model.predict_proba(X)
    values = torch.as_tensor(np.concatenate(captured), dtype=torch.float64)
    assert values.shape[0] == 26 and isinstance(first, torch.nn.Linear)
    torch.testing.assert_close(norm.running_mean.double(), values.mean(0), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(norm.running_var.double(), values.var(0), rtol=1e-4, atol=1e-5)


class _Data:
    def __init__(self, present):
        self.present = {"image_present": torch.as_tensor(present)}

    def __len__(self):
        return len(self.present["image_present"])


@pytest.mark.parametrize(
    "present, batch_size, first_batches",
    [
        # All images: the natural order.
        ([1] * 7, 3, [[0, 1, 2], [3, 4, 5], [6]]),
        # Images first; the image-less samples after them.
        ([0, 1, 1, 0, 1, 1], 2, [[1, 2], [4, 5], [0, 3]]),
        # 4 images in batches of 3 would leave one image beside image-less samples: one of those
        # moves to the front, so the batch they share holds two images.
        ([1, 1, 0, 1, 1, 0, 0], 3, [[2, 0, 1], [3, 4, 5], [6]]),
    ],
)
def test_pass_order_keeps_images_together(present, batch_size, first_batches):
    order = _pass_order(_Data(np.array(present, dtype=bool)), batch_size, 100, 0)
    batches = [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    assert batches == first_batches
    assert sorted(order.tolist()) == list(range(len(present)))


def test_pass_order_reads_at_most_its_budget_keeping_the_share_with_images():
    present = np.arange(1000) % 4 != 0  # 750 with an image
    order = _pass_order(_Data(present), 32, 100, 0)
    assert len(order) == 100 and len(set(order.tolist())) == 100
    assert present[order].sum() == 75
    assert np.array_equal(order, _pass_order(_Data(present), 32, 100, 0))  # seeded


def test_the_pass_reads_its_budget_and_leaves_frozen_norms_alone():
    X, y, _ = gappy(26)
    model = ClinicalAttentionClassifier(**{**TINY, "mode": "concat"}).fit(X, y)
    net = model.net_
    n_clinical = net.module_.clinical_encoder[0].in_features
    dataset = make_dataset(
        np.asarray(X.images)[:, None], np.zeros((26, n_clinical), dtype=np.float32)
    )
    assert recompute_batchnorm(net, dataset, max_samples=16) == 2  # 16 samples, batches of 8
    frozen = trained_norms(net.module_)[0]
    frozen.weight.requires_grad_(False)
    frozen.bias.requires_grad_(False)
    frozen.running_mean.fill_(7.0)
    assert frozen not in trained_norms(net.module_)
    recompute_batchnorm(net, dataset)
    assert bool((frozen.running_mean == 7.0).all())


@pytest.mark.parametrize(
    "shape, expected",
    [
        ((1, 64, 64), 2048),  # 2**23 values: 2,048 slices of 64x64
        ((10, 64, 64), 256),  # 204 patients of ten slices, raised to the 256 minimum
        ((1, 16, 16), 32768),
    ],
)
def test_the_budget_counts_image_values(shape, expected):
    from skfusion._net.refits import pass_budget

    dataset = make_dataset(np.zeros((3, *shape), np.float32), np.zeros((3, 2), np.float32))
    assert pass_budget(dataset) == expected
