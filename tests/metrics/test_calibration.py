"""Calibration metrics: slope, intercept, ECE, Brier and the reliability diagram, and
skfusion's classifiers inside scikit-learn's CalibratedClassifierCV."""

import numpy as np
import pytest
from scipy.special import expit, logit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import GroupKFold

from skfusion import ClinicalAttentionClassifier, FusionInput
from skfusion.metrics import (
    calibration_report,
    expected_calibration_error,
    plot_reliability,
    reliability_curve,
)

from ..conftest import TINY, make_data


def _calibrated(n=20000, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, size=n)
    return rng.uniform(size=n) < p, p


def test_debiased_ece_removes_the_plug_ins_upward_bias_and_keeps_real_miscalibration():
    plug_in, debiased = [], []
    for seed in range(40):  # calibrated probabilities, 300 patients: the truth is 0
        y, p = _calibrated(300, seed)
        plug_in.append(expected_calibration_error(y, p))
        debiased.append(expected_calibration_error(y, p, debiased=True))
    assert np.mean(plug_in) > 0.06  # 15 bins of 20: the noise alone reads as 0.07
    assert np.mean(debiased) < 0.65 * np.mean(plug_in)  # Kumar's correction: 0.041
    # Overconfident probabilities (logits doubled): both see the same large error.
    y, p = _calibrated(20000)
    sharp = expit(2 * logit(p))
    big = expected_calibration_error(y, sharp, n_bins=10)
    assert big > 0.08
    assert expected_calibration_error(y, sharp, n_bins=10, debiased=True) == pytest.approx(
        big, abs=0.005
    )
    # The plug-in is the report's ECE; labels and errors as in calibration_report.
    assert expected_calibration_error(y, p) == pytest.approx(
        calibration_report(y, p, n_bootstraps=0).loc["ECE", "value"]
    )
    labels = np.where(y, "AD", "CN")
    assert expected_calibration_error(labels, p, pos_label="AD") == pytest.approx(
        expected_calibration_error(y, p)
    )
    with pytest.raises(ValueError, match="debiased"):
        expected_calibration_error(y, p, debiased="yes")


def test_a_calibrated_model_scores_slope_one_intercept_zero_and_a_small_ece():
    y, p = _calibrated()
    report = calibration_report(y, p, n_bootstraps=0)["value"]
    assert abs(report["Calibration slope"] - 1) < 0.05
    assert abs(report["Calibration intercept"]) < 0.05
    assert report["ECE"] < 0.02
    assert report["Brier"] == pytest.approx(brier_score_loss(y, p))


def test_overconfidence_lowers_the_slope_and_a_shift_moves_the_intercept():
    y, p = _calibrated()
    too_extreme = expit(2 * logit(p))
    too_low = expit(logit(p) - 1)
    extreme = calibration_report(y, too_extreme, n_bootstraps=0)["value"]
    low = calibration_report(y, too_low, n_bootstraps=0)["value"]
    assert extreme["Calibration slope"] == pytest.approx(0.5, abs=0.05)
    assert low["Calibration intercept"] == pytest.approx(1.0, abs=0.05)
    assert low["Calibration slope"] == pytest.approx(1.0, abs=0.05)
    assert extreme["ECE"] > 0.05 and low["ECE"] > 0.1


def test_ece_over_equal_mass_bins_by_hand():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.3, 0.6, 0.8])
    # two bins of two: |0.2 - 0| and |0.7 - 1|, each weighing a half
    assert calibration_report(y, p, n_bins=2, n_bootstraps=0).loc["ECE", "value"] == pytest.approx(
        0.25
    )
    predicted, observed, counts = reliability_curve(y, p, n_bins=2)
    np.testing.assert_allclose(predicted, [0.2, 0.7])
    np.testing.assert_allclose(observed, [0.0, 1.0])
    np.testing.assert_array_equal(counts, [2, 2])


def test_intervals_resample_subjects_and_contain_the_value():
    y, p = _calibrated(n=2000)
    groups = np.repeat(np.arange(500), 4)  # four samples per subject
    by_subject = calibration_report(y, p, groups=groups, n_bootstraps=200, random_state=0)
    assert (by_subject["ci_low"] <= by_subject["value"]).all()
    assert (by_subject["value"] <= by_subject["ci_high"]).all()
    again = calibration_report(y, p, groups=groups, n_bootstraps=200, random_state=0)
    np.testing.assert_array_equal(by_subject.to_numpy(), again.to_numpy())


def test_labels_need_pos_label_and_one_class_leaves_slope_undefined():
    p = np.array([0.2, 0.8, 0.4, 0.9])
    with pytest.raises(ValueError, match="pos_label"):
        calibration_report(["NC", "AD", "NC", "AD"], p, n_bootstraps=0)
    report = calibration_report(["NC", "AD", "NC", "AD"], p, pos_label="AD", n_bootstraps=0)
    assert np.isfinite(report["value"]).all()
    single = calibration_report([1, 1, 1, 1], p, n_bootstraps=0)["value"]
    assert np.isnan(single["Calibration slope"]) and np.isfinite(single["ECE"])


@pytest.mark.parametrize(
    "y, score, match",
    [
        ([0, 1], [0.2, 1.3], r"probabilities in \[0, 1\]"),
        ([0, 1], [0.2, np.nan], "NaN"),
        ([0, 1, 0], [0.2, 0.4], "same, non-zero length"),
        ([0, 1], [[0.8, 0.2], [0.3, 0.7]], "two columns"),
        ([0, 1, 2], [0.2, 0.4, 0.5], "binary tasks"),
        (["a", "b"], [0.2, 0.4], "pos_label"),
    ],
)
def test_bad_input_is_refused_with_the_reason(y, score, match):
    with pytest.raises(ValueError, match=match):
        calibration_report(y, score, n_bootstraps=0)


def test_pos_label_not_in_y_is_refused():
    with pytest.raises(ValueError, match="not among the labels"):
        calibration_report(["AD", "NC"], [0.2, 0.6], pos_label="MCI", n_bootstraps=0)


def test_reliability_diagram_is_written(tmp_path):
    y, p = _calibrated(n=500)
    figure = plot_reliability(y, p, path=tmp_path / "reliability.png", title="test")
    assert (tmp_path / "reliability.png").stat().st_size > 5_000
    assert "slope" in figure.axes[0].get_legend().get_texts()[1].get_text()


def test_classifiers_work_inside_calibrated_classifier_cv_with_subject_folds():
    X, y = make_data(n=36)
    groups = np.repeat(np.arange(12), 3)
    X = FusionInput(X.images, X.clinical, subjects=groups)
    # Without metadata routing, sklearn's cv sees no groups: pass the subject-grouped splits.
    splits = list(GroupKFold(3).split(np.zeros(len(y)), y, groups))
    calibrated = CalibratedClassifierCV(
        ClinicalAttentionClassifier(**TINY), cv=splits, method="sigmoid"
    ).fit(X, y)
    proba = calibrated.predict_proba(X[:5])
    assert proba.shape == (5, 2) and np.allclose(proba.sum(axis=1), 1)
    assert len(calibrated.calibrated_classifiers_) == 3
    for (train, test), fitted in zip(splits, calibrated.calibrated_classifiers_):
        assert not set(groups[train]) & set(groups[test])  # subjects kept whole
        assert set(fitted.estimator.classes_) == {"AD", "NC"}
