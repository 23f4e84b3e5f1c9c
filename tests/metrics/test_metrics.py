import math
import warnings

import numpy as np
import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_validate

from skfusion.metrics import (
    diagnostic_report,
    diagnostic_scorers,
    npv_score,
    plot_diagnostics,
    ppv_score,
    sensitivity_score,
    specificity_score,
)

# Binary, pos_label "AD": TP=3, FN=1, FP=2, TN=4.
Y_TRUE = ["AD"] * 4 + ["NC"] * 6
Y_PRED = ["AD", "AD", "AD", "NC", "AD", "AD", "NC", "NC", "NC", "NC"]

# Three classes; confusion matrix (rows true a, b, c; columns predicted a, b, c):
#   a: [2, 1, 0]   b: [0, 3, 1]   c: [1, 0, 2]
Y3_TRUE = list("aaa") + list("bbbb") + list("ccc")
Y3_PRED = list("aab") + list("bbbc") + list("acc")
# One-vs-rest counts per class (tp, fn, fp, tn): a (2,1,1,6), b (3,1,1,5), c (2,1,1,6)
PER_CLASS = {
    "sensitivity": [2 / 3, 3 / 4, 2 / 3],
    "specificity": [6 / 7, 5 / 6, 6 / 7],
    "ppv": [2 / 3, 3 / 4, 2 / 3],
    "npv": [6 / 7, 5 / 6, 6 / 7],
}
METRICS = {
    "sensitivity": sensitivity_score,
    "specificity": specificity_score,
    "ppv": ppv_score,
    "npv": npv_score,
}


@pytest.mark.parametrize(
    "name, expected",
    [("sensitivity", 3 / 4), ("specificity", 4 / 6), ("ppv", 3 / 5), ("npv", 4 / 5)],
)
def test_binary_against_a_hand_counted_confusion_matrix(name, expected):
    assert METRICS[name](Y_TRUE, Y_PRED, pos_label="AD") == pytest.approx(expected)


def test_pos_label_swaps_roles():
    assert sensitivity_score(Y_TRUE, Y_PRED, pos_label="NC") == pytest.approx(4 / 6)
    assert npv_score(Y_TRUE, Y_PRED, pos_label="NC") == pytest.approx(3 / 5)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_multiclass_averages(name):
    metric, expected = METRICS[name], np.array(PER_CLASS[name])
    np.testing.assert_allclose(metric(Y3_TRUE, Y3_PRED, average=None), expected)
    assert metric(Y3_TRUE, Y3_PRED, average="macro") == pytest.approx(expected.mean())
    support = np.array([3, 4, 3])
    assert metric(Y3_TRUE, Y3_PRED, average="weighted") == pytest.approx(
        np.average(expected, weights=support)
    )


def test_micro_average_pools_the_counts():
    # pooled tp=7, fn=3, fp=3, tn=17
    assert sensitivity_score(Y3_TRUE, Y3_PRED, average="micro") == pytest.approx(0.7)
    assert specificity_score(Y3_TRUE, Y3_PRED, average="micro") == pytest.approx(17 / 20)


