import numpy as np

from skfusion import ClinicalAttentionClassifier
from skfusion.evaluation import cross_val_diagnostics

from .conftest import TINY
from .test_grouped_validation import subject_data


def test_cross_val_diagnostics_per_fold_and_pooled(tmp_path, capsys):
    X, y, groups = subject_data()
    folds = cross_val_diagnostics(
        ClinicalAttentionClassifier(**TINY, early_stopping=True), X, y, groups=groups, cv=3,
        pos_label="AD", output_dir=tmp_path)
    assert list(folds.index) == [1, 2, 3]
    assert {"ACC", "Sensitivity", "Specificity", "PPV", "NPV", "AUC"} <= set(folds.columns)
    pooled = folds.attrs["pooled"].dropna()  # PPV is undefined when no AD is predicted
    assert (pooled["ci_low"] <= pooled["value"] + 1e-12).all()
    for name in ("fold_1.png", "fold_3.png", "folds.csv", "pooled.csv"):
        assert (tmp_path / name).exists()
    assert "fold 3:" in capsys.readouterr().out
    assert np.isfinite(folds["ACC"]).all()
