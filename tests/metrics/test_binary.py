"""The numpy binary metrics of the subject bootstrap give scikit-learn's values, and the
calibration slope and intercept by Newton's method give the likelihood's optimum."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit, logit
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from skfusion.metrics import calibration_report, diagnostic_report
from skfusion.metrics._binary import binary_values, roc_auc
from skfusion.metrics._calibration import _bounded, _newton


@pytest.mark.parametrize("seed", range(6))
def test_binary_values_match_scikit_learn_with_ties_and_one_sided_predictions(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    truth = rng.random(n) < rng.uniform(0.2, 0.8)
    truth[:2] = [True, False]
    scores = np.round(rng.random(n), 1)  # many ties
    predicted = scores > (0.5 if seed % 3 else 2.0)  # seed 0, 3: no positive prediction
    values = binary_values(truth, predicted, scores)
    assert values["ACC"] == pytest.approx(accuracy_score(truth, predicted))
    assert values["Sensitivity"] == pytest.approx(recall_score(truth, predicted))
    assert values["Specificity"] == pytest.approx(recall_score(~truth, ~predicted))
    assert values["NPV"] == pytest.approx(precision_score(~truth, ~predicted))
    if predicted.any():
        assert values["PPV"] == pytest.approx(precision_score(truth, predicted))
    else:
        assert np.isnan(values["PPV"])
    assert values["Balanced ACC"] == pytest.approx(balanced_accuracy_score(truth, predicted))
    assert values["AUC"] == pytest.approx(roc_auc_score(truth, scores))


def test_one_class_leaves_auc_and_the_other_classs_ratios_undefined():
    truth = np.array([True, True, True])
    values = binary_values(truth, np.array([True, False, True]), np.array([0.9, 0.2, 0.6]))
    assert np.isnan(values["AUC"]) and np.isnan(values["Specificity"])
    assert values["Balanced ACC"] == pytest.approx(2 / 3)  # the recall of the one class
    assert np.isnan(roc_auc(np.zeros(4, bool), np.arange(4.0)))


def test_diagnostic_report_with_labels_equals_the_boolean_values_and_checks_pos_label():
    y = np.array(["AD", "NC", "AD", "NC", "AD", "NC"])
    pred = np.array(["AD", "AD", "AD", "NC", "NC", "NC"])
    score = np.array([0.9, 0.6, 0.7, 0.2, 0.4, 0.1])
    report = diagnostic_report(y, pred, score, pos_label="AD", n_bootstraps=0)
    expected = binary_values(y == "AD", pred == "AD", score)
    assert report["value"].to_dict() == pytest.approx(expected)
    with pytest.raises(ValueError, match="pos_label='CN' is not a label"):
        diagnostic_report(y, pred, score, pos_label="CN", n_bootstraps=0)


def _likelihood_optimum(events, scores):
    logits = logit(np.clip(scores, 1e-6, 1 - 1e-6))

    def loss(w):
        p = expit(w[0] + w[1] * logits)
        return -np.mean(events * np.log(p) + (1 - events) * np.log(1 - p))

    return minimize(loss, x0=[0.0, 1.0], method="BFGS", options={"gtol": 1e-10}).x


@pytest.mark.parametrize("seed", range(4))
def test_newtons_slope_and_intercept_are_the_likelihoods_optimum(seed):
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0.02, 0.98, 300)
    events = (rng.random(300) < expit(0.3 + 0.6 * logit(scores))).astype(float)
    report = calibration_report(events, scores, n_bootstraps=0)
    intercept, slope = _likelihood_optimum(events, scores)
    assert report.loc["Calibration slope", "value"] == pytest.approx(slope, abs=1e-6)
    logits = logit(scores)
    shift = report.loc["Calibration intercept", "value"]
    gradient = np.sum(expit(shift + logits) - events)  # zero at the optimum, slope held at 1
    assert abs(gradient) < 1e-6
    assert abs(_newton(events, logits, np.zeros(1))[0] - _bounded(events, logits, False)) < 1e-4
    # from another start (a bootstrap starts from the whole sample's optimum): the same
    assert _newton(events, logits, np.array([0.5, 2.0]))[1] == pytest.approx(slope, abs=1e-6)


def test_separated_outcomes_fall_back_to_the_bounded_search():
    logits = np.array([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0])
    events = np.array([0.0, 0, 0, 1, 1, 1])  # the logits separate them: no finite slope
    assert _newton(events, logits, np.zeros(2))[1] == _bounded(events, logits, slope=True)
    assert np.isfinite(_newton(events, logits, np.zeros(2))[1])
