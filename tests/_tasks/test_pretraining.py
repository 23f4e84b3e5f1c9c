"""ImageClinicalPretrainer: self-supervised image-clinical pretraining learns image features
that carry what the table carries, and hands them to any estimator."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import cross_val_score

import skfusion
from skfusion import ClinicalAttentionClassifier, FusionInput, ImageClinicalPretrainer
from skfusion.nn.contrastive import ContrastiveLoss, corrupt_table

SMALL = dict(backbone="resnet18", base_width=4, verbose=0, random_state=0, device="cpu")


def blobs(n, seed):
    """Each image holds a blob whose size is the patient's latent value; the table holds a
    noisy measurement of the same value (and noise columns)."""
    rng = np.random.default_rng(seed)
    latent = rng.uniform(0, 1, n)
    yy, xx = np.mgrid[:16, :16] - 7.5
    images = rng.normal(0, 0.2, (n, 1, 16, 16)).astype(np.float32)
    images[:, 0] += np.exp(
        -(xx**2 + yy**2)[None] / (2 * (1 + 4 * latent[:, None, None]) ** 2)
    ).astype(np.float32)
    clinical = pd.DataFrame(
        {
            "marker": latent + rng.normal(0, 0.1, n),
            "age": rng.normal(70, 5, n),
            "lab": rng.normal(size=n),
        }
    )
    return FusionInput(images, clinical), latent


def probe_r2(features, latent):
    return cross_val_score(
        RidgeCV(alphas=np.logspace(-3, 3, 13)), features, latent, cv=4, scoring="r2"
    ).mean()


def test_pretraining_learns_image_features_that_carry_the_tables_signal():
    X, latent = blobs(128, 0)
    untrained = ImageClinicalPretrainer(max_epochs=1, lr=1e-12, batch_size=32, **SMALL).fit(X)
    trained = ImageClinicalPretrainer(max_epochs=15, lr=3e-3, batch_size=32, **SMALL).fit(X)
    losses = [row["train_loss"] for row in trained.net_.history]
    assert losses[-1] < losses[0] - 0.3
    before, after = probe_r2(untrained.transform(X), latent), probe_r2(trained.transform(X), latent)
    assert after > 0.6 and after > before + 0.1, (before, after)


def test_a_fitted_pretrainer_is_image_weights_saved_loaded_and_cloned(tmp_path):
    X, latent = blobs(32, 1)
    pretrainer = ImageClinicalPretrainer(max_epochs=1, batch_size=16, **SMALL).fit(X)
    features = pretrainer.transform(X)
    assert features.shape == (32, 32) and np.isfinite(pretrainer.score(X))
    pretrainer.save(tmp_path / "p.skf")
    loaded = skfusion.load(tmp_path / "p.skf")
    np.testing.assert_allclose(loaded.transform(X), features, atol=1e-6)
    again = clone(pretrainer).fit(X)  # reproducible from random_state
    np.testing.assert_array_equal(again.transform(X), features)
    y = np.where(latent > 0.5, "large", "small")
    model = ClinicalAttentionClassifier(
        **SMALL, mode="image", max_epochs=1, image_weights=FrozenEstimator(loaded)
    ).fit(X, y)
    assert len(model.image_weights_loaded_) == 120 and not model.image_weights_unused_


def test_stacks_and_volumes_pretrain_and_load():
    from skfusion.datasets import make_brain_cohort

    cohort = make_brain_cohort(16, n_slices=3, image_size=16, random_state=0)
    for spatial_dims in (2, 3):
        pretrainer = ImageClinicalPretrainer(
            max_epochs=1, batch_size=8, spatial_dims=spatial_dims, **SMALL
        )
        pretrainer.fit(cohort.X)
        assert pretrainer.slices_ == ("mean" if spatial_dims == 2 else "channels")
        model = ClinicalAttentionClassifier(
            **SMALL,
            max_epochs=1,
            spatial_dims=spatial_dims,
            image_weights=FrozenEstimator(pretrainer),
        )
        model.fit(cohort.X, cohort.y)
        assert model.image_weights_loaded_


def test_refusals_name_the_problem():
    X, _ = blobs(12, 0)
    with pytest.raises(ValueError, match="y must be None"):
        ImageClinicalPretrainer(**SMALL).fit(X, np.zeros(12))
    masked = FusionInput(X.images, X.clinical, masks=np.zeros((12, 16, 16), np.uint8))
    with pytest.raises(ValueError, match="drop them"):
        ImageClinicalPretrainer(**SMALL).fit(masked)


def test_the_loss_and_the_corruption():
    import torch

    perfect = torch.eye(4) * 50
    assert float(ContrastiveLoss()(perfect)) < 1e-6
    assert float(ContrastiveLoss()(torch.zeros(4, 4))) == pytest.approx(np.log(4))
    table = torch.arange(40.0).reshape(10, 4)
    corrupted = corrupt_table(table, 0.5, torch.Generator().manual_seed(0))
    changed = corrupted != table
    assert 0.2 < changed.float().mean() < 0.6
    # every value still comes from its own column
    for column in range(4):
        assert set(corrupted[:, column].tolist()) <= set(table[:, column].tolist())
