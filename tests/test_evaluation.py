import numpy as np
import pytest
from sklearn.exceptions import UndefinedMetricWarning

from skfusion import ClinicalAttentionClassifier
from skfusion.evaluation import cross_val_diagnostics

from ._base.test_grouped_validation import subject_data
from .conftest import TINY


@pytest.mark.slow
def test_cross_val_diagnostics_per_fold_and_pooled(tmp_path, capsys):
    X, y, groups = subject_data()
    folds = cross_val_diagnostics(
        ClinicalAttentionClassifier(**TINY, early_stopping=True),
        X,
        y,
        groups=groups,
        cv=3,
        pos_label="AD",
        output_dir=tmp_path,
    )
    assert list(folds.index) == [1, 2, 3]
    assert {"ACC", "Sensitivity", "Specificity", "PPV", "NPV", "AUC"} <= set(folds.columns)
    pooled = folds.attrs["pooled"].dropna()  # PPV is undefined when no AD is predicted
    assert (pooled["ci_low"] <= pooled["value"] + 1e-12).all()
    calibration = folds.attrs["calibration"]
    assert list(calibration.index) == ["Calibration slope", "Calibration intercept", "ECE", "Brier"]
    assert 0 <= calibration.loc["ECE", "value"] <= 1
    for name in (
        "fold_1.png",
        "fold_3.png",
        "folds.csv",
        "pooled.csv",
        "calibration.csv",
        "reliability.png",
    ):
        assert (tmp_path / name).exists()
    out = capsys.readouterr().out
    assert "fold 3/3 (per image):" in out and "fold 3/3 (per patient):" in out
    assert __import__("re").search(r"fold 3/3 \(per patient\): .* \[\d+ s\]", out)
    # every fold but the last estimates the time left from the folds so far
    assert __import__("re").search(r"fold 1/3 \(per image\): .* \[\d+ s; about \d+ s left\]", out)
    assert len(folds.attrs["fit_seconds"]) == 3 and min(folds.attrs["fit_seconds"]) > 0
    assert np.isfinite(folds["ACC"]).all()
    per_subject = folds.attrs["per_subject"]
    assert list(per_subject.index) == [1, 2, 3] and "AUC" in per_subject
    assert "value" in folds.attrs["pooled_per_subject"]


def test_aggregate_by_subject():
    import pytest

    from skfusion.metrics import aggregate_by_subject

    subjects, y, proba = aggregate_by_subject(
        ["AD", "AD", "NC", "NC"],
        [[0.2, 0.8], [0.4, 0.6], [0.9, 0.1], [0.7, 0.3]],
        ["b", "b", "a", "a"],
    )
    assert subjects.tolist() == ["b", "a"] and y.tolist() == ["AD", "NC"]
    np.testing.assert_allclose(proba, [[0.3, 0.7], [0.8, 0.2]])
    with pytest.raises(ValueError, match="different labels"):
        aggregate_by_subject(["AD", "NC"], [0.1, 0.2], ["s", "s"])


@pytest.fixture(scope="module")
def fitted_with_sex():
    from skfusion import FusionInput

    from .conftest import make_data

    X, y = make_data(n=48)
    clinical = X.clinical.assign(sex=np.where(np.arange(48) % 3 == 0, "F", "M"))
    clinical.loc[5, "sex"] = None
    X = FusionInput(X.images, clinical)
    model = ClinicalAttentionClassifier(**{**TINY, "max_epochs": 4}).fit(X, y)
    return model, X, y


def test_subgroup_report_per_column_value_with_missing_as_its_own_group(fitted_with_sex):
    from skfusion.evaluation import subgroup_report
    from skfusion.metrics import calibration_report, diagnostic_report

    model, X, y = fitted_with_sex
    with pytest.warns(UndefinedMetricWarning) as caught:  # "missing" holds one sample
        report = subgroup_report(model, X, y, by="sex", pos_label="AD", n_bootstraps=50)
    assert any("AUC is undefined" in str(w.message) for w in caught)
    assert set(report.index.get_level_values("subgroup")) == {"F", "M", "missing"}
    counts = report.xs("n", level="metric")["value"]
    assert counts.sum() == 48 and counts["missing"] == 1
    female = np.flatnonzero(X.clinical["sex"].to_numpy() == "F")
    proba = model.predict_proba(X[female])[:, list(model.classes_).index("AD")]
    expected = diagnostic_report(
        y[female], model.predict(X[female]), proba, pos_label="AD", n_bootstraps=0
    )["value"]
    assert report.loc[("F", "AUC"), "value"] == pytest.approx(expected["AUC"])
    assert report.loc[("F", "ECE"), "value"] == pytest.approx(
        calibration_report(y[female], proba, pos_label="AD", n_bootstraps=0).loc["ECE", "value"]
    )
    assert report.loc[("F", "Prevalence"), "value"] == pytest.approx(np.mean(y[female] == "AD"))
    assert np.isnan(report.loc[("missing", "AUC"), "value"])  # one sample: one class
    defined = report.loc["F"].dropna()
    assert (defined["ci_low"] <= defined["value"] + 1e-12).all()


