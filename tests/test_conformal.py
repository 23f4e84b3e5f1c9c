"""Conformal prediction with whole subjects: coverage measured on held-out subjects."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.estimator_checks import check_param_validation

from skfusion import ClinicalAttentionClassifier, FusionInput
from skfusion.conformal import ConformalClassifier, ConformalRegressor, coverage


def _classification(n, seed, rows_per_subject=1):
    rng = np.random.RandomState(seed)
    subject_x = rng.normal(size=(n, 2))
    x = np.repeat(subject_x, rows_per_subject, axis=0)
    x = x + 0.3 * rng.normal(size=x.shape)
    logit = 2 * x[:, 0] - x[:, 1]
    y = np.where(rng.rand(len(x)) < 1 / (1 + np.exp(-logit)), "AD", "NC")
    return x, y, np.repeat(np.arange(n), rows_per_subject)


@pytest.mark.parametrize("method", ["lac", "aps"])
def test_sets_cover_held_out_subjects_at_the_level_asked(method):
    # The guarantee is in expectation over the draw of the data: averaged over 20 cohorts
    # (SD of the mean about 0.004), coverage sits at 0.9 or just above, never well below.
    covered = []
    for seed in range(20):
        x, y, _ = _classification(3000, 100 + seed)
        model = ConformalClassifier(
            LogisticRegression(), alpha=0.1, method=method, random_state=seed
        ).fit(x[:1000], y[:1000])
        sets = model.predict_set(x[1000:])
        covered.append(coverage(y[1000:], sets, classes=model.classes_))
    assert 0.89 <= np.mean(covered) <= 0.92, np.mean(covered)
    assert model.n_calibration_subjects_ == 250
    wider = model.predict_set(x[1000:], alpha=0.02)
    assert (wider | ~sets).all()  # a smaller alpha gives supersets
    assert coverage(y[1000:], wider, classes=model.classes_) > covered[-1]


def test_repeated_subjects_are_calibrated_whole_and_cover_all_their_rows():
    x, y, subjects = _classification(800, 1, rows_per_subject=4)
    train, test = subjects < 500, subjects >= 500
    model = ConformalClassifier(LogisticRegression(), alpha=0.1, random_state=0).fit(
        x[train], y[train], groups=subjects[train]
    )
    calibration = np.unique(subjects[train][model.calibration_indices_])
    fitted_on = np.setdiff1d(
        np.arange(len(y))[train], np.flatnonzero(train)[model.calibration_indices_]
    )
    assert len(model.calibration_scores_) == len(calibration) == 125  # one score a subject
    assert not set(calibration) & set(subjects[fitted_on])  # no subject on both sides
    sets = model.predict_set(x[test])
    index = {c: i for i, c in enumerate(model.classes_)}
    inside = sets[np.arange(len(sets)), [index[v] for v in y[test]]]
    every_row = [inside[subjects[test] == s].all() for s in np.unique(subjects[test])]
    assert np.mean(every_row) >= 0.88  # all rows of a subject covered at once


def test_intervals_cover_held_out_subjects():
    covered = []
    for seed in range(20):
        rng = np.random.RandomState(200 + seed)
        x = rng.normal(size=(3000, 2))
        y = x[:, 0] + rng.standard_t(4, size=3000)
        model = ConformalRegressor(Ridge(), alpha=0.2, random_state=seed).fit(x[:1000], y[:1000])
        intervals = model.predict_interval(x[1000:])
        covered.append(coverage(y[1000:], intervals))
    assert 0.79 <= np.mean(covered) <= 0.82, np.mean(covered)
    assert np.allclose(intervals.mean(axis=1), model.predict(x[1000:]))
    assert np.allclose(intervals[:, 1] - intervals[:, 0], 2 * model.quantile_)


def test_too_few_calibration_subjects_warn_and_cover_everything():
    x, y, _ = _classification(24, 3)
    with pytest.warns(UserWarning, match="cannot guarantee coverage 0.9"):
        model = ConformalClassifier(LogisticRegression(), random_state=0).fit(x, y)
    assert np.isinf(model.quantile_) and model.predict_set(x).all()


def test_errors_name_the_argument():
    x, y, _ = _classification(40, 4)
    with pytest.raises(ValueError, match="calibration_size=0.01 leaves 0 of 40"):
        ConformalClassifier(LogisticRegression(), calibration_size=0.01).fit(x, y)
    model = ConformalRegressor(Ridge(), random_state=0).fit(x, x[:, 0])
    with pytest.raises(ValueError, match="alpha must be a number in"):
        model.predict_interval(x, alpha=1.5)
    with pytest.raises(ValueError, match="one target per sample"):
        ConformalRegressor(Ridge()).fit(x, np.c_[x[:, 0], x[:, 1]])
    with pytest.raises(ValueError, match="coverage of prediction sets needs classes"):
        coverage(y, np.ones((40, 2), dtype=bool))
    # 3 labels against 4 sets returned 1.0.
    with pytest.raises(
        ValueError,
        match=r"got y of shape \(3,\) and sets_or_intervals of "
        r"shape \(4, 2\)",
    ):
        coverage(["a", "b", "a"], np.ones((4, 2), dtype=bool), classes=["a", "b"])
    with pytest.raises(ValueError, match="the sets have 2 columns but classes= names 3"):
        coverage(y, np.ones((40, 2), dtype=bool), classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"intervals must have shape \(n_samples, 2\)"):
        coverage(y, np.ones((40, 3)))


@pytest.mark.parametrize(
    "model", [ConformalClassifier(LogisticRegression()), ConformalRegressor(Ridge())]
)
def test_parameters_are_validated(model):
    check_param_validation(type(model).__name__, model)


def test_a_fusion_estimator_on_fusion_input_with_its_subjects():
    rng = np.random.RandomState(5)
    images = rng.rand(48, 1, 16, 16).astype("float32")
    clinical = rng.normal(size=(48, 3))
    y = np.where(clinical[:, 0] > 0, "AD", "NC")
    subjects = np.repeat(np.arange(24), 2)
    X = FusionInput(images, clinical, subjects=subjects)
    base = ClinicalAttentionClassifier(
        mode="concat",
        backbone="resnet18",
        base_width=4,
        clinical_dim=8,
        max_epochs=2,
        random_state=0,
        verbose=0,
    )
    model = ConformalClassifier(base, alpha=0.2, calibration_size=0.5, random_state=0).fit(X, y)
    assert len(model.calibration_scores_) == 12  # subjects taken from X
    assert model.predict_set(X[:5]).shape == (5, 2)
    assert model.predict_proba(X[:5]).shape == (5, 2)
