"""image_shortcut="pca": the estimators start at the linear model on the image's principal
components plus the table, train from there, and keep the path through missing images,
model files, export, explanations and every task."""

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skfusion
from skfusion import ClinicalAttentionClassifier, FusionInput
from skfusion.explain import logit_parts, permutation_importance

from ...conftest import TINY, make_data
from ...test_common import (
    FUSION_ESTIMATORS,
    small,
    target_for,
    tiny_inputs,  # noqa: F401  (a fixture)
)

#: Training that leaves the network where it started (the deep head stays at zero).
NO_STEP = dict(max_epochs=1, lr=1e-12, early_stopping=False)


def start_reference(X, y, k, model):
    """What a data scientist builds: PCA on the pixels, standardised, beside the standardised
    table."""
    pixels = np.asarray(X.images, dtype=np.float64).reshape(len(X), -1)
    scores = make_pipeline(PCA(k, svd_solver="full"), StandardScaler()).fit_transform(pixels)
    table = X.clinical.to_numpy(np.float64)
    features = StandardScaler().fit_transform(np.c_[table, scores])
    return model.fit(features, y), features


def test_a_new_classifier_predicts_as_the_logistic_regression_on_pca_and_table():
    X, y = make_data(n=40, size=16, seed=3)
    model = ClinicalAttentionClassifier(
        **{**TINY, **NO_STEP},
        image_shortcut="pca",
        image_components=5,
        calibration=None,
        clinical_preprocessing=None,
    ).fit(X, y)
    reference, features = start_reference(X, y, 5, LogisticRegression(C=1.0, max_iter=1000))
    got = model.decision_function(X)
    np.testing.assert_allclose(got, reference.decision_function(features), atol=2e-3)
    parts = logit_parts(model, X)
    assert np.abs(parts["image_shortcut"]).max() > 0.1  # the image path carries weight
    np.testing.assert_allclose(parts["deep"], 0.0, atol=1e-3)
    np.testing.assert_allclose(
        parts["shortcut"] + parts["image_shortcut"] + parts["deep"], parts["total"]
    )


def test_a_new_regressor_predicts_as_the_ridge_on_pca_and_table():
    X, y = make_data(n=40, size=16, seed=3)
    target = 3.0 * (y == "AD") + np.random.default_rng(0).normal(size=len(y))
    model = skfusion.ClinicalAttentionRegressor(
        **{**TINY, **NO_STEP}, image_shortcut="pca", image_components=5, clinical_preprocessing=None
    ).fit(X, target)
    standard = (target - target.mean()) / target.std()
    reference, features = start_reference(X, standard, 5, Ridge(alpha=1.0))
    expected = reference.predict(features) * target.std() + target.mean()
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-3, atol=2e-3)


def test_the_path_is_built_only_when_asked_and_the_network_reads_images():
    X, y = make_data(n=24)
    assert ClinicalAttentionClassifier(**TINY).fit(X, y).net_.linear_start == ("shortcut",)
    both = ClinicalAttentionClassifier(**TINY, image_shortcut="pca").fit(X, y)
    assert both.net_.linear_start == ("shortcut", "image_shortcut")
    image = ClinicalAttentionClassifier(**TINY, mode="image", image_shortcut="pca").fit(X, y)
    assert image.net_.linear_start == ("image_shortcut",)
    table = ClinicalAttentionClassifier(**TINY, mode="clinical", image_shortcut="pca")
    assert table.fit(X, y).net_.linear_start == ()


@pytest.mark.parametrize("cls", FUSION_ESTIMATORS, ids=lambda c: c.__name__)
def test_every_estimator_trains_saves_and_loads_with_the_path(cls, tiny_inputs, tmp_path):  # noqa: F811
    X, y = tiny_inputs
    model = small(cls, max_epochs=1, image_shortcut="pca", image_components=4).fit(
        X, target_for(cls, y)
    )
    assert "image_shortcut" in model.net_.linear_start
    path = model.save(tmp_path / "m.skf")
    again = skfusion.load(path)
    np.testing.assert_allclose(again._outputs(X), model._outputs(X), atol=1e-6)
    assert again.image_shortcut == "pca"


def test_missing_images_read_the_training_mean():
    X, y = make_data(n=30, size=16)
    present = np.arange(len(y)) % 4 != 0
    images = X.images.copy()
    images[~present] = np.nan
    gappy = FusionInput(images, X.clinical, present={"images": present})
    model = ClinicalAttentionClassifier(**TINY, image_shortcut="pca").fit(gappy, y)
    parts = logit_parts(model, gappy)
    bias = model.net_.module_.image_shortcut.linear.bias.detach().double().numpy()
    np.testing.assert_allclose(
        parts["image_shortcut"][~present], np.tile(bias, ((~present).sum(), 1)), atol=1e-6
    )
    assert np.abs(parts["image_shortcut"][present] - bias).max() > 1e-3
    assert np.isfinite(model.predict_proba(gappy)).all()


@pytest.mark.parametrize(
    "params", [dict(slices="mean"), dict(slices="attention"), dict(spatial_dims=3)]
)
def test_stacks_and_volumes_get_the_path_and_export_it(params, tmp_path):
    from .test_exporting import inputs_for, run_torchscript

    rng = np.random.default_rng(0)
    y = np.array(["AD", "NC"] * 8)
    images = rng.normal(size=(16, 3, 16, 16)).astype(np.float32) + (y == "AD")[:, None, None, None]
    X = FusionInput(images, pd.DataFrame({"score": rng.normal(size=16)}))
    model = ClinicalAttentionClassifier(mode="full", **TINY, **params, image_shortcut="pca").fit(
        X, y
    )
    assert np.abs(logit_parts(model, X)["image_shortcut"]).max() > 0
    signature = model.export(tmp_path / "s.pt", format="torchscript")
    got, _ = run_torchscript(tmp_path / "s.pt", inputs_for(model, X, signature))
    np.testing.assert_allclose(got, model.predict_proba(X), atol=1e-4)


def test_onnx_graph_carries_the_projection(tmp_path):
    pytest.importorskip("onnxscript")
    from .test_exporting import inputs_for, run_onnx

    X, y = make_data(n=20, size=16)
    model = ClinicalAttentionClassifier(**TINY, image_shortcut="pca").fit(X, y)
    signature = model.export(tmp_path / "m.onnx")
    got, _ = run_onnx(tmp_path / "m.onnx", inputs_for(model, X, signature))
    np.testing.assert_allclose(got, model.predict_proba(X), atol=1e-4)


def test_masks_and_the_path_train_together():
    X, y = make_data(n=16, size=16)
    masks = (np.asarray(X.images) > 1.0).astype(np.float32)
    X = FusionInput(X.images, X.clinical, masks=masks)
    model = ClinicalAttentionClassifier(**TINY, image_shortcut="pca").fit(X, y)
    assert "image_shortcut" in model.net_.linear_start and model.localizes_
    assert model.localize(X).shape == masks.shape


def test_permuting_the_images_reaches_the_image_path():
    """With the deep path left at its start, only the image shortcut reads the images: their
    permutation importance comes from it."""
    X, y = make_data(n=40, size=16, seed=3)
    model = ClinicalAttentionClassifier(**{**TINY, **NO_STEP}, image_shortcut="pca").fit(X, y)
    found = permutation_importance(model, X, y, n_repeats=3, random_state=0)
    assert found.importances_mean[found.names.index("images")] > 0
