"""The reference fit: a small deterministic fit whose outputs are stored, so that a change
which alters what models output cannot pass unnoticed.

A refactor leaves these outputs as they are (to float rounding) and records nothing. A change
of behaviour breaks this test on purpose: it then records itself in CHANGELOG.md under
"Changed behaviour" with ``[outputs changed: <commit>]`` (so ``benchmarks/stale.py`` marks the
results it overtakes) and stores the new outputs. Each family's outputs are stored apart
(``families``): a change that moves only some of them may say so,
``[outputs changed: <commit> for GatedFusion]``, and overtakes only the results that name
those families:

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
        "families": family_outputs(X, y),
    }


def family_outputs(X, y):
    """Class probabilities of every other family with its defaults (tiny), by family name
    (the name ``[outputs changed: <commit> for <family>]`` uses)."""
    from skfusion import (
        FeatureModulationClassifier,
        GatedFusionClassifier,
        ReportFusionClassifier,
    )
    from skfusion.datasets import make_brain_cohort

    from .conftest import TINY

    tiny = {**TINY, "max_epochs": 3}
    reports = make_brain_cohort(30, n_slices=1, image_size=16, reports=True, random_state=0)
    found = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, model, data, target in (
            ("GatedFusion", GatedFusionClassifier(**tiny), X, y),
            (
                "FeatureModulation",
                FeatureModulationClassifier(
                    **{k: v for k, v in tiny.items() if k != "clinical_dim"}
                ),
                X,
                y,
            ),
            (
                "ReportFusion",
                ReportFusionClassifier(**tiny, embedding_dim=8, hidden_size=8),
                reports.X,
                reports.y,
            ),
        ):
            found[name] = model.fit(data, target).predict_proba(data)[:, 1].tolist()
    return found


def test_outputs_are_those_stored():
    stored = json.loads(STORED.read_text())
    now = reference_outputs()
    hint = (
        " Outputs changed: if that is meant, record the change in CHANGELOG.md ('Changed "
        "behaviour', with [outputs changed: <commit>], or [outputs changed: <commit> for "
        "<family>] when only some families moved) and store the new outputs with "
        "`python -m tests.test_reference_outputs --write`; if not, the change altered "
        "what models output by mistake."
    )
    moved = {}
    for key in ("classifier_proba", "regressor"):
        moved[f"ClinicalAttention ({key})"] = np.abs(
            np.asarray(now[key]) - np.asarray(stored[key])
        ).max()
    for family, outputs in now["families"].items():
        reference = stored.get("families", {}).get(family)
        moved[family] = (
            np.inf
            if reference is None
            else np.abs(np.asarray(outputs) - np.asarray(reference)).max()
        )
    moved = {name: gap for name, gap in moved.items() if gap > TOLERANCE}
    assert not moved, (
        "Moved: " + ", ".join(f"{name} by {gap:.3g}" for name, gap in moved.items()) + "." + hint
    )
    assert now["classifier_classes"] == stored["classifier_classes"], hint


if __name__ == "__main__" and "--write" in sys.argv:
    STORED.write_text(json.dumps(reference_outputs(), indent=1) + "\n")
    print(f"wrote {STORED}")
