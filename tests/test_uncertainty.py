"""Deep ensembles over seeds: averaged predictions and uncertainty per sample."""

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.utils.estimator_checks import check_param_validation

from skfusion import ClinicalAttentionClassifier
from skfusion.uncertainty import SeedEnsemble

from .conftest import TINY, make_data


def _data(seed=0, n=300):
    rng = np.random.RandomState(seed)
    x = rng.normal(size=(n, 2))
    return x, (x[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)


def test_members_differ_by_seed_and_the_mean_is_the_prediction():
    x, y = _data()
    ensemble = SeedEnsemble(
        SGDClassifier(loss="log_loss", max_iter=5, tol=None), n_members=4, random_state=0, verbose=0
    ).fit(x, y)
    assert len(set(ensemble.seeds_)) == 4
    members = np.stack([m.predict_proba(x) for m in ensemble.estimators_])
    assert not np.allclose(members[0], members[1])
    assert np.allclose(ensemble.predict_proba(x), members.mean(axis=0))
    assert (ensemble.predict(x) == ensemble.classes_[members.mean(0).argmax(1)]).all()
    again = SeedEnsemble(
        SGDClassifier(loss="log_loss", max_iter=5, tol=None), n_members=4, random_state=0, verbose=0
    ).fit(x, y)
    assert np.allclose(again.predict_proba(x), ensemble.predict_proba(x))


class _Fixed:
    """A fitted member that predicts given probabilities."""

    classes_ = np.array([0, 1])

    def __init__(self, proba):
        self.proba = np.asarray(proba, dtype=float)

    def predict_proba(self, X):
        return np.tile(self.proba, (len(X), 1))


def test_total_uncertainty_is_aleatoric_plus_epistemic():
    x, y = _data()
    ensemble = SeedEnsemble(
        SGDClassifier(loss="log_loss", max_iter=5, tol=None), n_members=5, random_state=0, verbose=0
    ).fit(x, y)
    measured = ensemble.predict_uncertainty(x[:50])
    assert np.allclose(measured["total"], measured["aleatoric"] + measured["epistemic"])
    assert (measured["epistemic"] >= 0).all() and (measured["total"] <= np.log(2) + 1e-9).all()
    h = -(0.9 * np.log(0.9) + 0.1 * np.log(0.1))
    ensemble.estimators_ = [_Fixed([0.9, 0.1]), _Fixed([0.1, 0.9])]  # members disagree
    split = ensemble.predict_uncertainty(x[:3])
    assert np.allclose(split["total"], np.log(2)) and np.allclose(split["aleatoric"], h)
    assert np.allclose(split["epistemic"], np.log(2) - h)
    ensemble.estimators_ = [_Fixed([0.9, 0.1]), _Fixed([0.9, 0.1])]  # members agree
    agree = ensemble.predict_uncertainty(x[:3])
    assert np.allclose(agree["epistemic"], 0) and np.allclose(agree["total"], h)


def test_a_regressor_ensemble_reports_its_spread():
    rng = np.random.RandomState(1)
    x = rng.normal(size=(200, 2))
    y = x[:, 0] + 0.1 * rng.normal(size=200)
    ensemble = SeedEnsemble(
        SGDRegressor(max_iter=5, tol=None), n_members=3, random_state=0, verbose=0
    ).fit(x, y)
    spread = ensemble.predict_uncertainty(x)
    assert np.allclose(spread["mean"], ensemble.predict(x))
    assert (spread["std"] > 0).all() and ensemble.score(x, y) > 0.8
    with pytest.raises(AttributeError, match="for classifier ensembles"):
        ensemble.predict_proba(x)


def test_a_fusion_estimator_on_fusion_input(capsys):
    X, y = make_data(n=24)
    ensemble = SeedEnsemble(ClinicalAttentionClassifier(**TINY), n_members=2, random_state=0).fit(
        X, y
    )
    assert "member 2/2" in capsys.readouterr().out
    assert ensemble.predict_proba(X[:4]).shape == (4, 2)
    assert ensemble.score(X, y) >= 0
    assert set(ensemble.predict_uncertainty(X[:4])) == {"total", "aleatoric", "epistemic"}


def test_bad_settings_are_refused():
    from sklearn.neighbors import KNeighborsClassifier

    x, y = _data()
    with pytest.raises(ValueError, match="has no random_state parameter"):
        SeedEnsemble(KNeighborsClassifier(), verbose=0).fit(x, y)
    check_param_validation("SeedEnsemble", SeedEnsemble(SGDClassifier()))
