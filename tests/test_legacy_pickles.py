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
    np.testing.assert_allclose(
        models["pipeline"].predict_proba(X), expected["proba"], rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
        models["regressor"].predict(X), expected["regression"], rtol=1e-6, atol=1e-6
    )
    # and they train on
    models["pipeline"][-1].partial_fit(
        models["pipeline"][:-1].transform(X), np.array(["AD", "NC"] * 12)
    )


def test_every_0_3_module_path_resolves_to_the_module_that_holds_it_now():
    import importlib
    import sys

    from skfusion._legacy import MOVED

    for old, new in MOVED.items():
        assert importlib.import_module(old) is importlib.import_module(new), old
        assert sys.modules[new].__name__ == new and sys.modules[new].__spec__.name == new
    from skfusion._net import FusionNet  # 0.3's skfusion._net module is a package now
    from skfusion._net.net import FusionNet as moved

    assert FusionNet is moved


def test_old_paths_cost_nothing_until_used():
    import subprocess
    import sys

    code = (
        "import sys, skfusion; from skfusion._legacy import MOVED; "
        "print(sorted(set(MOVED) & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"
