import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from skfusion import FusionInput
from skfusion.datasets import make_fusion_classification


def test_shapes_types_and_reproducibility():
    a = make_fusion_classification(30, image_size=12, n_noise_features=2, random_state=3)
    b = make_fusion_classification(30, image_size=12, n_noise_features=2, random_state=3)
    assert isinstance(a.X, FusionInput)
    assert a.X.images.shape == (30, 12, 12) and a.X.images.dtype == np.float32
    assert a.feature_names == ["age", "marker_visible", "marker_invisible", "noise_0", "noise_1"]
    assert sorted(set(a.y)) == ["case", "control"] and (a.y == "case").sum() == 15
    np.testing.assert_array_equal(a.X.images, b.X.images)
    assert a.X.clinical.equals(b.X.clinical)


def test_each_modality_carries_information_the_other_lacks():
    data = make_fusion_classification(600, random_state=0)
    X, y = data.X, data.y
    image_feature = X.images[:, 10:22, 10:22].mean(axis=(1, 2)).reshape(-1, 1)
    model = LogisticRegression(max_iter=1000)
    image_only = cross_val_score(model, image_feature, y, cv=5).mean()
    invisible = cross_val_score(model, X.clinical[["marker_invisible"]], y, cv=5).mean()
    both = cross_val_score(
        model, np.c_[X.clinical[["marker_invisible"]], image_feature], y, cv=5
    ).mean()
    assert image_only > 0.6 and invisible > 0.7
    assert both > max(image_only, invisible) + 0.03


def test_invalid_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="'n_samples' parameter"):
        make_fusion_classification(1)
