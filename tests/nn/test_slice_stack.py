"""Slice stacks: (n, S, H, W) read as S slices of each patient by a shared 2-D network, the
patient's clinical values guiding every slice, pooled by mean or gated attention."""

import numpy as np
import pytest
import torch

import skfusion
from skfusion import FusionInput
from skfusion.explain import attention_maps, grad_cam
from skfusion.nn import ClinicalAttentionNet
from skfusion.nn.slice_stack import SliceStackNet

from ..conftest import TINY, TINY_NO_CLINICAL_DIM, make_data

FAMILIES = {
    "ClinicalAttentionClassifier": dict(TINY, mode="full"),
    "GatedFusionRegressor": dict(TINY, n_heads=2, head_dim=8),
    "FeatureModulationSurvival": dict(TINY_NO_CLINICAL_DIM, method="daft"),
    "ReportFusionClassifier": dict(TINY, embedding_dim=8, hidden_size=8),
}


def stacks(n=16, slices=5, size=16):
    X, y = make_data(n=n, size=size)
    rng = np.random.RandomState(0)
    images = X.images[:, None] + rng.normal(scale=0.3, size=(n, slices, size, size))
    text = ["mild atrophy", "no atrophy"] * (n // 2)
    return FusionInput(images.astype(np.float32), X.clinical, text=text), y


def target(name, y):
    index = (y == "AD").astype(float)
    if name.endswith("Regressor"):
        return 20 + 5 * index
    if name.endswith("Survival"):
        return skfusion.survival_target(
            np.ones(len(y), bool), 1 + np.arange(len(y)) % 5 - 0.5 * index
        )
    return y


@pytest.mark.parametrize("pooling", ["mean", "attention"])
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_reads_stacks(name, pooling, tmp_path):
    X, y = stacks()
    y = target(name, y)
    model = getattr(skfusion, name)(**FAMILIES[name], slices=pooling).fit(X, y)
    assert isinstance(model.net_.module_, SliceStackNet)
    assert model.net_.module_.net.image_encoder.stem[0].in_channels == 1
    predicted = model.predict(X)
    assert len(predicted) == 16
    weights = attention_maps(model, X)["slice_attention"]
    assert weights.shape == (16, 5)
    np.testing.assert_allclose(weights.sum(axis=1), 1, rtol=1e-5)
    if pooling == "mean":
        np.testing.assert_allclose(weights, 0.2, rtol=1e-5)
    maps = grad_cam(model, X[:3])
    assert maps.shape == (3, 5, 16, 16)
    loaded = skfusion.load(model.save(tmp_path / "stack.skf"))
    np.testing.assert_array_equal(loaded.predict(X), predicted)


def test_the_clinical_vector_guides_every_slice():
    torch.manual_seed(0)
    net = SliceStackNet(
        ClinicalAttentionNet,
        pooling="attention",
        n_outputs=2,
        n_clinical=3,
        mode="full",
        backbone="resnet18",
        base_width=4,
        clinical_dim=8,
    ).eval()
    images = torch.randn(2, 4, 1, 16, 16).reshape(2, 4, 16, 16)
    seen = []
    handle = net.net.image_encoder.stages[3][-1].register_forward_hook(
        lambda m, i, o: seen.append(o.detach().clone())
    )
    clinical = torch.randn(2, 3)
    net(images, clinical)
    net(images, clinical + 1.0)
    handle.remove()
    changed = (seen[0] - seen[1]).flatten(1).abs().sum(dim=1)
    assert seen[0].shape[0] == 8 and (changed > 0).all()  # all 8 slices, both patients


def test_an_ambiguous_slice_axis_is_refused_with_the_choice():
    X, y = stacks(slices=6)
    with pytest.raises(ValueError, match=r"6 slices of each patient, or 6 channels\?"):
        skfusion.ClinicalAttentionClassifier(**TINY).fit(X, y)
    model = skfusion.ClinicalAttentionClassifier(**TINY, slices="channels").fit(X, y)
    assert model.net_.module_.image_encoder.stem[0].in_channels == 6  # 2.5-D


def test_attention_pooling_learns_which_slice_matters():
    rng = np.random.RandomState(0)
    n, slices = 64, 4
    y = np.arange(n) % 2
    images = rng.normal(scale=0.5, size=(n, slices, 16, 16)).astype(np.float32)
    images[:, 2] += 2.0 * y[:, None, None]  # only slice 2 carries the class
    X = FusionInput(images, rng.normal(size=(n, 2)))
    model = skfusion.ClinicalAttentionClassifier(
        **{**TINY, "max_epochs": 15}, mode="image", slices="attention", lr=3e-3, augment=False
    ).fit(X, y)
    weights = attention_maps(model, X)["slice_attention"]
    assert model.score(X, y) > 0.9
    assert weights.mean(axis=0).argmax() == 2, weights.mean(axis=0)


def test_the_cohort_one_row_per_patient_cross_validates_by_patient():
    from sklearn.model_selection import cross_validate

    from skfusion.datasets import make_brain_cohort

    cohort = make_brain_cohort(
        24,
        n_slices=3,
        image_size=32,
        unit="patient",
        reports=True,
        return_masks=True,
        random_state=0,
    )
    slices = make_brain_cohort(
        24, n_slices=3, image_size=32, reports=True, random_state=0, unit="slice"
    )
    assert cohort.X.images.shape == (24, 3, 32, 32) and len(cohort.X.clinical) == 24
    assert cohort.masks.shape == (24, 3, 32, 32) and len(cohort.y) == len(cohort.X.text) == 24
    np.testing.assert_array_equal(cohort.X.images.reshape(72, 32, 32), slices.X.images)
    assert (cohort.X.subjects == cohort.groups).all() and len(set(cohort.groups)) == 24
    # The mission's one-liner, on patients: every row is one patient, so any split is clean.
    scores = cross_validate(
        skfusion.ClinicalAttentionClassifier(**TINY, mode="full", slices="mean"),
        cohort.X,
        cohort.y,
        cv=3,
    )
    assert scores["test_score"].shape == (3,)


def test_an_explicit_reading_wins_over_the_declared_layout():
    from skfusion.datasets import make_brain_cohort

    cohort = make_brain_cohort(12, n_slices=3, image_size=32, random_state=0)
    model = skfusion.ClinicalAttentionClassifier(**TINY, slices="channels").fit(cohort.X, cohort.y)
    assert model.slices_ == "channels" and model.predict(cohort.X).shape == (12,)
    auto = skfusion.ClinicalAttentionClassifier(**TINY).fit(cohort.X, cohort.y)
    assert auto.slices_ == "mean"
