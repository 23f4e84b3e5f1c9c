"""Subjects never straddle a split: sklearn's CV, pipelines, searches and our internal
validation split for early stopping."""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfusion import ClinicalAttentionClassifier, ClinicalTransformer, FusionInput

from ..conftest import TINY, make_data


def subject_data(n_subjects=12, slices=3):
    X, y_subject = make_data(n=n_subjects, size=16)
    images = np.repeat(X.images, slices, axis=0)
    images += np.random.RandomState(0).normal(scale=0.1, size=images.shape).astype(np.float32)
    clinical = X.clinical.loc[X.clinical.index.repeat(slices)].reset_index(drop=True)
    groups = np.repeat([f"sub-{i}" for i in range(n_subjects)], slices)
    return FusionInput(images, clinical), np.repeat(y_subject, slices), groups


def test_internal_validation_split_keeps_subjects_whole():
    X, y, groups = subject_data()
    clf = ClinicalAttentionClassifier(**TINY, early_stopping=True, validation_fraction=0.25)
    clf.fit(X, y, groups=groups)
    valid = clf.validation_indices_
    train = np.setdiff1d(np.arange(len(y)), valid)
    assert len(valid) > 0
    assert not set(groups[valid]) & set(groups[train])
    assert set(y[valid]) == {"AD", "NC"}  # stratified by class


def test_without_groups_slices_of_a_subject_can_leak():
    """The reason groups matter: a plain split puts some subject on both sides."""
    X, y, groups = subject_data()
    clf = ClinicalAttentionClassifier(**TINY, early_stopping=True, validation_fraction=0.25)
    valid = clf.fit(X, y).validation_indices_
    train = np.setdiff1d(np.arange(len(y)), valid)
    assert set(groups[valid]) & set(groups[train])


def test_groups_must_match_the_samples():
    X, y, groups = subject_data()
    with pytest.raises(ValueError, match="groups must have one entry per sample"):
        ClinicalAttentionClassifier(**TINY).fit(X, y, groups=groups[:-1])


def test_groups_flow_through_cross_validate_and_pipelines_with_routing():
    X, y, groups = subject_data()
    with sklearn.config_context(enable_metadata_routing=True):
        clf = ClinicalAttentionClassifier(
            **TINY, early_stopping=True, validation_fraction=0.25
        ).set_fit_request(groups=True)
        pipe = make_pipeline(ClinicalTransformer(StandardScaler()), clf)
        cv = StratifiedGroupKFold(3, shuffle=True, random_state=0)
        result = cross_validate(
            pipe, X, y, cv=cv, params={"groups": groups}, return_estimator=True, return_indices=True
        )
        for model, train in zip(result["estimator"], result["indices"]["train"]):
            valid = train[model[-1].validation_indices_]
            fit_part = np.setdiff1d(train, valid)
            assert not set(groups[valid]) & set(groups[fit_part])
        for train, test in zip(result["indices"]["train"], result["indices"]["test"]):
            assert not set(groups[train]) & set(groups[test])
        search = GridSearchCV(
            pipe, {"clinicalattentionclassifier__mode": ["concat", "full"]}, cv=cv
        ).fit(X, y, groups=groups)
        assert search.best_estimator_[-1].validation_indices_ is not None


def test_groups_as_a_plain_fit_parameter_of_a_pipeline():
    X, y, groups = subject_data()
    pipe = make_pipeline(
        ClinicalTransformer(StandardScaler()),
        ClinicalAttentionClassifier(**TINY, early_stopping=True),
    )
    pipe.fit(X, y, clinicalattentionclassifier__groups=groups)
    valid = pipe[-1].validation_indices_
    assert not set(groups[valid]) & set(groups[np.setdiff1d(np.arange(len(y)), valid)])


def test_partial_fit_adds_one_epoch_each_call():
    X, y, groups = subject_data()
    clf = ClinicalAttentionClassifier(**TINY)
    clf.partial_fit(X[:18], y[:18], classes=["AD", "NC"])
    assert clf.n_epochs_ == 1
    before = clf.predict_proba(X)
    clf.partial_fit(X[18:], y[18:])
    assert clf.n_epochs_ == 2
    assert not np.array_equal(before, clf.predict_proba(X))
    with pytest.raises(ValueError, match=r"label\(s\) \['MCI'\]"):
        clf.partial_fit(X[:2], np.array(["MCI", "AD"]))
    assert clf.n_epochs_ == 2


def test_partial_fit_twice_equals_fit_with_two_epochs():
    X, y, _ = subject_data()
    a = ClinicalAttentionClassifier(**{**TINY, "max_epochs": 2}).fit(X, y)
    b = ClinicalAttentionClassifier(**TINY)
    b.partial_fit(X, y)
    b.partial_fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_subjects_carried_by_X_keep_every_skfusion_split_whole():
    from skfusion.evaluation import cross_val_diagnostics
    from skfusion.tuning import tune

    X, y, groups = subject_data()
    X = FusionInput(X.images, X.clinical, subjects=groups)
    assert (X[[0, 5]].subjects == groups[[0, 5]]).all()
    clf = ClinicalAttentionClassifier(**TINY, early_stopping=True, validation_fraction=0.25)
    clf.fit(X, y)  # no groups: X's subjects are used
    valid = clf.validation_indices_
    train = np.setdiff1d(np.arange(len(y)), valid)
    assert not set(groups[valid]) & set(groups[train])
    seen = []

    class Recorder(ClinicalAttentionClassifier):
        def fit(self, X, y, groups=None):
            seen.append(set(X.subjects))
            return super().fit(X, y, groups=groups)

    cross_val_diagnostics(Recorder(**TINY), X, y, cv=3, pos_label="AD", verbose=0)
    assert len(seen) == 3 and all(len(s) == 8 for s in seen)  # 12 subjects, whole folds
    study = tune(
        ClinicalAttentionClassifier(**TINY),
        X,
        y,
        cv=3,
        n_trials=1,
        verbose=0,
        space={"lr": __import__("optuna").distributions.FloatDistribution(1e-3, 1e-2, log=True)},
    )
    assert study.trials[0].state.name == "COMPLETE"


def test_repeated_subjects_without_ids_are_warned_about():
    X, y, groups = subject_data()
    with pytest.warns(UserWarning, match="share their clinical row.*subjects="):
        ClinicalAttentionClassifier(**TINY, early_stopping=True).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        # 2 epochs on purpose: the ConvergenceWarning (a UserWarning) is not what is tested.
        warnings.simplefilter("ignore", ConvergenceWarning)
        ClinicalAttentionClassifier(**TINY, early_stopping=True).fit(X, y, groups=groups)


def test_the_cohort_carries_its_subjects():
    from skfusion.datasets import make_brain_cohort

    cohort = make_brain_cohort(4, n_slices=2, image_size=32, random_state=0, unit="slice")
    assert (cohort.X.subjects == cohort.groups).all()
