"""The reference fit: a small deterministic fit whose outputs are stored, so that a change
which alters what models output cannot pass unnoticed.

A refactor leaves these outputs as they are (to float rounding) and records nothing. A change
of behaviour breaks this test on purpose: it then records itself in CHANGELOG.md under
"Changed behaviour" with ``[outputs changed: <commit>]`` (so ``benchmarks/stale.py`` marks the
results it overtakes) and stores the new outputs:

    python -m tests.test_reference_outputs --write
"""

import json
import pathlib
import sys
import warnings

import numpy as np

STORED = pathlib.Path(__file__).parent / "data" / "reference_outputs.json"

#: Rounding across runs on one machine is ~1e-7; any change of behaviour so far moved these
#: outputs by more than 1e-3.
TOLERANCE = 1e-4


def reference_outputs():
    """Class probabilities of a full-mode ClinicalAttentionClassifier (a quarter of its
    training images missing, the training set not a multiple of the batch size, calibrated
    with a temperature and a bias) and predictions of a ClinicalAttentionRegressor."""
    from skfusion import ClinicalAttentionClassifier, ClinicalAttentionRegressor, FusionInput

    from .conftest import TINY, make_data

    X, y = make_data(n=30, size=16)
    present = np.arange(30) % 4 != 1
    gappy = FusionInput(X.images, X.clinical, present={"images": present})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        classifier = ClinicalAttentionClassifier(
            **{**TINY, "max_epochs": 3},
            mode="full",
            calibration="temperature_bias",
            validation_fraction=0.3,
        ).fit(gappy, y)
        regressor = ClinicalAttentionRegressor(**{**TINY, "max_epochs": 3}, mode="full").fit(
            X, np.asarray(X.clinical["score"])
        )
    return {
        "classifier_proba": classifier.predict_proba(gappy)[:, 1].tolist(),
        "classifier_classes": classifier.predict(gappy).tolist(),
        "regressor": np.ravel(regressor.predict(X)).tolist(),
    }


def test_outputs_are_those_stored():
    stored = json.loads(STORED.read_text())
    now = reference_outputs()
    hint = (
        " Outputs changed: if that is meant, record the change in CHANGELOG.md ('Changed "
        "behaviour', with [outputs changed: <commit>]) and store the new outputs with "
        "`python -m tests.test_reference_outputs --write`; if not, the change altered "
        "what models output by mistake."
    )
    for key in ("classifier_proba", "regressor"):
        gap = np.abs(np.asarray(now[key]) - np.asarray(stored[key])).max()
        assert gap <= TOLERANCE, f"{key} moved by {gap:.3g}." + hint
    assert now["classifier_classes"] == stored["classifier_classes"], hint


if __name__ == "__main__" and "--write" in sys.argv:
    STORED.write_text(json.dumps(reference_outputs(), indent=1) + "\n")
    print(f"wrote {STORED}")
