"""Writes ``skfusion-0.3.0-pipeline.joblib`` and its expected probabilities: a pipeline of
skfusion 0.3's module layout (before the package was grouped into layer subpackages), kept so
that ``tests/test_legacy_pickles.py`` checks that pickles of 0.3 estimators still load.

Run from the repository root (written once, from main on 2026-12-03, before the move):
``python tests/data/write_pickle_fixture.py``.
"""

import pathlib

import joblib
import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FOLDER = pathlib.Path(__file__).parent


def write():
    from skfusion import ClinicalAttentionClassifier, ClinicalTransformer, GatedFusionRegressor
    from tests.conftest import TINY, make_data

    X, y = make_data(n=24)
    pipe = make_pipeline(
        ClinicalTransformer(StandardScaler()), ClinicalAttentionClassifier(**TINY, mode="full")
    ).fit(X, y)
    regressor = GatedFusionRegressor(**TINY, n_heads=2, head_dim=4).fit(
        X, np.arange(24, dtype=float)
    )
    joblib.dump(
        {"pipeline": pipe, "regressor": regressor},
        FOLDER / "skfusion-0.3.0-pipeline.joblib",
        compress=3,
    )
    np.savez(
        FOLDER / "skfusion-0.3.0-pipeline-expected.npz",
        proba=pipe.predict_proba(X),
        regression=regressor.predict(X),
    )


if __name__ == "__main__":
    write()
