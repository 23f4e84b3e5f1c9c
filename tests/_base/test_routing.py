"""Everything in skfusion that passes subject groups works with scikit-learn's metadata routing
on and off; scorers and reports never return a silent NaN."""

import warnings

import numpy as np
import optuna
import pytest
import sklearn
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.model_selection import GroupKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfusion import ClinicalAttentionClassifier, ClinicalTransformer
from skfusion.evaluation import cross_val_diagnostics
from skfusion.metrics import diagnostic_scorers
from skfusion.tuning import tune

from ..conftest import TINY
from .test_grouped_validation import subject_data

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(params=[False, True], ids=["routing off", "routing on"])
def routing(request):
    with sklearn.config_context(enable_metadata_routing=request.param):
        yield request.param


def pipeline():
    return make_pipeline(
        ClinicalTransformer(StandardScaler()),
        ClinicalAttentionClassifier(**TINY, early_stopping=True, validation_fraction=0.3),
    )


class _SeesGroups(ClinicalAttentionClassifier):
    """Records the groups its fit received."""

    seen = []

    def fit(self, X, y, groups=None):
        _SeesGroups.seen.append(None if groups is None else set(np.asarray(groups)))
        return super().fit(X, y, groups=groups)


@pytest.mark.parametrize("pruning", [True, False], ids=["pruning", "no pruning"])
def test_tune_passes_groups_with_routing_on_and_off(routing, pruning):
    X, y, groups = subject_data()
    _SeesGroups.seen.clear()
    model = make_pipeline(
        ClinicalTransformer(StandardScaler()),
        _SeesGroups(**TINY, early_stopping=True, validation_fraction=0.3),
    )
    study = tune(
        model,
        X,
        y,
        groups=groups,
        cv=3,
        n_trials=1,
        pruning=pruning,
        space={"_seesgroups__lr": optuna.distributions.FloatDistribution(1e-3, 1e-2, log=True)},
        verbose=0,
    )
    assert study.trials[0].state.name == "COMPLETE"
    assert len(_SeesGroups.seen) == 3 and all(seen is not None for seen in _SeesGroups.seen)
    assert all(len(seen) == 8 for seen in _SeesGroups.seen)  # 12 subjects, 2/3 per fold


@pytest.mark.slow
def test_cross_val_diagnostics_with_routing_on_and_off(routing):
    X, y, groups = subject_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        folds = cross_val_diagnostics(
            pipeline(), X, y, groups=groups, cv=3, pos_label="AD", verbose=0
        )
    assert len(folds) == 3


def test_a_split_where_the_model_predicts_one_class_warns(routing):
    X, y, groups = subject_data()

    class OneClass(ClinicalAttentionClassifier):
        def predict(self, X):
            return np.full(len(X), "NC")

    def model():
        return OneClass(**TINY).set_fit_request(groups=True) if routing else OneClass(**TINY)

    with pytest.warns(UndefinedMetricWarning, match="ppv is undefined.*nanmean"):
        scores = cross_validate(
            model(),
            X,
            y,
            cv=GroupKFold(2),
            scoring=diagnostic_scorers(pos_label="AD"),
            **({"params": {"groups": groups}} if routing else {"groups": groups}),
        )
    assert np.isnan(scores["test_ppv"]).all()
    with pytest.warns(UndefinedMetricWarning):
        zero = cross_validate(
            model(),
            X,
            y,
            cv=GroupKFold(2),
            scoring=diagnostic_scorers(pos_label="AD", zero_division=0),
            **({"params": {"groups": groups}} if routing else {"groups": groups}),
        )
    assert (zero["test_ppv"] == 0).all()


@pytest.mark.slow
def test_cross_val_diagnostics_names_the_fold_of_an_undefined_metric():
    X, y, groups = subject_data()

    class OneClass(ClinicalAttentionClassifier):
        def predict_proba(self, X):
            return np.tile([0.0, 1.0], (len(X), 1))

    with pytest.warns(UndefinedMetricWarning, match=r"fold \d: .*PPV is undefined"):
        folds = cross_val_diagnostics(
            OneClass(**TINY), X, y, groups=groups, cv=2, pos_label="AD", verbose=0
        )
    assert folds["PPV"].isna().all() and folds.count()["PPV"] == 0