def test_zero_division_is_explicit():
    with pytest.warns(UndefinedMetricWarning, match="no positive samples"):
        assert sensitivity_score([0, 0], [0, 1]) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(sensitivity_score([0, 0], [0, 1], zero_division=np.nan))
        assert ppv_score([0, 1], [0, 0], zero_division=1.0) == 1.0
        assert npv_score([1, 1], [1, 1], zero_division=0.0) == 0.0
    # one class only, pos_label absent: defined metrics still work
    assert specificity_score([0, 0], [0, 0], zero_division=0.0) == 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(y_true=[0, 1, 2], y_pred=[0, 1, 2]), "average='binary' needs binary"),
        (dict(y_true=["a", "b"], y_pred=["a", "b"], pos_label="X"), "pos_label='X'"),
        (dict(y_true=[0, 1], y_pred=[0, 1], zero_division=2), "zero_division"),
        (dict(y_true=[0, 1], y_pred=[0, 1, 1]), "same length"),
        (dict(y_true=[0, 1], y_pred=[0, 1], average="samples"), "average"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sensitivity_score(**kwargs)


def test_diagnostic_report_values_and_intervals():
    rng = np.random.RandomState(0)
    y = np.array(["AD"] * 60 + ["NC"] * 60)
    score = np.where(y == "AD", 0.65, 0.35) + rng.normal(scale=0.2, size=120)
    pred = np.where(score > 0.5, "AD", "NC")
    report = diagnostic_report(y, pred, score, pos_label="AD", n_bootstraps=300)
    assert list(report.index) == [
        "ACC",
        "Sensitivity",
        "Specificity",
        "PPV",
        "NPV",
        "Balanced ACC",
        "AUC",
    ]
    assert report.loc["Sensitivity", "value"] == pytest.approx(
        sensitivity_score(y, pred, pos_label="AD")
    )
    assert (report["ci_low"] <= report["value"]).all()
    assert (report["value"] <= report["ci_high"]).all()
    width = (report["ci_high"] - report["ci_low"]).loc["ACC"]
    assert 0.05 < width < 0.3


@pytest.mark.slow
def test_grouped_bootstrap_widens_intervals_for_repeated_slices():
    rng = np.random.RandomState(1)
    subject_truth = np.array(["AD", "NC"] * 20)
    subject_pred = np.where(
        rng.rand(40) < 0.75, subject_truth, np.where(subject_truth == "AD", "NC", "AD")
    )
    y, pred = np.repeat(subject_truth, 10), np.repeat(subject_pred, 10)
    groups = np.repeat(np.arange(40), 10)
    naive = diagnostic_report(y, pred, pos_label="AD", n_bootstraps=300)
    grouped = diagnostic_report(y, pred, pos_label="AD", groups=groups, n_bootstraps=300)
    width = lambda r: r.loc["ACC", "ci_high"] - r.loc["ACC", "ci_low"]  # noqa: E731
    assert width(grouped) > 2 * width(naive)


def test_diagnostic_report_multiclass_and_no_scores():
    report = diagnostic_report(Y3_TRUE, Y3_PRED, n_bootstraps=0)
    assert "AUC" not in report.index
    assert report.loc["Sensitivity", "value"] == pytest.approx(np.mean(PER_CLASS["sensitivity"]))
    assert report["ci_low"].isna().all()


def test_scorers_in_cross_validate():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 3))
    y = np.where(X[:, 0] + 0.5 * rng.normal(size=80) > 0, "AD", "NC")
    scores = cross_validate(
        LogisticRegression(), X, y, cv=4, scoring=diagnostic_scorers(pos_label="AD")
    )
    for key in (
        "accuracy",
        "sensitivity",
        "specificity",
        "ppv",
        "npv",
        "balanced_accuracy",
        "roc_auc",
    ):
        assert np.all((0 <= scores[f"test_{key}"]) & (scores[f"test_{key}"] <= 1)), key
    assert scores["test_roc_auc"].mean() > 0.8
    # pos_label="NC" flips sensitivity and specificity but not AUC
    flipped = cross_validate(
        LogisticRegression(), X, y, cv=4, scoring=diagnostic_scorers(pos_label="NC")
    )
    np.testing.assert_allclose(flipped["test_sensitivity"], scores["test_specificity"])
    np.testing.assert_allclose(flipped["test_roc_auc"], scores["test_roc_auc"])
    multi = cross_validate(
        LogisticRegression(),
        X,
        np.digitize(X[:, 0], [-0.5, 0.5]),
        cv=3,
        scoring=diagnostic_scorers(),
    )
    assert np.isfinite(multi["test_sensitivity"]).all()


def test_scorers_pickle_and_run_in_parallel_processes():
    """The confusion-matrix scorers are plain picklable objects (a validation decorator once
    turned their class into a function, so pickle refused them)."""
    import pickle

    scorers = diagnostic_scorers(pos_label="AD", zero_division=0.0)
    restored = pickle.loads(pickle.dumps(scorers))
    assert sorted(restored) == sorted(scorers)
    rng = np.random.RandomState(1)
    X = rng.normal(size=(60, 2))
    y = np.where(X[:, 0] > 0, "AD", "NC")
    serial = cross_validate(LogisticRegression(), X, y, cv=3, scoring=scorers)
    parallel = cross_validate(LogisticRegression(), X, y, cv=3, scoring=restored, n_jobs=2)
    np.testing.assert_allclose(parallel["test_sensitivity"], serial["test_sensitivity"])
    with pytest.raises(ValueError, match="zero_division"):
        diagnostic_scorers(pos_label="AD", zero_division=2.0)
    with pytest.raises(ValueError, match="pos_label"):
        diagnostic_scorers(pos_label=[1])


def test_plot_diagnostics_writes_a_png(tmp_path):
    plot_diagnostics(
        Y_TRUE,
        Y_PRED,
        np.linspace(0, 1, 10)[::-1],
        pos_label="AD",
        path=tmp_path / "fold.png",
        title="fold 1",
    )
    assert (tmp_path / "fold.png").stat().st_size > 10_000
    plot_diagnostics(Y3_TRUE, Y3_PRED, path=tmp_path / "multi.png")
    assert (tmp_path / "multi.png").exists()


def test_the_positive_class_is_inferred_only_where_unambiguous():
    from skfusion.evaluation import cross_val_diagnostics
    from skfusion.metrics import infer_pos_label

    assert infer_pos_label([0, 1]) == 1 and infer_pos_label([-1, 1]) == 1
    assert infer_pos_label(np.array([True, False])) is True
    for labels in (["AD", "NC"], [1, 2], ["pMCI", "sMCI"]):
        with pytest.raises(ValueError, match="pos_label="):
            infer_pos_label(labels)
    y_true = np.array(["AD", "NC", "AD", "NC"])
    with pytest.raises(ValueError, match="which class is the condition"):
        diagnostic_report(y_true, y_true, n_bootstraps=0)
    numeric = diagnostic_report(
        (y_true == "AD").astype(int), (y_true == "AD").astype(int), n_bootstraps=0
    )
    assert numeric.loc["Sensitivity", "value"] == 1.0
    with pytest.raises(ValueError, match="pos_label="):
        cross_val_diagnostics(None, None, y_true, cv=2, verbose=0)
