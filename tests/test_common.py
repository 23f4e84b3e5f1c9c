"""sklearn's contract for every public skfusion estimator, found automatically.

sklearn's own common checks feed 2-D arrays to ``fit``; a fusion estimator needs
``(images, clinical)``. The checks that do not depend on the input type run here as sklearn
wrote them. Those that need fitting on sklearn's tabular data are listed in
``NOT_APPLICABLE`` with the reason, and re-tested below in our tuple-input form.
"""

import inspect
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    clone,
    is_classifier,
    is_regressor,
)
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
        if inspect.isclass(obj := getattr(skfusion, name)) and issubclass(obj, BaseEstimator)
    ),
    key=lambda cls: cls.__name__,
)
CLASSIFIERS = [cls for cls in ESTIMATORS if issubclass(cls, ClassifierMixin)]
REGRESSORS = [cls for cls in ESTIMATORS if issubclass(cls, RegressorMixin)]
SURVIVAL = [cls for cls in ESTIMATORS if cls.__name__.endswith("Survival")]
FUSION_ESTIMATORS = CLASSIFIERS + REGRESSORS + SURVIVAL

#: Small settings per fusion family (every task of a family uses them); a new family must
#: add its own here (the test says so).
FAMILY_PARAMS = {
    "ClinicalAttention": dict(TINY, mode="full"),
    "FeatureModulation": TINY_NO_CLINICAL_DIM,
    "GatedFusion": dict(TINY, n_heads=2, head_dim=8),
    "ReportFusion": dict(TINY, embedding_dim=8, hidden_size=8),
}
TASKS = ("Classifier", "Regressor", "Survival")


def family_of(name):
    """``"GatedFusion"`` for ``"GatedFusionRegressor"``; None for a name without a task."""
    return next((name.removesuffix(task) for task in TASKS if name.endswith(task)), None)


