"""Under-training is never silent: sklearn's ConvergenceWarning when a fit ends at max_epochs
with its loss still improving (sklearn's MLP rule: tol, n_iter_no_change)."""

import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning

from skfusion import ClinicalAttentionClassifier
from skfusion._net.callbacks import still_improving

from ...conftest import TINY, make_data


def fit_warnings(**settings):
    X, y = make_data(n=24)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = ClinicalAttentionClassifier(**{**TINY, **settings}).fit(X, y)
    return model, [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def test_a_fit_that_ends_while_improving_warns_where_the_user_called_it():
    _, caught = fit_warnings(max_epochs=3)
    assert len(caught) == 1
    assert "training ended at max_epochs=3 while the train loss was still improving" in str(
        caught[0].message
    )
    assert caught[0].filename == __file__


def test_a_converged_fit_and_early_stopping_do_not_warn():
    _, caught = fit_warnings(max_epochs=12, tol=10.0, n_iter_no_change=2)
    assert not caught
    model, caught = fit_warnings(
        max_epochs=30, early_stopping=True, n_iter_no_change=2, validation_fraction=0.25
    )
    assert model.n_epochs_ < 30 and not caught


def test_the_validation_loss_is_judged_with_early_stopping():
    model, caught = fit_warnings(
        max_epochs=2, early_stopping=True, validation_fraction=0.25, tol=0.0
    )
    losses = [row["valid_loss"] for row in model.net_.history]
    assert bool(caught) == still_improving(losses, 0.0, model.n_iter_no_change)
    if caught:
        assert "valid loss" in str(caught[0].message)


def test_partial_fit_never_warns():
    X, y = make_data(n=24)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ClinicalAttentionClassifier(**{**TINY, "max_epochs": 1}).partial_fit(
            X, y, classes=["AD", "NC"]
        )


@pytest.mark.parametrize(
    "losses, tol, patience, expected",
    [
        ([3, 2, 1, 0.5], 1e-4, 2, True),
        ([1, 1, 1, 1], 1e-4, 2, False),
        ([1, 0.99, 0.98, 0.97], 0.05, 3, False),
        ([1, 0.9], 1e-4, 10, True),
    ],
)
def test_the_mlp_rule(losses, tol, patience, expected):
    assert still_improving(losses, tol, patience) is expected
