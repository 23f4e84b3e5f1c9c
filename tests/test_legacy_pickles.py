"""Pickles and joblib files of skfusion 0.3 estimators keep loading (for one release) after
the package was grouped into layer subpackages: their module paths resolve on demand."""

import pathlib

import joblib
import numpy as np

from .conftest import make_data

DATA = pathlib.Path(__file__).parent / "data"


def test_a_0_3_joblib_file_loads_and_predicts_as_it_did():
    """Written by ``tests/data/write_pickle_fixture.py`` from 0.3's layout."""
    models = joblib.load(DATA / "skfusion-0.3.0-pipeline.joblib")
    expected = np.load(DATA / "skfusion-0.3.0-pipeline-expected.npz")
    X, _ = make_data(n=24)
    np.testing.assert_allclose(models["pipeline"].predict_proba(X), expected["proba"],
                               rtol=0, atol=1e-6)
    np.testing.assert_allclose(models["regressor"].predict(X), expected["regression"],
                               rtol=1e-6, atol=1e-6)
    # and they train on
    models["pipeline"][-1].partial_fit(models["pipeline"][:-1].transform(X),
                                       np.array(["AD", "NC"] * 12))
