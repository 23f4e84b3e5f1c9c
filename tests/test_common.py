"""sklearn's contract for every public skfusion estimator, found automatically.

sklearn's own common checks feed 2-D arrays to ``fit``; a fusion classifier needs
``(images, clinical)``. The checks that do not depend on the input type run here as sklearn
wrote them. Those that need fitting on sklearn's tabular data are listed in
``NOT_APPLICABLE`` with the reason, and re-tested below in our tuple-input form.
"""

import inspect
import pickle

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_param_validation,
    check_parameters_default_constructible,
    check_set_params,
)

import skfusion
from skfusion import FusionInput

from .conftest import TINY, TINY_NO_CLINICAL_DIM, make_data

ESTIMATORS = sorted(
    (
        obj
        for name in skfusion.__all__
        if inspect.isclass(obj := getattr(skfusion, name))
        and issubclass(obj, BaseEstimator)
    ),
    key=lambda cls: cls.__name__,
)
CLASSIFIERS = [cls for cls in ESTIMATORS if issubclass(cls, ClassifierMixin)]

#: Small settings per classifier; a new classifier must add its own here (the test says so).
SMALL_PARAMS = {
    "ClinicalAttentionClassifier": dict(TINY, mode="full"),
    "FeatureModulationClassifier": TINY_NO_CLINICAL_DIM,
    "GatedFusionClassifier": dict(TINY, n_heads=2, head_dim=8),
    "ReportFusionClassifier": dict(TINY, embedding_dim=8, hidden_size=8),
}

#: sklearn checks that cannot apply to (images, clinical) input, and why.
NOT_APPLICABLE = {
    "check_fit2d_1sample and other checks fitting sklearn's 2-D X": (
        "X must be (images, clinical); a 2-D array is refused with a TypeError that says so. "
        "The properties those checks guard are tested below in tuple form."
    ),
}

SKLEARN_CHECKS = [
    check_param_validation,
    check_no_attributes_set_in_init,
    check_get_params_invariance,
    check_set_params,
    check_parameters_default_constructible,
]


def test_every_classifier_has_small_settings():
    missing = [cls.__name__ for cls in CLASSIFIERS if cls.__name__ not in SMALL_PARAMS]
    assert not missing, f"add small test settings for {missing} to SMALL_PARAMS"
    assert CLASSIFIERS, "no classifier was discovered"


@pytest.mark.parametrize("check", SKLEARN_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_sklearn_checks(cls, check):
    estimator = cls(**SMALL_PARAMS.get(cls.__name__, {}))
    check(cls.__name__, estimator)


def small(cls, **params):
    return cls(**{**SMALL_PARAMS[cls.__name__], **params})


REPORTS = ["marked hippocampal atrophy", "no atrophy. sinuses clear", "mild volume loss",
           "normal hippocampi"]


@pytest.fixture(scope="module")
def tiny_data():
    X, y = make_data(n=20, size=16)
    return FusionInput(X.images, X.clinical, text=[REPORTS[i % 4] for i in range(20)]), y


def as_tuple(X):
    return (X.images, X.clinical, X.text)


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
class TestTupleForm:
    def test_fit_returns_self_and_keeps_params(self, cls, tiny_data):
        X, y = tiny_data
        estimator = small(cls, optimizer__weight_decay=1e-4)
        before = {k: (v if not isinstance(v, np.ndarray) else v.copy())
                  for k, v in estimator.get_params().items()}
        assert estimator.fit(X, y) is estimator
        after = estimator.get_params()
        assert before.keys() == after.keys()
        for key in before:
            assert after[key] is before[key] or after[key] == before[key], key

    def test_unfitted_predict_raises_not_fitted(self, cls, tiny_data):
        X, _ = tiny_data
        with pytest.raises(NotFittedError):
            small(cls).predict(X)

    def test_clone_is_unfitted_with_equal_params(self, cls, tiny_data):
        X, y = tiny_data
        fitted = small(cls, optimizer__weight_decay=1e-3).fit(X, y)
        cloned = clone(fitted)
        assert not hasattr(cloned, "net_")
        assert cloned.get_params()["optimizer__weight_decay"] == 1e-3
        assert set(cloned.get_params()) == set(fitted.get_params())

    def test_refit_with_same_random_state_is_identical(self, cls, tiny_data):
        X, y = tiny_data
        a = small(cls).fit(X, y).predict_proba(X)
        b = small(cls).fit(X, y).predict_proba(X)
        np.testing.assert_array_equal(a, b)
        c = small(cls, random_state=1).fit(X, y).predict_proba(X)
        assert not np.array_equal(a, c)

    def test_tuple_and_fusion_input_agree(self, cls, tiny_data):
        X, y = tiny_data
        from_tuple = small(cls).fit(as_tuple(X), y)
        from_input = small(cls).fit(X, y)
        np.testing.assert_array_equal(
            from_tuple.predict_proba(as_tuple(X)), from_input.predict_proba(X)
        )

    def test_pickle_round_trip(self, cls, tiny_data):
        X, y = tiny_data
        estimator = small(cls).fit(X, y)
        restored = pickle.loads(pickle.dumps(estimator))
        np.testing.assert_array_equal(restored.predict_proba(X), estimator.predict_proba(X))
        np.testing.assert_array_equal(restored.classes_, estimator.classes_)

    def test_predictions_are_consistent(self, cls, tiny_data):
        X, y = tiny_data
        estimator = small(cls).fit(X, y)
        proba = estimator.predict_proba(X)
        assert proba.shape == (len(y), 2) and proba.dtype == np.float64
        np.testing.assert_allclose(proba.sum(axis=1), 1)
        np.testing.assert_allclose(np.exp(estimator.predict_log_proba(X)), proba, rtol=1e-6)
        np.testing.assert_array_equal(
            estimator.predict(X), estimator.classes_[proba.argmax(axis=1)])
        decision = estimator.decision_function(X)
        assert decision.shape == (len(y),)
        np.testing.assert_array_equal(decision > 0, proba[:, 1] > 0.5)
        assert 0 <= estimator.score(X, y) <= 1
        assert is_classifier(estimator)

    def test_two_d_array_is_refused_with_a_fix(self, cls, tiny_data):
        _, y = tiny_data
        with pytest.raises(TypeError, match=r"FusionInput\(images, clinical_df\)"):
            small(cls).fit(np.zeros((20, 5)), y)