#: A family may offer only some tasks: its estimators are found by name, each is tested.
SMALL_PARAMS = {
    cls.__name__: FAMILY_PARAMS[family_of(cls.__name__)]
    for cls in ESTIMATORS
    if family_of(cls.__name__) in FAMILY_PARAMS
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


def test_every_fusion_estimator_has_small_settings():
    missing = [cls.__name__ for cls in FUSION_ESTIMATORS if cls.__name__ not in SMALL_PARAMS]
    assert not missing, f"add small test settings for {missing}'s family to FAMILY_PARAMS"
    offered = {family_of(cls.__name__) for cls in FUSION_ESTIMATORS}
    assert set(FAMILY_PARAMS) <= offered, "FAMILY_PARAMS names a family that has no estimator"


def test_a_family_may_offer_only_some_tasks():
    """The discovery above takes each estimator by its name: a family with a classifier
    alone gets its settings and its checks, and asks for no regressor."""
    names = ["LateFusionClassifier", "GatedFusionRegressor", "ImageClinicalPretrainer"]
    assert [family_of(n) for n in names] == ["LateFusion", "GatedFusion", None]
    built_in = ("ClinicalAttention", "FeatureModulation", "GatedFusion", "ReportFusion")
    for family in built_in:  # the built-in families do offer all three
        for task in TASKS:
            assert hasattr(skfusion, family + task), f"{family} has no {task}"


@pytest.mark.parametrize("check", SKLEARN_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_sklearn_checks(cls, check):
    estimator = cls(**SMALL_PARAMS.get(cls.__name__, {}))
    check(cls.__name__, estimator)


def small(cls, **params):
    return cls(**{**SMALL_PARAMS[cls.__name__], **params})


REPORTS = [
    "marked hippocampal atrophy",
    "no atrophy. sinuses clear",
    "mild volume loss",
    "normal hippocampi",
]


@pytest.fixture(scope="module")
def tiny_inputs():
    X, y = make_data(n=20, size=16)
    return FusionInput(X.images, X.clinical, text=[REPORTS[i % 4] for i in range(20)]), y


def target_for(cls, y):
    """Labels for classifiers, a score for regressors, (event, time) for survival models,
    all following the classes of ``make_data``."""
    index = (np.asarray(y) == "AD").astype(float)
    if issubclass(cls, ClassifierMixin):
        return y
    rng = np.random.RandomState(1)
    if issubclass(cls, RegressorMixin):
        return 25 + 3 * index + rng.normal(scale=0.5, size=len(y))
    time = rng.exponential(np.where(index > 0, 1.0, 4.0))
    return skfusion.survival_target(rng.rand(len(y)) < 0.8, time)


def outputs(estimator, X):
    """What a task predicts, as numbers."""
    if is_classifier(estimator):
        return estimator.predict_proba(X)
    return estimator.predict(X)


@pytest.fixture
def tiny_data(tiny_inputs, cls):
    X, y = tiny_inputs
    return X, target_for(cls, y)


def as_tuple(X):
    return (X.images, X.clinical, X.text)


@pytest.mark.parametrize("cls", FUSION_ESTIMATORS, ids=lambda c: c.__name__)
class TestTupleForm:
    def test_fit_returns_self_and_keeps_params(self, cls, tiny_data):
        X, y = tiny_data
        estimator = small(cls, optimizer__weight_decay=1e-4)
        before = {
            k: (v if not isinstance(v, np.ndarray) else v.copy())
            for k, v in estimator.get_params().items()
        }
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
        a = outputs(small(cls).fit(X, y), X)
        b = outputs(small(cls).fit(X, y), X)
        np.testing.assert_array_equal(a, b)
        c = outputs(small(cls, random_state=1).fit(X, y), X)
        assert not np.array_equal(a, c)

    def test_tuple_and_fusion_input_agree(self, cls, tiny_data):
        X, y = tiny_data
        from_tuple = small(cls).fit(as_tuple(X), y)
        from_input = small(cls).fit(X, y)
        np.testing.assert_array_equal(outputs(from_tuple, as_tuple(X)), outputs(from_input, X))

    def test_pickle_round_trip(self, cls, tiny_data):
        X, y = tiny_data
        estimator = small(cls).fit(X, y)
        restored = pickle.loads(pickle.dumps(estimator))
        np.testing.assert_array_equal(outputs(restored, X), outputs(estimator, X))

    def test_two_d_array_is_refused_with_a_fix(self, cls, tiny_data):
        _, y = tiny_data
        with pytest.raises(TypeError, match=r"FusionInput\(images, clinical_df\)"):
            small(cls).fit(np.zeros((20, 5)), y)


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_classifier_predictions(cls, tiny_inputs):
    X, y = tiny_inputs
    estimator = small(cls).fit(X, y)
    proba = estimator.predict_proba(X)
    assert proba.shape == (len(y), 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_allclose(np.exp(estimator.predict_log_proba(X)), proba, rtol=1e-6)
    np.testing.assert_array_equal(estimator.predict(X), estimator.classes_[proba.argmax(axis=1)])
    decision = estimator.decision_function(X)
    assert decision.shape == (len(y),)
    np.testing.assert_array_equal(decision > 0, proba[:, 1] > 0.5)
    assert 0 <= estimator.score(X, y) <= 1
    assert is_classifier(estimator)


@pytest.mark.parametrize("calibration", [None, "temperature", "temperature_bias"])
@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_classes_are_the_argmax_of_the_calibrated_probabilities(cls, calibration, tiny_inputs):
    X, y = tiny_inputs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a 20-patient calibration split
        estimator = small(cls, calibration=calibration, validation_fraction=0.3).fit(X, y)
    np.testing.assert_array_equal(
        estimator.predict(X), estimator.classes_[estimator.predict_proba(X).argmax(1)]
    )
    if calibration == "temperature_bias":  # a bias that moves classes must move predict
        estimator.calibration_bias_ = np.array([0.0, 3.0])
        proba = estimator.predict_proba(X)
        np.testing.assert_array_equal(estimator.predict(X), estimator.classes_[proba.argmax(1)])
        assert (estimator.predict(X) == estimator.classes_[1]).mean() > 0.5


@pytest.mark.parametrize("cls", REGRESSORS, ids=lambda c: c.__name__)
def test_regressor_predictions(cls, tiny_inputs):
    X, labels = tiny_inputs
    y = target_for(cls, labels)
    estimator = small(cls).fit(X, y)
    predicted = estimator.predict(X)
    assert predicted.shape == (len(y),) and predicted.dtype == np.float64
    assert is_regressor(estimator) and np.isfinite(estimator.score(X, y))
    both = np.column_stack([y, -2 * y])
    multi = small(cls).fit(X, both)
    assert multi.predict(X).shape == (len(y), 2) and multi.n_outputs_ == 2


@pytest.mark.parametrize("cls", SURVIVAL, ids=lambda c: c.__name__)
def test_survival_predictions(cls, tiny_inputs):
    X, labels = tiny_inputs
    y = target_for(cls, labels)
    estimator = small(cls).fit(X, y)
    risk = estimator.predict(X)
    assert risk.shape == (len(y),) and np.isfinite(risk).all()
    assert 0 <= estimator.score(X, y) <= 1
    curves = estimator.predict_survival_function(X, return_array=True)
    assert curves.shape == (len(y), len(estimator.unique_times_))
    assert (np.diff(curves, axis=1) <= 1e-12).all() and (curves >= 0).all() and (curves <= 1).all()
    functions = estimator.predict_survival_function(X[:2])
    np.testing.assert_allclose(functions[0](estimator.unique_times_), curves[0])
    assert functions[0](-1.0) == 1.0
    assert not is_classifier(estimator) and not is_regressor(estimator)
