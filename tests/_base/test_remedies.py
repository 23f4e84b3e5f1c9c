"""The shared training remedies: augmentation, modality dropout, the clinical shortcut."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfusion import ClinicalAttentionClassifier, FeatureModulationClassifier
from skfusion._tasks.classification import _logistic_start
from skfusion.nn import ClinicalAttentionNet, he_init_
from skfusion.nn.augment import drop_modalities, random_affine

from ..conftest import TINY, TINY_NO_CLINICAL_DIM, make_data


def test_shortcut_starts_as_a_logistic_regression_on_unscaled_values():
    rng = np.random.RandomState(0)
    values = rng.normal(size=(60, 3)) * [1, 100, 1e4] + [0, 50, 1e5]
    y = (values[:, 0] + values[:, 1] / 100 > 0.3).astype(int)
    coef, intercept = _logistic_start(values.astype(np.float32), y, 2, None, np.array([0, 1]))
    logits = values @ coef.T + intercept
    reference = (
        make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
        .fit(values, y)
        .decision_function(values)
    )
    np.testing.assert_allclose(logits[:, 1] - logits[:, 0], reference, atol=1e-4)


def test_a_new_network_with_a_shortcut_outputs_the_shortcut():
    net = ClinicalAttentionNet(
        3, 4, mode="full", backbone="resnet18", base_width=4, clinical_shortcut=True
    )
    he_init_(net, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        net.shortcut.weight.normal_()
    net.eval()
    clinical = torch.randn(5, 4)
    torch.testing.assert_close(net(torch.randn(5, 1, 32, 32), clinical), net.shortcut(clinical))
    plain = ClinicalAttentionNet(
        3, 4, mode="image", backbone="resnet18", base_width=4, clinical_shortcut=True
    )
    assert plain.shortcut is None


@pytest.mark.parametrize(
    "cls, settings",
    [(ClinicalAttentionClassifier, TINY), (FeatureModulationClassifier, TINY_NO_CLINICAL_DIM)],
)
def test_estimators_build_the_shortcut_only_when_asked_and_multimodal(cls, settings):
    X, y = make_data(n=24)
    assert cls(**settings).fit(X, y).net_.module_.shortcut is not None
    assert cls(**settings, clinical_shortcut=False).fit(X, y).net_.module_.shortcut is None
    if cls is ClinicalAttentionClassifier:
        assert cls(**settings, mode="clinical").fit(X, y).net_.module_.shortcut is None


def test_random_affine_is_reproducible_and_changes_images():
    images = torch.randn(6, 1, 16, 16)
    first = random_affine(images, torch.Generator().manual_seed(0))
    again = random_affine(images, torch.Generator().manual_seed(0))
    other = random_affine(images, torch.Generator().manual_seed(1))
    torch.testing.assert_close(first, again)
    assert not torch.allclose(first, other) and not torch.allclose(first, images)
    assert first.shape == images.shape
    still = random_affine(
        images, torch.Generator().manual_seed(0), degrees=0, scale=0, shift=0, flip=False, gain=0
    )
    torch.testing.assert_close(still, images, atol=1e-5, rtol=1e-5)


def test_modality_dropout_drops_one_modality_per_chosen_sample():
    n = 2000
    inputs = {
        "images": torch.ones(n, 1, 2, 2),
        "clinical": torch.ones(n, 3),
        "tokens": torch.ones(n, 4, dtype=torch.long),
    }
    out = drop_modalities(inputs, 0.3, torch.Generator().manual_seed(0))
    # A dropped image is marked absent, not zeroed: the network reads the mask.
    assert torch.equal(out["images"], inputs["images"])
    image_gone = ~out["image_present"]
    other_gone = out["clinical"].sum(1) == 0
    assert torch.equal(other_gone, ~out["text_present"])
    assert torch.equal(out["tokens"], inputs["tokens"])
    assert not (image_gone & other_gone).any()
    assert abs((image_gone | other_gone).float().mean().item() - 0.3) < 0.04
    assert abs(image_gone.float().mean().item() - 0.15) < 0.03
    assert drop_modalities(inputs, 0.0, torch.Generator()) is inputs


def test_modality_dropout_never_takes_the_rest_of_a_patient_without_an_image():
    n = 2000
    absent = torch.arange(n) % 2 == 0
    inputs = {
        "images": torch.ones(n, 1, 2, 2),
        "clinical": torch.ones(n, 3),
        "image_present": ~absent,
    }
    out = drop_modalities(inputs, 0.9, torch.Generator().manual_seed(0))
    assert (out["clinical"][absent] == 1).all()  # their clinical values always stay
    assert not out["image_present"][absent].any()
    assert (out["clinical"][~absent].sum(1) == 0).any()


def test_early_stopping_learns_nothing_from_its_validation_rows():
    """The clinical encoder (imputation, scaling) and the shortcut's start see only the
    training part of the early-stopping split."""
    X, y = make_data(n=40)
    model = ClinicalAttentionClassifier(
        **{**TINY, "early_stopping": True, "validation_fraction": 0.25}
    ).fit(X, y)
    train = np.setdiff1d(np.arange(40), model.validation_indices_)
    assert len(train) == 30
    means = [s["mean"] for s in model.clinical_encoder_.stats_]
    np.testing.assert_allclose(means, X.clinical.iloc[train].mean().to_numpy(), rtol=1e-6)
    assert not np.allclose(means, X.clinical.mean().to_numpy(), rtol=1e-6)
