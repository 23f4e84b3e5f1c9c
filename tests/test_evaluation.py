import numpy as np
import pytest

from skfusion import ClinicalAttentionClassifier
from skfusion.evaluation import cross_val_diagnostics

from .conftest import TINY
from ._base.test_grouped_validation import subject_data


@pytest.mark.slow
def test_cross_val_diagnostics_per_fold_and_pooled(tmp_path, capsys):
    X, y, groups = subject_data()
    folds = cross_val_diagnostics(
        ClinicalAttentionClassifier(**TINY, early_stopping=True), X, y, groups=groups, cv=3,
        pos_label="AD", output_dir=tmp_path)
    assert list(folds.index) == [1, 2, 3]
    assert {"ACC", "Sensitivity", "Specificity", "PPV", "NPV", "AUC"} <= set(folds.columns)
    pooled = folds.attrs["pooled"].dropna()  # PPV is undefined when no AD is predicted
    assert (pooled["ci_low"] <= pooled["value"] + 1e-12).all()
    calibration = folds.attrs["calibration"]
    assert list(calibration.index) == ["Calibration slope", "Calibration intercept", "ECE",
                                       "Brier"]
    assert 0 <= calibration.loc["ECE", "value"] <= 1
    for name in ("fold_1.png", "fold_3.png", "folds.csv", "pooled.csv", "calibration.csv",
                 "reliability.png"):
        assert (tmp_path / name).exists()
    out = capsys.readouterr().out
    assert "fold 3 (per slice):" in out and "fold 3 (per subject):" in out
    assert np.isfinite(folds["ACC"]).all()
    per_subject = folds.attrs["per_subject"]
    assert list(per_subject.index) == [1, 2, 3] and "AUC" in per_subject
    assert "value" in folds.attrs["pooled_per_subject"]


def test_aggregate_by_subject():
    import pytest

    from skfusion.metrics import aggregate_by_subject

    subjects, y, proba = aggregate_by_subject(
        ["AD", "AD", "NC", "NC"], [[0.2, 0.8], [0.4, 0.6], [0.9, 0.1], [0.7, 0.3]],
        ["b", "b", "a", "a"])
    assert subjects.tolist() == ["b", "a"] and y.tolist() == ["AD", "NC"]
    np.testing.assert_allclose(proba, [[0.3, 0.7], [0.8, 0.2]])
    with pytest.raises(ValueError, match="different labels"):
        aggregate_by_subject(["AD", "NC"], [0.1, 0.2], ["s", "s"])
