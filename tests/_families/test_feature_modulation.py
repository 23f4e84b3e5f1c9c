import numpy as np
import pytest

from skfusion import FeatureModulationClassifier, FusionInput
from skfusion.nn import FeatureModulation

from ..conftest import TINY_NO_CLINICAL_DIM, make_data

SMALL = TINY_NO_CLINICAL_DIM


@pytest.mark.parametrize("method", ["film", "daft"])
def test_trains_and_uses_the_clinical_values(method):
    X, y = make_data(n=32, seed=1)
    clf = FeatureModulationClassifier(**{**SMALL, "max_epochs": 15, "lr": 3e-3}, method=method).fit(
        X, y
    )
    modules = [m for m in clf.net_.module_.modules() if isinstance(m, FeatureModulation)]
    assert len(modules) == 1 and modules[0].method == method
    shuffled = FusionInput(
        X.images, X.clinical.sample(frac=1, random_state=0).reset_index(drop=True)
    )
    assert not np.allclose(clf.predict_proba(X), clf.predict_proba(shuffled))
    assert clf.score(X, y) > 0.6


def test_needs_clinical_values():
    X, y = make_data(n=20)
    with pytest.raises(ValueError, match="needs clinical values"):
        FeatureModulationClassifier(**SMALL).fit(FusionInput(X.images), y)