def test_subgroup_report_takes_an_array_and_refuses_bad_input(fitted_with_sex):
    from skfusion.evaluation import subgroup_report

    model, X, y = fitted_with_sex
    bands = np.where(X.clinical["age"] < 70, "<70", ">=70")
    report = subgroup_report(model, X, y, by=bands, pos_label="AD", n_bootstraps=0)
    assert set(report.index.get_level_values("subgroup")) <= {"<70", ">=70"}
    with pytest.raises(ValueError, match="not a column"):
        subgroup_report(model, X, y, by="site", pos_label="AD")
    with pytest.raises(ValueError, match="one subgroup per sample"):
        subgroup_report(model, X, y, by=bands[:10], pos_label="AD")
    with pytest.raises(ValueError, match="binary tasks"):
        subgroup_report(model, X, np.array(["AD"] * 48), by="sex", pos_label="AD")
    with pytest.raises(ValueError, match="not among the classes"):
        subgroup_report(model, X, y, by="sex", pos_label="MCI")


def test_external_validation_reports_the_model_as_fitted_and_recalibrated(fitted_with_sex):
    from scipy.special import expit, logit

    from skfusion.evaluation import external_validation, subgroup_report

    model, X, y = fitted_with_sex
    report = external_validation(model, X, y, pos_label="AD", n_bootstraps=50)
    same = subgroup_report(model, X, y, by=np.zeros(len(y)), pos_label="AD", n_bootstraps=50).loc[
        0.0
    ]
    assert np.allclose(report.loc["as fitted"]["value"], same["value"], equal_nan=True)
    assert "logit_shift" not in report.attrs
    # A cohort whose prevalence differs: drop most "AD" samples.
    keep = np.flatnonzero((y != "AD") | (np.arange(len(y)) % 4 == 0))
    shifted = external_validation(
        model, X[keep], y[keep], pos_label="AD", recalibrate=True, n_bootstraps=50
    )
    as_fitted = shifted.loc["as fitted", "value"]
    recalibrated = shifted.loc["recalibrated in the large", "value"]
    assert recalibrated["AUC"] == pytest.approx(as_fitted["AUC"])  # ranking unchanged
    assert abs(recalibrated["Calibration intercept"]) < 1e-3  # zero by construction
    proba = model.predict_proba(X[keep])[:, list(model.classes_).index("AD")]
    moved = expit(logit(proba) + shifted.attrs["logit_shift"])
    assert moved.mean() == pytest.approx(np.mean(y[keep] == "AD"), abs=1e-6)


def test_external_validation_refuses_bad_input(fitted_with_sex):
    from skfusion.evaluation import external_validation

    model, X, y = fitted_with_sex
    with pytest.raises(ValueError, match="y has 47 labels but X has 48 samples"):
        external_validation(model, X, y[:-1], pos_label="AD")
    with pytest.raises(ValueError, match="is for binary tasks"):
        external_validation(model, X, np.array(["AD"] * 48), pos_label="AD")
    with pytest.raises(ValueError, match="pos_label='MCI' is not among the classes"):
        external_validation(model, X, np.where(y == "AD", "MCI", y), pos_label="MCI")


def test_a_pos_label_that_is_not_a_label_is_refused_before_any_fold(monkeypatch):
    X, y, groups = subject_data()
    fits = []
    model = ClinicalAttentionClassifier(**TINY)
    monkeypatch.setattr(type(model), "fit", lambda self, *a, **k: fits.append(1))
    with pytest.raises(
        ValueError,
        match=r"pos_label='XX' is not one of the labels of y "
        r"\['AD', 'NC'\]",
    ):
        cross_val_diagnostics(model, X, y, groups=groups, cv=3, pos_label="XX")
    assert not fits


def test_the_whole_fit_is_estimated_from_the_folds_times():
    import pandas as pd
    import pytest

    from skfusion.evaluation._diagnostics import whole_fit_seconds

    folds = pd.DataFrame({"ACC": [0.5] * 4})
    assert whole_fit_seconds(folds) == 0.0  # no times recorded
    folds.attrs["fit_seconds"] = [3.0, 3.0, 3.0, 3.0]  # each fold fitted 3/4 of the samples
    assert whole_fit_seconds(folds) == pytest.approx(4.0)
