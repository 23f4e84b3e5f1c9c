"""skfusion.ImageEmbedder: embed, then sklearn. Image features from a frozen encoder beside the
clinical columns, in a Pipeline, for slices, stacks, missing images and fitted skfusion
encoders; sklearn's checks on its table form."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfusion import ClinicalAttentionClassifier, FusionInput, ImageEmbedder, PretrainedWeights
from skfusion.nn.resnet import ResNet

from .conftest import TINY, make_data


@pytest.fixture(scope="module")
def weights():
    torch.manual_seed(0)
    return PretrainedWeights(ResNet("resnet18", base_width=4).eval().state_dict())


@parametrize_with_checks([ImageEmbedder()])
def test_sklearn_compatible_on_tabular_input(estimator, check):
    check(estimator)


def test_features_are_the_encoders_beside_the_clinical_columns(weights):
    X, _ = make_data(n=10, size=16)
    out = ImageEmbedder(image_weights=weights).fit_transform(X)
    assert isinstance(out, pd.DataFrame) and out.shape == (10, 32 + 3)
    assert list(out.columns[-3:]) == ["age", "score", "noise"]
    encoder = ResNet("resnet18", base_width=4).eval()
    encoder.load_state_dict(weights.state)
    with torch.no_grad():
        expected = encoder(torch.as_tensor(np.asarray(X.images, np.float32)[:, None])).numpy()
    np.testing.assert_allclose(out.iloc[:, :32].to_numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out["age"].to_numpy(), X.clinical["age"].to_numpy())
    embedder = ImageEmbedder(image_weights=weights).fit(X)
    assert list(embedder.get_feature_names_out()[-3:]) == ["age", "score", "noise"]


def test_stacks_average_their_slices_and_missing_images_are_nan(weights):
    rng = np.random.RandomState(0)
    stacks = rng.rand(6, 3, 16, 16).astype(np.float32)
    present = np.array([True, True, False, True, True, True])
    X = FusionInput(
        stacks, pd.DataFrame({"age": np.arange(6.0)}), layout="slices", present={"images": present}
    )
    out = ImageEmbedder(image_weights=weights).fit_transform(X)
    assert np.isnan(out.iloc[2, :32]).all() and not np.isnan(out.drop(index=2)).any().any()
    one = ImageEmbedder(image_weights=weights).fit_transform(
        FusionInput(stacks[:, 1], pd.DataFrame({"age": np.arange(6.0)}))
    )
    assert not np.allclose(out.iloc[0, :32], one.iloc[0, :32])  # three slices, not one
    slices = [
        ImageEmbedder(image_weights=weights)
        .fit_transform(FusionInput(stacks[:, s], pd.DataFrame({"age": np.arange(6.0)})))
        .iloc[:, :32]
        for s in range(3)
    ]
    np.testing.assert_allclose(
        out.iloc[0, :32], np.mean([s.iloc[0] for s in slices], axis=0), rtol=1e-5, atol=1e-6
    )


def test_a_fitted_estimators_encoder_in_a_cross_validated_pipeline():
    X, y = make_data(n=40, size=16)
    source = ClinicalAttentionClassifier(**{**TINY, "mode": "concat"}).fit(X, y)
    # FrozenEstimator: sklearn's clone (in cross_val_score) keeps the fitted source.
    pipeline = make_pipeline(
        ImageEmbedder(image_weights=FrozenEstimator(source)),
        HistGradientBoostingClassifier(max_iter=20),
    )
    scores = cross_val_score(pipeline, X, y, cv=2)
    assert scores.shape == (2,) and np.isfinite(scores).all()
    assert clone(pipeline).steps[0][1].image_weights.estimator is source


def test_refusals_name_what_to_pass(weights):
    X, y = make_data(n=12, size=16)
    with pytest.raises(ValueError, match=r"image_weights=None\) cannot embed images"):
        ImageEmbedder().fit(X)
    for form in ("inner", "paper"):  # clinically guided blocks: not a plain encoder
        full = ClinicalAttentionClassifier(**TINY, attention_form=form).fit(X, y)
        with pytest.raises(
            ValueError, match=r"clinical guidance inside the image network.*mode 'concat' or"
        ):
            ImageEmbedder(image_weights=full).fit(X)
    with pytest.raises(ValueError, match="another depth"):
        ImageEmbedder(image_weights=weights, backbone="resnet34").fit(X)
    fitted = ImageEmbedder(image_weights=weights).fit(X)
    with pytest.raises(ValueError, match="fitted on images; pass X with images"):
        fitted.transform(np.zeros((3, 3)))
