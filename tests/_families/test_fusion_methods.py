"""Every estimator cross-validates on the built-in cohort through one pipeline."""

import numpy as np
import pytest
from sklearn.compose import make_column_transformer
from sklearn.model_selection import StratifiedGroupKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skfusion import (
    ClinicalAttentionClassifier,
    ClinicalTransformer,
    FeatureModulationClassifier,
    GatedFusionClassifier,
    ReportFusionClassifier,
)
from skfusion.datasets import make_brain_cohort
from skfusion.metrics import diagnostic_scorers

from ..conftest import TINY
from ..conftest import TINY_NO_CLINICAL_DIM as NO_CLINICAL_DIM

MODELS = {
    "clinical_attention": lambda: ClinicalAttentionClassifier(**TINY),
    "gated": lambda: GatedFusionClassifier(**TINY, n_heads=2, head_dim=8),
    "film": lambda: FeatureModulationClassifier(**NO_CLINICAL_DIM, method="film"),
    "daft": lambda: FeatureModulationClassifier(**NO_CLINICAL_DIM, method="daft"),
    "report": lambda: ReportFusionClassifier(**TINY, embedding_dim=8, hidden_size=8),
}


@pytest.fixture(scope="module")
def cohort():
    return make_brain_cohort(
        16, n_slices=2, image_size=32, reports=True, random_state=0, unit="slice"
    )


@pytest.mark.parametrize("name", sorted(MODELS))
def test_cross_validate_on_the_cohort(cohort, name):
    encoder = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["sex"]), remainder=StandardScaler()
    )
    pipe = make_pipeline(ClinicalTransformer(encoder), MODELS[name]())
    scores = cross_validate(
        pipe,
        cohort.X,
        cohort.y,
        groups=cohort.groups,
        cv=StratifiedGroupKFold(2),
        scoring=diagnostic_scorers("AD"),
        error_score="raise",
    )
    assert scores["test_accuracy"].shape == (2,)
    assert np.all((scores["test_roc_auc"] >= 0) & (scores["test_roc_auc"] <= 1))
