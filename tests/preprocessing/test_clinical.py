import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skfusion import ClinicalTransformer, FusionInput


@parametrize_with_checks(
    [
        ClinicalTransformer(StandardScaler()),
        ClinicalTransformer(SimpleImputer()),
        ClinicalTransformer(),
    ]
)
def test_sklearn_compatible_on_tabular_input(estimator, check):
    check(estimator)


@pytest.fixture
def frame():
    return pd.DataFrame(
        {"age": [60.0, 70.0, np.nan, 80.0], "sex": ["F", "M", "M", "F"]},
        index=[5, 6, 7, 8],
    )


def make_encoder():
    return make_column_transformer(
        (OneHotEncoder(sparse_output=False), ["sex"]),
        (make_pipeline(SimpleImputer(), StandardScaler()), ["age"]),
    )


def test_transforms_the_clinical_part_only(frame):
    images = np.random.RandomState(0).rand(4, 3, 3)
    X = FusionInput(images, frame, text=list("abcd"))
    out = ClinicalTransformer(make_encoder()).fit_transform(X)
    assert isinstance(out, FusionInput)
    assert out.images is images
    assert out.text == list("abcd")
    assert out.clinical.shape == (4, 3)
    assert not np.isnan(out.clinical).any()


def test_returns_the_container_type_it_got(frame):
    images = np.zeros((4, 3, 3))
    transformer = ClinicalTransformer(make_encoder()).fit((images, frame))
    out = transformer.transform((images, frame))
    assert isinstance(out, tuple) and out[0] is images
    assert transformer.n_features_in_ == 2
    assert list(transformer.feature_names_in_) == ["age", "sex"]
    assert list(transformer.get_feature_names_out()) == [
        "onehotencoder__sex_F",
        "onehotencoder__sex_M",
        "pipeline__age",
    ]


def test_fit_equals_fit_transform_and_is_fold_local(frame):
    images = np.zeros((4, 3, 3))
    X = FusionInput(images, frame.fillna(0))
    a = ClinicalTransformer(make_encoder()).fit(X[[0, 1]]).transform(X)
    b = ClinicalTransformer(make_encoder()).fit_transform(X[[0, 1]])
    np.testing.assert_allclose(a.clinical[:2], b.clinical)


def test_set_output_pandas_is_forwarded(frame):
    X = FusionInput(np.zeros((4, 3, 3)), frame[["age"]].fillna(0))
    out = ClinicalTransformer(StandardScaler()).set_output(transform="pandas").fit_transform(X)
    assert isinstance(out.clinical, pd.DataFrame)
    assert list(out.clinical.columns) == ["age"]


def test_inverse_transform(frame):
    X = FusionInput(np.zeros((4, 3, 3)), frame[["age"]].fillna(0).to_numpy())
    transformer = ClinicalTransformer(StandardScaler()).fit(X)
    back = transformer.inverse_transform(transformer.transform(X))
    np.testing.assert_allclose(back.clinical, X.clinical)


def test_missing_clinical_part_is_reported():
    with pytest.raises(ValueError, match="no clinical part"):
        ClinicalTransformer(StandardScaler()).fit(FusionInput(np.zeros((2, 3, 3))))
    with pytest.raises(ValueError, match="tuple of length 1"):
        ClinicalTransformer(StandardScaler()).fit((np.zeros((2, 3, 3)),))
